package org.iommufd4j.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.iommufd4j.Errno;

/**
 * An IOAS (ioas.c): its {@link IoPagetable} behind a lock of its own, so that commands on different
 * IOASes never contend.
 */
public final class IoasObject extends IommufdObject {
  final IoPagetable iopt;

  /**
   * Paging HWPTs built on this IOAS, in creation order (device.c:
   * iommufd_device_auto_get_domain()); guarded by {@link #lock}.
   */
  final ArrayList<HwPagetable> hwpts = new ArrayList<>();

  final ReentrantLock lock = new ReentrantLock();

  /** Set under {@link #lock} once DESTROY or close took the IOAS out of the table. */
  private volatile boolean destroyed;

  IoasObject(Host host) {
    super(ObjectType.IOAS);
    this.iopt = new IoPagetable(host);
    iopt.accessNotifier = this::notifyAccessesUnlocked;
  }

  /**
   * Runs the attached accesses' unmap callbacks (device.c: iommufd_access_notify_unmap()) with this
   * IOAS unlocked, as the kernel drops its IOVA lock: the callbacks unpin through this IOAS,
   * possibly from other threads.
   */
  private void notifyAccessesUnlocked(long iova, long last) {
    List<Access> accesses = iopt.accesses();
    int holds = lock.getHoldCount();
    for (int i = 0; i < holds; i++) {
      lock.unlock();
    }
    try {
      for (Access a : accesses) {
        a.notifyUnmap(iova, last);
      }
    } finally {
      for (int i = 0; i < holds; i++) {
        lock.lock();
      }
    }
  }

  /** Whether DESTROY or close has taken this IOAS out of its context. */
  public boolean isDestroyed() {
    return destroyed;
  }

  /** Locks the IOAS for a command; ENOENT if it was destroyed since the lookup. */
  void lockLive() {
    lock.lock();
    if (destroyed) {
      lock.unlock();
      throw ErrnoException.of(Errno.ENOENT, "ioas " + id + " was destroyed");
    }
  }

  @Override
  void destroy() {
    lock.lock();
    try {
      destroyed = true;
      iopt.removeAll();
      iopt.clearRanges();
    } finally {
      lock.unlock();
    }
  }
}
