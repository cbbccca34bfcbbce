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
  /** The HWPT the device is attached to; guarded by the context's attach lock. */
  HwPagetable attached;

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

  /** Whether the mock driver accepts this device on {@code hwpt} (§6.3.1): EINVAL if not. */
  void checkCompatible(HwPagetable hwpt) {
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
      HwPagetable h = HwPagetable.create(ctx, ioas, new MockDomain(hugeIova(), false), true,
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
  HwPagetable replace(IommufdObject target) {
    HwPagetable[] created = {null};
    HwPagetable h = resolve(target, created);
    if (h == attached) {
      return h;
    }
    HwPagetable old = attached;
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
    HwPagetable old = attached;
    if (old != null) {
      attached = null;
      release(old);
    }
  }

  private void release(HwPagetable h) {
    ctx.table.removeUser(h);
    if (h.auto && ctx.table.removeIfUnused(h)) {
      h.destroy();
    }
  }

  @Override
  void destroy() {
    detach();
  }
}
