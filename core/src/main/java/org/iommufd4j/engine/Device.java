package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;

/**
 * A bound device (spec §2.3 DEVICE): the mock devices of the test ABI. The binding driver holds a
 * reference, so user DESTROY of it is always EBUSY; attaching it to an HWPT adds a reference to
 * that HWPT.
 */
final class Device extends IommufdObject {
  static final int MOCK_FLAGS_DEVICE_NO_DIRTY = 1;
  static final int MOCK_FLAGS_DEVICE_HUGE_IOVA = 1 << 1;

  final Context ctx;
  final int flags;
  /** The IOMMU hardware in front of the device. */
  final DomainSpec spec;
  /** Bound by the typed API (not by the test ABI): unbound when the context closes. */
  boolean boundByApi;
  /** The HWPT the device is attached to; guarded by the context's attach lock. */
  HwPagetable attached;

  Device(Context ctx, int flags) {
    this(ctx, flags, DomainSpec.SELFTEST_MOCK);
  }

  Device(Context ctx, int flags, DomainSpec spec) {
    super(ObjectType.DEVICE);
    this.ctx = ctx;
    this.flags = flags;
    this.spec = spec;
    this.users = 2; // the table's and the binding driver's
  }

  boolean hugeIova() {
    return (flags & MOCK_FLAGS_DEVICE_HUGE_IOVA) != 0;
  }

  boolean dirtyCapable() {
    return (flags & MOCK_FLAGS_DEVICE_NO_DIRTY) == 0;
  }

  /** Whether the mock driver accepts this device on {@code hwpt} (§6.3.1): EINVAL if not. */
  void checkCompatible(HwPagetable hwpt) {
    if (!hwpt.domain.spec.equals(spec)) {
      throw ErrnoException.of(EINVAL, "domain of other IOMMU hardware");
    }
    if (!dirtyCapable() && hwpt.domain instanceof MockDomain m && m.dirtyCapable) {
      throw ErrnoException.of(EINVAL, "device without dirty tracking on a dirty-tracking domain");
    }
  }

  /**
   * The HWPT that attaching to {@code target} uses (§2.7): for an IOAS the first automatic HWPT
   * that accepts the device, else a new automatic one (reserved, built, not yet published: {@code
   * created[0]} is set); for a paging HWPT that one; any other type EINVAL.
   */
  private HwPagetable resolve(IommufdObject target, HwPagetable[] created) {
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
      HwPagetable h = HwPagetable.create(ctx, ioas, spec.newDomain(hugeIova(), false), true,
          false);
      created[0] = h;
      return h;
    }
    if (target instanceof HwPagetable h) {
      checkCompatible(h);
      return h;
    }
    throw ErrnoException.of(EINVAL, "cannot attach a device to a " + target.type);
  }

  /** Attaches the unattached device to {@code target} (any type, looked up by the caller). */
  HwPagetable attach(IommufdObject target) {
    HwPagetable[] created = {null};
    HwPagetable h = resolve(target, created);
    reserveRegions(h, created[0]);
    attached = h;
    ctx.table.addUser(h);
    if (created[0] != null) {
      ctx.table.publish(h);
    }
    return h;
  }

  /**
   * Reserves the device's reserved regions in the HWPT's IOAS (§4.7): EADDRINUSE on conflict,
   * and then a freshly created automatic HWPT is dropped again.
   */
  private void reserveRegions(HwPagetable h, HwPagetable created) {
    if (spec.reservedRegions().isEmpty() || (attached != null && attached.ioas == h.ioas)) {
      return;
    }
    h.ioas.lock.lock();
    try {
      for (var r : spec.reservedRegions()) {
        h.ioas.iopt.reserve(r.start(), r.last(), this);
      }
    } catch (ErrnoException e) {
      h.ioas.iopt.reserved.removeOwner(this);
      h.ioas.lock.unlock();
      if (created != null) {
        ctx.table.abort(created);
        created.destroy();
      }
      throw e;
    }
    h.ioas.lock.unlock();
  }

  private void dropRegions(HwPagetable h) {
    if (spec.reservedRegions().isEmpty()) {
      return;
    }
    h.ioas.lock.lock();
    try {
      h.ioas.iopt.reserved.removeOwner(this);
    } finally {
      h.ioas.lock.unlock();
    }
  }

  /**
   * Moves the device to {@code target} (MOCK_DOMAIN_REPLACE, §6.4.10); returns the HWPT now
   * attached. The previous automatic HWPT goes when unused; a new one is dropped if refused.
   */
  HwPagetable replace(IommufdObject target) {
    HwPagetable[] created = {null};
    HwPagetable h = resolve(target, created);
    if (h == attached) {
      return h;
    }
    HwPagetable old = attached;
    reserveRegions(h, created[0]);
    attached = h;
    ctx.table.addUser(h);
    if (created[0] != null) {
      ctx.table.publish(h);
    }
    if (old != null) {
      if (old.ioas != h.ioas) {
        dropRegions(old);
      }
      release(old);
    }
    return h;
  }

  void detach() {
    HwPagetable old = attached;
    if (old != null) {
      attached = null;
      dropRegions(old);
      release(old);
    }
  }

  private void release(HwPagetable h) {
    ctx.table.removeUser(h);
    if (h.auto && ctx.table.removeIfUnused(h)) {
      h.destroy();
    }
  }

  /**
   * DMA by the emulated device: copies between {@code buffer} and the memory its IOVAs translate
   * to, page by page through the attached domain, as the IOMMU would check each access.
   * Bytes before a fault have been transferred, as with real DMA.
   */
  void dma(long iova, java.lang.foreign.MemorySegment buffer, boolean write) {
    HwPagetable h = attached;
    if (h == null) {
      throw new DmaFault(org.iommufd4j.IommuFaultException.Reason.NOT_ATTACHED, iova);
    }
    h.ioas.lock.lock();
    try {
      Domain d = h.domain;
      long step = d.minPageSize();
      long n = buffer.byteSize();
      long done = 0;
      while (done < n) {
        long at = iova + done;
        long pa = d.translate(at);
        if (pa == -1) {
          throw new DmaFault(org.iommufd4j.IommuFaultException.Reason.NOT_MAPPED, at);
        }
        int need = write ? Domain.PROT_WRITE : Domain.PROT_READ;
        if ((d.protection(at) & need) == 0) {
          throw new DmaFault(write ? org.iommufd4j.IommuFaultException.Reason.WRITE_DENIED : org.iommufd4j.IommuFaultException.Reason.READ_DENIED,
              at);
        }
        long chunk = Math.min(n - done, step - (at & (step - 1)));
        var memory = ctx.host.memoryOf(pa);
        var slice = buffer.asSlice(done, chunk);
        long va = Host.virtualAddress(pa);
        boolean ok = memory != null && (write ? memory.write(va, slice) : memory.read(va, slice));
        if (!ok) {
          throw new DmaFault(org.iommufd4j.IommuFaultException.Reason.MEMORY_GONE, at);
        }
        done += chunk;
      }
    } finally {
      h.ioas.lock.unlock();
    }
  }

  /** The user address {@code iova} reaches through the attached domain, or -1. */
  long translate(long iova) {
    HwPagetable h = attached;
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
