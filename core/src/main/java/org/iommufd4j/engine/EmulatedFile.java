package org.iommufd4j.engine;

import org.iommufd4j.Errno;

/**
 * A file the emulated kernel hands out besides the iommufd itself: the access fd of the test op
 * CREATE_ACCESS (selftest.c: iommufd_test_create_access()) and the fault fd of FAULT_QUEUE_ALLOC
 * (fault.c: iommufd_fault_alloc()). The front end owns the descriptor; {@link #release()} runs when
 * its last reference is closed.
 */
public interface EmulatedFile {
  /** The last reference to the file was closed. Never fails. */
  void release();

  /** {@code read(2)} at file position 0 into caller memory; bytes read or {@code -errno}. */
  default long read(Caller caller, long buffer, long count) {
    return -Errno.EINVAL.number();
  }

  /** {@code write(2)} at file position 0 from caller memory; bytes written or {@code -errno}. */
  default long write(Caller caller, long buffer, long count) {
    return -Errno.EINVAL.number();
  }

  /**
   * For {@code poll}: whether a read would deliver something now (the fault fd: a fault group is
   * pending, fault.c: iommufd_fault_fops_poll()). Files that are always readable, or have no read,
   * answer false.
   */
  default boolean readable() {
    return false;
  }

  /** Runs {@code listener} each time the file may have become {@link #readable()}. */
  default void onReadable(Runnable listener) {}
}
