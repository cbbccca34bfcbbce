package org.iommufd4j;

import java.lang.foreign.MemorySegment;

/**
 * {@link Iommufd} over a descriptor of {@code /dev/iommu} (or {@code /dev/vfio/vfio} backed by
 * iommufd): on the real kernel ({@link Syscalls#KERNEL}, every call one {@code ioctl(2)} through
 * FFM with errno captured in the same call), or on an {@link EmulatedMachine}, whose VFIO devices
 * bind to it. The typed API is {@link IoctlIommufd}'s.
 */
final class DescriptorIommufd extends IoctlIommufd {
  private final Descriptor descriptor;

  private DescriptorIommufd(Descriptor descriptor) {
    super(descriptor.syscalls.name());
    this.descriptor = descriptor;
  }

  /**
   * {@code open(path, O_RDWR | O_CLOEXEC)}.
   *
   * @throws IommufdException with the errno of {@code open} (ENOENT where the kernel has no
   *     iommufd, EACCES without permission on the device node)
   */
  static DescriptorIommufd open(Syscalls syscalls, String path) {
    return new DescriptorIommufd(Descriptor.open(syscalls, path, "iommufd (CONFIG_IOMMUFD)"));
  }

  Descriptor descriptor() {
    return descriptor;
  }

  @Override
  int rawIoctl(long request, MemorySegment arg) {
    return (int) descriptor.raw(fd -> descriptor.syscalls.ioctl(fd, request, arg));
  }

  @Override
  boolean isClosed() {
    return descriptor.isClosed();
  }

  /**
   * {@code close(2)} of {@code fd}: meant for descriptors the kernel handed out through an ioctl of
   * this context (a selftest access fd, a fault queue fd). The kernel cannot tell which context an
   * fd came from, so this trusts the caller, except that it refuses the iommufd's own descriptor
   * ({@code -EBADF}: use {@link #close()}).
   */
  @Override
  public int closeFd(int fd) {
    return (int)
        descriptor.withFd(own -> fd == own ? -Errno.EBADF.number() : descriptor.syscalls.close(fd));
  }

  /**
   * {@code read(2)} of {@code fd} (a fault queue fd handed out by this context), into {@code
   * buffer}, which must be native. Refuses the iommufd's own descriptor ({@code -EBADF}).
   */
  @Override
  public long read(int fd, MemorySegment buffer) {
    return descriptor.withFd(
        own -> fd == own ? -Errno.EBADF.number() : descriptor.syscalls.read(fd, buffer));
  }

  /** {@code write(2)} of {@code buffer} (native) to {@code fd}; as {@link #read}. */
  @Override
  public long write(int fd, MemorySegment buffer) {
    return descriptor.withFd(
        own -> fd == own ? -Errno.EBADF.number() : descriptor.syscalls.write(fd, buffer));
  }

  /** {@code close(2)} of the descriptor; the kernel then tears the context down. Idempotent. */
  @Override
  public void close() {
    descriptor.close();
  }

  @Override
  public String toString() {
    return "Iommufd[" + descriptor + "]";
  }
}
