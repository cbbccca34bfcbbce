package org.iommufd4j.engine;

import java.util.List;
import org.iommufd4j.Errno;

/**
 * A file the emulated kernel hands out besides the iommufd itself: the access fd of the test op
 * CREATE_ACCESS (selftest.c: iommufd_test_create_access()), the fault fd of FAULT_QUEUE_ALLOC
 * (fault.c: iommufd_fault_alloc()), and the files of the emulated VFIO layer (a group, a device
 * cdev, a device fd from a group). The front end owns the descriptor; {@link #release()} runs when
 * its last reference is closed. Each call comes from one front door (the bridge's channel thread,
 * or the embedded API) on behalf of {@code caller}; addresses are in the caller's memory.
 */
public interface EmulatedFile {
  /** The last reference to the file was closed. Never fails. */
  void release();

  /** The PCI function (its BDF) a VFIO device file is of, for traces; null for other files. */
  default String device() {
    return null;
  }

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

  /**
   * {@code ioctl(2)} with {@code arg} an address in caller memory (or a plain value, as the request
   * defines); {@code files} resolves descriptor numbers the argument carries and installs new ones.
   * Returns the call's non-negative result or {@code -errno}.
   */
  default long ioctl(Caller caller, FileTable files, long request, long arg) {
    return -Errno.ENOTTY.number();
  }

  /** {@code pread(2)} at {@code offset}; bytes read or {@code -errno} (ESPIPE: not seekable). */
  default long pread(Caller caller, long buffer, long count, long offset) {
    return -Errno.ESPIPE.number();
  }

  /** {@code pwrite(2)} at {@code offset}; bytes written or {@code -errno}. */
  default long pwrite(Caller caller, long buffer, long count, long offset) {
    return -Errno.ESPIPE.number();
  }

  /**
   * Whether {@code mmap(2)} of {@code length} bytes at file {@code offset} with {@code prot} and
   * {@code flags} may proceed: 0, or {@code -errno} as the kernel's {@code mmap} file operation
   * answers (ENODEV: the file cannot be mapped). How the front door backs an allowed mapping (a
   * trap for registers, shared memory) is its business; what the device answers through it is
   * {@link #pread}/{@link #pwrite} at the same file offset.
   */
  default int mmap(long offset, long length, int prot, int flags) {
    return -Errno.ENODEV.number();
  }

  /**
   * Of a mapping {@link #mmap} allowed, the pages to map as shared memory rather than trap, in
   * order, within {@code [offset, offset + length)}: plain memory a device model keeps there, whose
   * loads and stores then cost nothing. The rest stays {@link #pread}/{@link #pwrite}.
   */
  default List<SharedRange> sharedRanges(long offset, long length) {
    return List.of();
  }
}
