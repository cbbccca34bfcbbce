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
  /** A later kernel's PASID-capable mock device (only with the §6.7 compatibility extension). */
  static final int MOCK_FLAGS_DEVICE_PASID = 1 << 2;
  /** {@code MOCK_PASID_WIDTH} of later kernels (§6.7). */
  static final int MOCK_PASID_WIDTH = 20;

  final Context ctx;
  final int flags;
  /** The HWPT the device is attached to; guarded by the context's attach lock. */
  Hwpt attached;

  Device(Context ctx, int flags) {
    super(ObjectType.DEVICE);
    this.ctx = ctx;
    this.flags = flags;
    this.users = 2; // the table's and the binding driver's
  }

  boolean hugeIova() {
    return (flags & MOCK_FLAGS_DEVICE_HUGE_IOVA) != 0;
  }

  boolean dirtyCapable() {
    return (flags & MOCK_FLAGS_DEVICE_NO_DIRTY) == 0;
  }

  /** log2 of the PASID count GET_HW_INFO reports: 0 in 6.12, 20 for a §6.7 PASID device. */
  int maxPasidLog2() {
    return (flags & MOCK_FLAGS_DEVICE_PASID) != 0 ? MOCK_PASID_WIDTH : 0;
  }

  /**
   * Whether the mock driver accepts this device on {@code hwpt} (§6.3.1): EINVAL for a paging
   * domain with dirty tracking when the device has none; a nested domain has no dirty tracking.
   */
  void checkCompatible(Hwpt hwpt) {
    if (!dirtyCapable() && hwpt instanceof HwPagetable p && p.domain.supportsDirtyTracking()) {
      throw ErrnoException.of(EINVAL, "device without dirty tracking on a dirty-tracking domain");
    }
  }

  /**
   * The HWPT that attaching to {@code target} uses (§2.7): for an IOAS the first automatic HWPT
   * that accepts the device, else a new automatic one (reserved, built, not yet published: {@code
   * created[0]} is set); for a paging or nested HWPT that one; any other type EINVAL.
   */
  private Hwpt resolve(IommufdObject target, HwPagetable[] created) {
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
      HwPagetable h = HwPagetable.create(ctx, ioas, new MockDomain(hugeIova(), false), true,
          false);
      created[0] = h;
      return h;
    }
    if (target instanceof Hwpt h) {
      checkCompatible(h);
      return h;
    }
    throw ErrnoException.of(EINVAL, "cannot attach a device to a " + target.type);
  }

  /** Attaches the unattached device to {@code target} (any type, looked up by the caller). */
  Hwpt attach(IommufdObject target) {
    HwPagetable[] created = {null};
    Hwpt h = resolve(target, created);
    attached = h;
    ctx.table.addUser(h);
    if (created[0] != null) {
      ctx.table.publish(h);
    }
    return h;
  }

  /**
   * Moves the device to {@code target} (MOCK_DOMAIN_REPLACE, §6.4.10); returns the HWPT now
   * attached. The previous automatic HWPT goes when unused; a new one is dropped if refused.
   */
  Hwpt replace(IommufdObject target) {
    HwPagetable[] created = {null};
    Hwpt h = resolve(target, created);
    if (h == attached) {
      return h;
    }
    Hwpt old = attached;
    attached = h;
    ctx.table.addUser(h);
    if (created[0] != null) {
      ctx.table.publish(h);
    }
    if (old != null) {
      release(old);
    }
    return h;
  }

  void detach() {
    Hwpt old = attached;
    if (old != null) {
      attached = null;
      release(old);
    }
  }

  private void release(Hwpt h) {
    if (h.fault != null) {
      h.fault.abandon(this); // §7.6: its faults are answered INVALID when it leaves
    }
    ctx.table.removeUser(h);
    if (h instanceof HwPagetable p && p.auto && ctx.table.removeIfUnused(p)) {
      p.destroy();
    }
  }

  @Override
  void destroy() {
    detach();
  }
}
