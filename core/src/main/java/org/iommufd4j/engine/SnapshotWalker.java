package org.iommufd4j.engine;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.inspect.Snapshot.AccessPin;
import org.iommufd4j.inspect.Snapshot.AccessState;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.DeviceState;
import org.iommufd4j.inspect.Snapshot.FaultQueueState;
import org.iommufd4j.inspect.Snapshot.HostState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.ObjectEntry;
import org.iommufd4j.inspect.Snapshot.OwnerKind;
import org.iommufd4j.inspect.Snapshot.PageSourceState;
import org.iommufd4j.inspect.Snapshot.Reserved;
import org.iommufd4j.inspect.Snapshot.VfioState;

/**
 * Reads a {@link Context} into a {@link Snapshot}: the one walk over the engine's state that {@code
 * inspect} and {@link Context#describe()} share.
 *
 * <p>Locks, in the engine's order: the attach lock for the whole walk (devices and their HWPTs hold
 * still), the object table briefly for the object list and reference counts, then each IOAS in
 * turn, never two at once. Under an IOAS's lock it reads the IOAS, the paging HWPTs on it (domain
 * contents) and the access pins in it, so each IOAS is seen consistently. Page sources, fault
 * queues and the host are read through their own monitors, which come later in the order.
 */
final class SnapshotWalker {
  private final Context ctx;

  /** Page sources by identity, numbered from 1 in order of first appearance. */
  private final Map<PageSource, PageSourceState> sources = new IdentityHashMap<>();

  private final List<PageSourceState> sourceList = new ArrayList<>();

  /** Paging HWPTs read under their IOAS's lock. */
  private final Map<HwPagetable, HwptState> pagingStates = new IdentityHashMap<>();

  private final Map<Access, Integer> accessIoas = new IdentityHashMap<>();
  private final Map<Access, List<AccessPin>> accessPins = new IdentityHashMap<>();

  private SnapshotWalker(Context ctx) {
    this.ctx = ctx;
  }

  /**
   * What VFIO shows of its devices, asked after the walk: VFIO's locks come before the engine's.
   */
  private final Map<Integer, Supplier<VfioState>> vfioOf = new HashMap<>();

  static Snapshot take(Context ctx) {
    SnapshotWalker walker = new SnapshotWalker(ctx);
    Snapshot s;
    ctx.attachLock.lock();
    try {
      s = walker.walk();
    } finally {
      ctx.attachLock.unlock();
    }
    return walker.vfioOf.isEmpty() ? s : walker.withVfio(s);
  }

  /** {@code s} with its VFIO devices' functions filled in. */
  private Snapshot withVfio(Snapshot s) {
    List<DeviceState> devices = new ArrayList<>(s.devices().size());
    for (DeviceState d : s.devices()) {
      Supplier<VfioState> vfio = vfioOf.get(d.id());
      devices.add(
          vfio == null
              ? d
              : new DeviceState(
                  d.id(),
                  d.hwptId(),
                  d.model(),
                  d.aperture(),
                  d.pageSizes(),
                  d.reservedRegions(),
                  d.selftestId(),
                  d.flags(),
                  vfio.get()));
    }
    return new Snapshot(
        s.closed(),
        s.tornDown(),
        s.objects(),
        s.ioases(),
        s.hwpts(),
        devices,
        s.accesses(),
        s.faultQueues(),
        s.pageSources(),
        s.host());
  }

  private Snapshot walk() {
    List<IommufdObject> all = ctx.table.snapshot();
    List<ObjectEntry> objects = new ArrayList<>(all.size());
    synchronized (ctx.table) { // users is guarded by the table's lock
      for (IommufdObject o : all) {
        objects.add(new ObjectEntry(o.id, Snapshot.ObjectType.valueOf(o.type.name()), o.users));
      }
    }
    // Devices first (the attach lock keeps them still), so HWPTs can list theirs.
    Map<HwptObject, List<Integer>> devicesOf = new IdentityHashMap<>();
    List<DeviceState> devices = new ArrayList<>();
    for (IommufdObject o : all) {
      if (o instanceof Device d) {
        devices.add(device(d, all));
        if (d.vfio != null) {
          vfioOf.put(d.id, d.vfio);
        }
        if (d.attached != null) {
          devicesOf.computeIfAbsent(d.attached, k -> new ArrayList<>()).add(d.id);
        }
      }
    }
    List<IoasState> ioases = new ArrayList<>();
    for (IommufdObject o : all) {
      if (o instanceof IoasObject ioas) {
        ioases.add(ioas(ioas, devicesOf));
      }
    }
    List<HwptState> hwpts = new ArrayList<>();
    List<AccessState> accesses = new ArrayList<>();
    List<FaultQueueState> faults = new ArrayList<>();
    for (IommufdObject o : all) {
      switch (o) {
        case HwPagetable h ->
            hwpts.add(pagingStates.computeIfAbsent(h, k -> pagingLocked(k, devicesOf)));
        case NestedHwPagetable n -> hwpts.add(nested(n, devicesOf));
        case Access a ->
            accesses.add(
                new AccessState(
                    a.id,
                    accessIoas.getOrDefault(a, 0),
                    a.needsPinPages(),
                    accessPins.getOrDefault(a, List.of())));
        case FaultObject f ->
            faults.add(new FaultQueueState(f.id, f.fileOpen, f.pendingCount(), f.awaitingCount()));
        default -> {}
      }
    }
    Host host = ctx.host;
    HostState hostState = new HostState(host.totalPins(), host.totalCharged(), host.accounts());
    return new Snapshot(
        ctx.isClosed(),
        ctx.isTornDown(),
        objects,
        ioases,
        hwpts,
        devices,
        accesses,
        faults,
        sourceList,
        hostState);
  }

  // ---- IOAS -------------------------------------------------------------------------------------

  private IoasState ioas(IoasObject ioas, Map<HwptObject, List<Integer>> devicesOf) {
    ioas.lock.lock();
    try {
      IoPagetable iopt = ioas.iopt;
      Map<Domain, HwPagetable> hwptOf = new IdentityHashMap<>();
      for (HwPagetable h : ioas.hwpts) {
        hwptOf.put(h.domain, h);
        pagingStates.put(h, paging(h, devicesOf));
      }
      List<Integer> domainHwpts = new ArrayList<>();
      for (Domain d : iopt.domains) {
        HwPagetable h = hwptOf.get(d);
        domainHwpts.add(h == null ? 0 : h.id);
      }
      List<Reserved> reserved = new ArrayList<>();
      for (ReservedRanges.Range r : iopt.reserved.ranges()) {
        reserved.add(reserved(r, hwptOf));
      }
      List<AreaState> areas = new ArrayList<>(iopt.areas.size());
      for (Area a : iopt.areas) {
        areas.add(area(a));
      }
      List<Integer> accessIds = new ArrayList<>();
      for (Access a : iopt.accesses()) {
        accessIds.add(a.id);
        accessIoas.put(a, ioas.id);
        accessPins.put(a, pins(a, iopt));
      }
      return new IoasState(
          ioas.id,
          iopt.align(),
          iopt.hugePages(),
          iopt.allowedRanges(),
          reserved,
          areas,
          domainHwpts,
          accessIds);
    } finally {
      ioas.lock.unlock();
    }
  }

  private static Reserved reserved(ReservedRanges.Range r, Map<Domain, HwPagetable> hwptOf) {
    Object owner = r.owner();
    if (owner == ReservedRanges.TEST_OWNER) {
      return new Reserved(r.start(), r.last(), OwnerKind.TEST, 0);
    }
    if (owner instanceof Device d) {
      return new Reserved(r.start(), r.last(), OwnerKind.DEVICE, d.id);
    }
    HwPagetable h = hwptOf.get(owner);
    return new Reserved(r.start(), r.last(), OwnerKind.DOMAIN, h == null ? 0 : h.id);
  }

  private AreaState area(Area a) {
    PageSource p = a.pagesForReading();
    PageSourceState source = sources.get(p);
    if (source == null) {
      source =
          new PageSourceState(
              sourceList.size() + 1,
              p.base,
              p.pageCount,
              p.writable,
              p.owner.pid(),
              p.owner.uid(),
              Snapshot.Accounting.valueOf(p.accounting.name()),
              p.pinnedPages(0, p.pageCount - 1));
      sources.put(p, source);
      sourceList.add(source);
    }
    long firstPage = a.pagesOffset() >>> PageSource.PAGE_SHIFT;
    long lastPage = (a.pagesOffset() + a.length() - 1) >>> PageSource.PAGE_SHIFT;
    return new AreaState(
        a.iova,
        a.last,
        a.userAddress(),
        source.id(),
        a.pagesOffset(),
        (a.prot() & Area.PROT_READ) != 0,
        (a.prot() & Area.PROT_WRITE) != 0,
        a.isPopulated(),
        a.isPreventAccess(),
        p.pinnedPages(firstPage, lastPage),
        a.accessCount);
  }

  private static List<AccessPin> pins(Access a, IoPagetable iopt) {
    TreeMap<Long, List<AccessPin>> byIova = new TreeMap<>(Long::compareUnsigned);
    a.pinsIn(iopt)
        .forEach(
            (r, uses) ->
                byIova
                    .computeIfAbsent(r.iova(), k -> new ArrayList<>())
                    .add(new AccessPin(r.iova(), r.length(), uses)));
    List<AccessPin> out = new ArrayList<>();
    for (List<AccessPin> same : byIova.values()) {
      same.sort((x, y) -> Long.compareUnsigned(x.length(), y.length()));
      out.addAll(same);
    }
    return out;
  }

  // ---- HWPTs and devices ------------------------------------------------------------------------

  /** A paging HWPT not seen under its IOAS's lock (its IOAS is not published): lock it now. */
  private HwptState pagingLocked(HwPagetable h, Map<HwptObject, List<Integer>> devicesOf) {
    h.ioas.lock.lock();
    try {
      return paging(h, devicesOf);
    } finally {
      h.ioas.lock.unlock();
    }
  }

  private static HwptState paging(HwPagetable h, Map<HwptObject, List<Integer>> devicesOf) {
    Domain d = h.domain;
    return new HwptState(
        h.id,
        Snapshot.ObjectType.HWPT_PAGING,
        h.auto,
        h.nestParent,
        h.ioas.id,
        0,
        model(d.spec),
        new IovaRange(d.apertureStart, d.apertureLast),
        d.pageSizes,
        d.entryCount(),
        d.supportsDirtyTracking(),
        d.isDirtyTracking(),
        faultId(h),
        devicesOf.getOrDefault(h, List.of()));
  }

  private static HwptState nested(NestedHwPagetable n, Map<HwptObject, List<Integer>> devicesOf) {
    return new HwptState(
        n.id,
        Snapshot.ObjectType.HWPT_NESTED,
        false,
        false,
        n.parent.ioas.id,
        n.parent.id,
        "selftest-mock-nested",
        null,
        0,
        0,
        false,
        false,
        faultId(n),
        devicesOf.getOrDefault(n, List.of()));
  }

  private static int faultId(HwptObject h) {
    FaultObject f = h.fault;
    return f == null ? 0 : f.id;
  }

  private static DeviceState device(Device d, List<IommufdObject> all) {
    int selftestId = 0;
    for (IommufdObject o : all) {
      if (o instanceof MockDeviceObject m && m.device == d) {
        selftestId = m.id;
      }
    }
    DomainSpec s = d.spec;
    return new DeviceState(
        d.id,
        d.attached == null ? 0 : d.attached.id,
        model(s),
        new IovaRange(s.apertureStart(), s.apertureLast()),
        s.pageSizes(),
        s.reservedRegions(),
        selftestId,
        d.flags,
        null);
  }

  private static String model(DomainSpec spec) {
    return switch (spec.format()) {
      case SELFTEST_MOCK -> "selftest-mock";
      case RADIX -> "radix";
    };
  }
}
