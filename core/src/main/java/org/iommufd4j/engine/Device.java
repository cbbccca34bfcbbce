package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_DEVICE_PASID;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_PASID_WIDTH;

import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;
import org.iommufd4j.IommuFaultException;
import org.iommufd4j.IommuFaultException.Reason;
import org.iommufd4j.inspect.Snapshot;

/**
 * A bound device (device.c: iommufd_device_bind()): the mock devices of the test ABI, the typed
 * API's devices and the devices VFIO binds. The binding driver holds a reference, so user DESTROY
 * of it is always EBUSY; attaching it to an HWPT adds a reference to that HWPT.
 */
final class Device extends IommufdObject {
  private final ObjectTable table;
  private final Host host;
  final int flags;

  /** The IOMMU hardware in front of the device. */
  final DomainSpec spec;

  /** Bound by the typed API (not by the test ABI): unbound when the context closes. */
  boolean boundByApi;

  /**
   * What GET_HW_INFO reports for a device bound by VFIO (intel-iommu's registers), or null. Such a
   * device holds a reference to the context's file until it is unbound (device.c:
   * iommufd_device_bind() takes one with iommufd_ctx_get()).
   */
  final HwInfoReport.VtdData hwData;

  /**
   * What {@code inspect} shows of the PCI function behind a device VFIO bound, or null. Called
   * without any of the engine's locks: VFIO takes its own, then the engine's.
   */
  final Supplier<Snapshot.VfioState> vfio;

  /** The HWPT the device is attached to; guarded by the context's attach lock. */
  HwptObject attached;

  Device(ObjectTable table, Host host, int flags, DomainSpec spec) {
    this(table, host, flags, spec, null, null);
  }

  Device(
      ObjectTable table,
      Host host,
      int flags,
      DomainSpec spec,
      HwInfoReport.VtdData hwData,
      Supplier<Snapshot.VfioState> vfio) {
    super(ObjectType.DEVICE);
    this.table = table;
    this.host = host;
    this.flags = flags;
    this.spec = spec;
    this.hwData = hwData;
    this.vfio = vfio;
    this.users = 2; // the table's and the binding driver's
  }

  boolean hugeIova() {
    return (flags & MOCK_FLAGS_DEVICE_HUGE_IOVA) != 0;
  }

  /** Whether the device sits behind the selftest mock driver (selftest.c: mock_ops). */
  boolean isMock() {
    return spec.format() == DomainSpec.Format.SELFTEST_MOCK;
  }

  /**
   * Dirty-tracking capability (selftest.c: mock_dev_create()): mock devices unless NO_DIRTY; the
   * radix model has none.
   */
  boolean dirtyCapable() {
    return isMock() && (flags & MOCK_FLAGS_DEVICE_NO_DIRTY) == 0;
  }

  /**
   * log2 of the PASID count GET_HW_INFO reports: 0 in 6.12, 20 for a PASID device of
   * selftestCompat.
   */
  int maxPasidLog2() {
    return (flags & MOCK_FLAGS_DEVICE_PASID) != 0 ? MOCK_PASID_WIDTH : 0;
  }

  /**
   * Whether the driver accepts this device on {@code hwpt} (selftest.c: mock_domain_nop_attach()):
   * EINVAL for a domain of other hardware, and for a paging domain with dirty tracking when the
   * device has none (a nested domain has no dirty tracking).
   */
  void checkCompatible(HwptObject hwpt) {
    if (!hwpt.paging().domain.spec.equals(spec)) {
      throw ErrnoException.of(EINVAL, "domain of other IOMMU hardware");
    }
    if (!dirtyCapable() && hwpt instanceof HwPagetable p && p.domain.supportsDirtyTracking()) {
      throw ErrnoException.of(EINVAL, "device without dirty tracking on a dirty-tracking domain");
    }
  }

  /**
   * The HWPT that attaching to {@code target} uses (device.c: iommufd_device_auto_get_domain()):
   * for an IOAS the first automatic HWPT that accepts the device, else a new automatic one
   * (reserved, built, not yet published: {@code created[0]} is set); for a paging or nested HWPT
   * that one; any other type EINVAL.
   */
  private HwptObject resolve(IommufdObject target, HwPagetable[] created) {
    if (target instanceof IoasObject ioas) {
      ioas.lockLive();
      try {
        for (HwPagetable h : ioas.hwpts) {
          if (!h.auto) {
            continue;
          }
          try {
            checkCompatible(h);
            return h;
          } catch (ErrnoException e) {
            if (e.errno() != EINVAL) {
              throw e;
            }
          }
        }
      } finally {
        ioas.lock.unlock();
      }
      HwPagetable h =
          HwPagetable.create(table, ioas, spec.newDomain(hugeIova(), false), true, false);
      created[0] = h;
      return h;
    }
    if (target instanceof HwptObject h) {
      checkCompatible(h);
      return h;
    }
    throw ErrnoException.of(EINVAL, "cannot attach a device to a " + target.type);
  }

  /** Attaches the unattached device to {@code target} (any type, looked up by the caller). */
  HwptObject attach(IommufdObject target) {
    HwPagetable[] created = {null};
    HwptObject h = resolve(target, created);
    reserveRegions(h, created[0]);
    attached = h;
    table.addUser(h);
    if (created[0] != null) {
      table.publish(h);
    }
    return h;
  }

  /**
   * Reserves the device's reserved regions in the HWPT's IOAS (device.c:
   * iommufd_device_attach_reserved_iova(); a nested HWPT's parent's): EADDRINUSE on conflict, and
   * then a freshly created automatic HWPT is dropped again.
   */
  private void reserveRegions(HwptObject hwpt, HwPagetable created) {
    IoasObject ioas = hwpt.paging().ioas;
    boolean sameIoas = attached != null && attached.paging().ioas == ioas;
    ioas.lock.lock();
    try {
      if (!sameIoas) {
        FaultInjection.check(FaultInjection.Site.RESERVED_REGIONS);
      }
      if (spec.reservedRegions().isEmpty() || sameIoas) {
        ioas.lock.unlock();
        return;
      }
      for (var r : spec.reservedRegions()) {
        ioas.iopt.reserve(r.start(), r.last(), this);
      }
    } catch (ErrnoException e) {
      ioas.iopt.reserved.removeOwner(this);
      ioas.lock.unlock();
      if (created != null) {
        table.abort(created);
        created.destroy();
      }
      throw e;
    }
    ioas.lock.unlock();
  }

  private void dropRegions(HwptObject hwpt) {
    if (spec.reservedRegions().isEmpty()) {
      return;
    }
    IoasObject ioas = hwpt.paging().ioas;
    ioas.lock.lock();
    try {
      ioas.iopt.reserved.removeOwner(this);
    } finally {
      ioas.lock.unlock();
    }
  }

  /**
   * Moves the device to {@code target} (MOCK_DOMAIN_REPLACE, selftest.c:
   * iommufd_test_mock_domain_replace()); returns the HWPT now attached. The previous automatic HWPT
   * goes when unused; a new one is dropped if refused.
   */
  HwptObject replace(IommufdObject target) {
    HwPagetable[] created = {null};
    HwptObject h = resolve(target, created);
    if (h == attached) {
      return h;
    }
    HwptObject old = attached;
    reserveRegions(h, created[0]);
    attached = h;
    table.addUser(h);
    if (created[0] != null) {
      table.publish(h);
    }
    if (old != null) {
      if (old.paging().ioas != h.paging().ioas) {
        dropRegions(old);
      }
      release(old);
    }
    return h;
  }

  void detach() {
    HwptObject old = attached;
    if (old != null) {
      attached = null;
      dropRegions(old);
      release(old);
    }
  }

  private void release(HwptObject h) {
    if (h.fault != null) {
      // Its faults are answered INVALID when it leaves (fault.c: iommufd_auto_response_faults())
      h.fault.abandon(this);
    }
    table.removeUser(h);
    if (h instanceof HwPagetable p && p.auto && table.removeIfUnused(p)) {
      p.destroy();
    }
  }

  /**
   * DMA by the emulated device: copies between {@code buffer} and the memory its IOVAs translate
   * to, checked page by page through the attached domain as the IOMMU would check each access, and
   * moved in one transfer per run of pages contiguous in one address space. Bytes before a fault
   * have been transferred, as with real DMA (within a run: those the memory moved). Through a
   * nested HWPT the parent's (stage-2) domain translates: the mock nested domain has no table of
   * its own.
   */
  void dma(long iova, MemorySegment buffer, boolean write) {
    HwPagetable h = attached == null ? null : attached.paging();
    if (h == null) {
      throw new IommuFaultException(Reason.NOT_ATTACHED, iova);
    }
    h.ioas.lock.lock();
    try {
      Domain d = h.domain;
      long step = d.minPageSize();
      long n = buffer.byteSize();
      long done = 0;
      boolean runs = true; // off once a run failed: page by page, to find the page that faults
      while (done < n) {
        long at = iova + done;
        long pa = d.translate(at);
        if (pa == -1) {
          throw new IommuFaultException(Reason.NOT_MAPPED, at);
        }
        int need = write ? Domain.PROT_WRITE : Domain.PROT_READ;
        if ((d.protection(at) & need) == 0) {
          throw new IommuFaultException(write ? Reason.WRITE_DENIED : Reason.READ_DENIED, at);
        }
        long page = Math.min(n - done, step - (at & (step - 1)));
        long chunk = page;
        // pages that follow each other in the same memory with the same rights: one transfer
        while (runs
            && done + chunk < n
            && d.translate(at + chunk) == pa + chunk
            && (d.protection(at + chunk) & need) != 0) {
          chunk = Math.min(n - done, chunk + step);
        }
        var memory = host.memoryOf(pa);
        var slice = buffer.asSlice(done, chunk);
        long va = Host.virtualAddress(pa);
        boolean ok = memory != null && (write ? memory.write(va, slice) : memory.read(va, slice));
        if (!ok && chunk > page) {
          runs = false;
          continue;
        }
        if (!ok) {
          throw new IommuFaultException(Reason.MEMORY_GONE, at);
        }
        if (write) {
          d.deviceWrote(at, chunk);
        }
        done += chunk;
      }
    } finally {
      h.ioas.lock.unlock();
    }
  }

  /** The user address {@code iova} reaches through the attached domain, or -1. */
  long translate(long iova) {
    HwPagetable h = attached == null ? null : attached.paging();
    if (h == null) {
      return -1;
    }
    h.ioas.lock.lock();
    try {
      long pa = h.domain.translate(iova);
      return pa == -1 ? -1 : Host.virtualAddress(pa);
    } finally {
      h.ioas.lock.unlock();
    }
  }

  @Override
  void destroy() {
    detach();
  }
}
