package org.iommufd4j.inspect;

import static org.iommufd4j.inspect.Format.hex;

import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.Snapshot.AccessPin;
import org.iommufd4j.inspect.Snapshot.AccessState;
import org.iommufd4j.inspect.Snapshot.Account;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.BarState;
import org.iommufd4j.inspect.Snapshot.DeviceState;
import org.iommufd4j.inspect.Snapshot.DmaState;
import org.iommufd4j.inspect.Snapshot.FaultQueueState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.IrqState;
import org.iommufd4j.inspect.Snapshot.ObjectEntry;
import org.iommufd4j.inspect.Snapshot.PageSourceState;
import org.iommufd4j.inspect.Snapshot.Reserved;
import org.iommufd4j.inspect.Snapshot.VfioState;

/**
 * {@link Snapshot#toTable()}: one section per kind of thing, aligned columns, every field of the
 * snapshot shown (the fault sweep relies on equal text meaning equal state).
 */
final class TableRenderer {
  private static final String INDENT = "  ";
  private static final String AREA_INDENT = "    ";

  private final Snapshot s;
  private final StringBuilder out = new StringBuilder();

  private TableRenderer(Snapshot s) {
    this.s = s;
  }

  static String render(Snapshot s) {
    return new TableRenderer(s).render();
  }

  private String render() {
    out.append("iommufd context: ")
        .append(
            s.tornDown()
                ? "closed, torn down"
                : s.closed() ? "closed, still held (an access or fault fd is open)" : "open")
        .append(", ")
        .append(Format.count(s.objects().size(), "object"))
        .append('\n');
    objects();
    for (IoasState ioas : s.ioases()) {
      ioas(ioas);
    }
    hwpts();
    devices();
    vfioDevices();
    accesses();
    faultQueues();
    pageSources();
    host();
    return out.toString();
  }

  private void section(String title, Columns c) {
    out.append('\n').append(title).append('\n');
    if (c.isEmpty()) {
      out.append(INDENT).append("none\n");
    } else {
      c.appendTo(out);
    }
  }

  private void objects() {
    Columns c = new Columns(INDENT, new String[] {"id", "type", "users"}, true, false, true);
    for (ObjectEntry o : s.objects()) {
      c.row(o.id(), o.type(), o.users());
    }
    section("objects", c);
  }

  private void ioas(IoasState ioas) {
    out.append("\nIOAS ")
        .append(ioas.id())
        .append(": alignment ")
        .append(hex(ioas.alignment()))
        .append(", huge pages ")
        .append(ioas.hugePages() ? "on" : "off")
        .append(", domains ")
        .append(ids("hwpt ", ioas.domainHwptIds()))
        .append(", accesses ")
        .append(ids("access ", ioas.accessIds()))
        .append(", ")
        .append(Format.count(ioas.areas().size(), "area"))
        .append('\n');

    out.append(INDENT).append("allowed");
    if (ioas.allowed().isEmpty()) {
      out.append(": any IOVA (no ALLOW_IOVAS list)\n");
    } else {
      out.append('\n');
      Columns c = new Columns(AREA_INDENT, new String[] {"start", "last", "size"});
      for (IovaRange r : ioas.allowed()) {
        c.row(hex(r.start()), hex(r.last()), Format.size(r.start(), r.last()));
      }
      c.appendTo(out);
    }

    out.append(INDENT).append("reserved");
    if (ioas.reserved().isEmpty()) {
      out.append(": none\n");
    } else {
      out.append('\n');
      Columns c = new Columns(AREA_INDENT, new String[] {"start", "last", "size", "owner"});
      for (Reserved r : ioas.reserved()) {
        c.row(hex(r.start()), hex(r.last()), Format.size(r.start(), r.last()), r.ownerName());
      }
      c.appendTo(out);
    }

    out.append(INDENT).append("areas");
    if (ioas.areas().isEmpty()) {
      out.append(": none\n");
      return;
    }
    out.append('\n');
    Columns c =
        new Columns(
            AREA_INDENT,
            new String[] {
              "iova",
              "last",
              "size",
              "user address",
              "source",
              "offset",
              "prot",
              "pinned pages",
              "access pins",
              "state"
            },
            false,
            false,
            false,
            false,
            true,
            false,
            false,
            true,
            true,
            false);
    for (AreaState a : ioas.areas()) {
      c.row(
          hex(a.iova()),
          hex(a.last()),
          Format.size(a.iova(), a.last()),
          hex(a.userAddress()),
          "#" + a.pageSourceId(),
          hex(a.pageOffset()),
          a.protection(),
          a.pinnedPages(),
          a.accessPins(),
          state(a));
    }
    c.appendTo(out);
  }

  private static String state(AreaState a) {
    if (!a.populated()) {
      return a.preventAccess() ? "unpopulated, prevent-access" : "unpopulated";
    }
    return a.preventAccess() ? "prevent-access" : "ok";
  }

  private static String ids(String prefix, List<Integer> ids) {
    if (ids.isEmpty()) {
      return "none";
    }
    StringJoiner j = new StringJoiner(", ");
    ids.forEach(id -> j.add(prefix + id));
    return j.toString();
  }

  private static String idList(List<Integer> ids) {
    if (ids.isEmpty()) {
      return "-";
    }
    StringJoiner j = new StringJoiner(",");
    ids.forEach(id -> j.add(String.valueOf(id)));
    return j.toString();
  }

  private static String idOrDash(int id) {
    return id == 0 ? "-" : String.valueOf(id);
  }

  private void hwpts() {
    Columns c =
        new Columns(
            INDENT,
            new String[] {
              "id",
              "type",
              "auto",
              "ioas",
              "parent",
              "domain",
              "aperture",
              "page sizes",
              "entries",
              "dirty",
              "fault",
              "devices"
            },
            true,
            false,
            false,
            true,
            true,
            false,
            false,
            false,
            true,
            false,
            true,
            false);
    for (HwptState h : s.hwpts()) {
      String type =
          h.type() == Snapshot.ObjectType.HWPT_NESTED
              ? "nested"
              : h.nestParent() ? "paging, nest parent" : "paging";
      String dirty = !h.dirtyTrackingCapable() ? "-" : h.dirtyTracking() ? "tracking" : "off";
      c.row(
          h.id(),
          type,
          h.automatic() ? "yes" : "no",
          h.ioasId(),
          idOrDash(h.parentId()),
          h.domainModel(),
          Format.range(h.aperture()),
          Format.pageSizes(h.pageSizes()),
          h.ioPageTableEntries(),
          dirty,
          idOrDash(h.faultId()),
          idList(h.deviceIds()));
    }
    section("HWPTs", c);
  }

  private void devices() {
    Columns c =
        new Columns(
            INDENT,
            new String[] {
              "id",
              "hwpt",
              "model",
              "aperture",
              "page sizes",
              "reserved regions",
              "selftest",
              "flags"
            },
            true,
            true,
            false,
            false,
            false,
            false,
            true,
            false);
    for (DeviceState d : s.devices()) {
      StringJoiner regions = new StringJoiner(" ");
      d.reservedRegions().forEach(r -> regions.add(Format.range(r)));
      c.row(
          d.id(),
          idOrDash(d.hwptId()),
          d.model(),
          Format.range(d.aperture()),
          Format.pageSizes(d.pageSizes()),
          d.reservedRegions().isEmpty() ? "-" : regions,
          idOrDash(d.selftestId()),
          hex(d.flags()));
    }
    section("devices", c);
  }

  /** The PCI functions behind the devices VFIO bound: one row each, keyed by DEVICE id. */
  private void vfioDevices() {
    Columns c =
        new Columns(
            INDENT,
            new String[] {
              "device",
              "bdf",
              "ids",
              "group",
              "via",
              "hwpt",
              "bars",
              "irq",
              "vectors",
              "eventfds",
              "masked",
              "dma reads",
              "read bytes",
              "dma writes",
              "write bytes",
              "faults",
              "last fault",
              "summary"
            },
            true,
            false,
            false,
            true,
            false,
            true,
            false,
            false,
            true,
            true,
            false,
            true,
            true,
            true,
            true,
            true,
            false,
            false);
    for (DeviceState d : s.devices()) {
      VfioState v = d.vfio();
      if (v == null) {
        continue;
      }
      StringJoiner bars = new StringJoiner(", ");
      for (BarState b : v.bars()) {
        bars.add(
            b.index()
                + ": "
                + b.type().name().toLowerCase(Locale.ROOT)
                + (b.prefetchable() ? " pf " : " ")
                + hex(b.size()));
      }
      IrqState irqs = v.irqs();
      DmaState dma = v.dma();
      c.row(
          d.id(),
          v.bdf(),
          v.ids(),
          v.group(),
          v.openedVia().name().toLowerCase(Locale.ROOT),
          idOrDash(d.hwptId()),
          v.bars().isEmpty() ? "-" : bars,
          irqs.type() == Snapshot.IrqType.NONE ? "-" : irqs.type(),
          irqs.vectors(),
          irqs.eventfds(),
          irqs.masked() ? "yes" : "no",
          dma.reads(),
          dma.readBytes(),
          dma.writes(),
          dma.writeBytes(),
          dma.faults(),
          dma.faults() == 0 ? "-" : hex(dma.lastFaultIova()),
          v.summary().isEmpty() ? "-" : v.summary());
    }
    section("VFIO devices", c);
  }

  private void accesses() {
    Columns c =
        new Columns(
            INDENT, new String[] {"id", "ioas", "pins pages", "pins"}, true, true, false, false);
    for (AccessState a : s.accesses()) {
      StringJoiner pins = new StringJoiner(" ");
      for (AccessPin p : a.pins()) {
        pins.add("[" + hex(p.iova()) + " +" + hex(p.length()) + "]x" + p.uses());
      }
      c.row(
          a.id(),
          idOrDash(a.ioasId()),
          a.pinsPages() ? "yes" : "no",
          a.pins().isEmpty() ? "-" : pins);
    }
    section("accesses", c);
  }

  private void faultQueues() {
    Columns c =
        new Columns(
            INDENT, new String[] {"id", "fd", "pending", "awaiting"}, true, false, true, true);
    for (FaultQueueState f : s.faultQueues()) {
      c.row(f.id(), f.fdOpen() ? "open" : "closed", f.pending(), f.awaiting());
    }
    section("fault queues", c);
  }

  private void pageSources() {
    Columns c =
        new Columns(
            INDENT,
            new String[] {
              "source", "base", "pages", "writable", "pid", "uid", "accounting", "pinned pages"
            },
            true,
            false,
            true,
            false,
            true,
            true,
            false,
            true);
    for (PageSourceState p : s.pageSources()) {
      c.row(
          "#" + p.id(),
          hex(p.base()),
          p.pageCount(),
          p.writable() ? "yes" : "no",
          p.ownerPid(),
          p.ownerUid(),
          p.accounting(),
          p.pinnedPages());
    }
    section("page sources", c);
  }

  private void host() {
    out.append("\nhost (every context on this emulated machine): ")
        .append(s.host().pinnedFrames())
        .append(" frame pins, ")
        .append(s.host().chargedPages())
        .append(" pages charged\n");
    Columns c = new Columns(INDENT, new String[] {"account", "id", "pages"}, false, true, true);
    for (Account a : s.host().accounts()) {
      c.row(a.kind() == Snapshot.AccountKind.USER ? "user" : "process", a.id(), a.pages());
    }
    if (!c.isEmpty()) {
      c.appendTo(out);
    }
  }
}
