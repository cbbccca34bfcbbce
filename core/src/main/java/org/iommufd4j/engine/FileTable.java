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

  /**
   * The iommufd context that descriptor {@code fd} of the caller is (an open {@code /dev/iommu}, or
   * a {@code /dev/vfio/vfio} container that iommufd's compatibility serves), or null when it is an
   * open descriptor of something else (the caller reports EBADFD, as iommufd_ctx_from_file() does).
   *
   * @throws ErrnoException EBADF when {@code fd} is no open descriptor (fdget() fails)
   */
  default Context context(int fd) {
    throw ErrnoException.of(org.iommufd4j.Errno.EBADF, "no descriptor " + fd);
  }

  /**
   * The eventfd that descriptor {@code fd} of the caller is, held until {@link EventFd#close()}
   * (eventfd.c: eventfd_ctx_fdget()).
   *
   * @throws ErrnoException EBADF when {@code fd} is no open descriptor, EINVAL when it is not an
   *     eventfd
   */
  default EventFd eventfd(int fd) {
    throw ErrnoException.of(org.iommufd4j.Errno.EBADF, "no descriptor " + fd);
  }
}
