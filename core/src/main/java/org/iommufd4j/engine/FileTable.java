package org.iommufd4j.engine;

/**
 * Where a context's extra files get their descriptor numbers: the embedded emulator numbers them
 * itself ({@link VirtualFileTable}); the bridge gives the calling process a real descriptor.
 * Creation follows the kernel's order (selftest.c: iommufd_test_create_access(); fault.c:
 * iommufd_fault_alloc()): reserve a number, respond, then install (or unreserve if the respond
 * faulted).
 */
public interface FileTable {
  /** Reserves a descriptor number; ErrnoException (ENOMEM, EMFILE) when none can be had. */
  int reserve();

  /** Drops a reservation that was never installed. */
  void unreserve(int fd);

  /** Makes {@code fd} name {@code file}. */
  void install(int fd, EmulatedFile file);

  /** The file {@code fd} names, or null (the caller reports EBADFD or EBADF). */
  EmulatedFile get(int fd);
}
