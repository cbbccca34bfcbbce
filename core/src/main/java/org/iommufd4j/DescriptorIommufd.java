package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * {@link Iommufd} over a descriptor of {@code /dev/iommu} (or {@code /dev/vfio/vfio} backed by
 * iommufd): on the real kernel ({@link Syscalls#KERNEL}, every call one {@code ioctl(2)} through
 * FFM with errno captured in the same call), or on an {@link EmulatedMachine}, whose VFIO devices
 * bind to it. The typed API is {@link IoctlIommufd}'s.
 *
 * <p>Closing takes a write lock that every call holds for reading, so a call never reaches a
 * descriptor number that {@code close} released and another {@code open} reused.
 */
final class DescriptorIommufd extends IoctlIommufd {
  private final Syscalls syscalls;
  private final String path;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /** The descriptor, or -1 once closed; written under the write lock. */
  private int fd;

  private DescriptorIommufd(Syscalls syscalls, String path, int fd) {
    super(syscalls.name());
    this.syscalls = syscalls;
    this.path = path;
    this.fd = fd;
  }

  /**
   * {@code open(path, O_RDWR | O_CLOEXEC)}.
   *
   * @throws IommufdException with the errno of {@code open} (ENOENT where the kernel has no
   *     iommufd, EACCES without permission on the device node)
   */
  static DescriptorIommufd open(Syscalls syscalls, String path) {
    int fd = syscalls.open(path);
    if (fd < 0) {
      Errno errno = Failures.errnoOrEio(-fd);
      throw new IommufdException(
          errno,
          "open(\"" + path + "\") failed (errno " + -fd + ")" + hint(syscalls, errno, "iommufd"));
    }
    return new DescriptorIommufd(syscalls, path, fd);
  }

  /** Why a device node of the real kernel would not open, and what to do instead. */
  static String hint(Syscalls syscalls, Errno errno, String feature) {
    if (syscalls != Syscalls.KERNEL) {
      return "";
    }
    return switch (errno) {
      case ENOENT, ENODEV, ENXIO ->
          ": this kernel has no "
              + feature
              + " or the device node is missing; use an emulated backend"
              + " (Iommufd.emulated(), EmulatedMachine) instead";
      case EACCES, EPERM -> ": no permission on the device node (root or a udev rule needed)";
      default -> "";
    };
  }

  Syscalls syscalls() {
    return syscalls;
  }

  /**
   * Runs {@code call} with the descriptor held open (the read lock): -1 once closed, which every
   * caller answers with EBADF.
   */
  <T> T withFd(java.util.function.IntFunction<T> call) {
    lock.readLock().lock();
    try {
      return call.apply(fd);
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  int rawIoctl(long request, MemorySegment arg) {
    lock.readLock().lock();
    try {
      if (fd < 0) {
        return -Errno.EBADF.number();
      }
      return syscalls.ioctl(fd, request, arg);
    } finally {
      lock.readLock().unlock();
    }
  }

  @Override
  boolean isClosed() {
    lock.readLock().lock();
    try {
      return fd < 0;
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * {@code close(2)} of {@code fd}: meant for descriptors the kernel handed out through an ioctl of
   * this context (a selftest access fd, a fault queue fd). The kernel cannot tell which context an
   * fd came from, so this trusts the caller, except that it refuses the iommufd's own descriptor
   * ({@code -EBADF}: use {@link #close()}).
   */
  @Override
  public int closeFd(int fd) {
    lock.readLock().lock();
    try {
      if (fd == this.fd) {
        return -Errno.EBADF.number();
      }
      return syscalls.close(fd);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * {@code read(2)} of {@code fd} (a fault queue fd handed out by this context), into {@code
   * buffer}, which must be native. Refuses the iommufd's own descriptor ({@code -EBADF}).
   */
  @Override
  public long read(int fd, MemorySegment buffer) {
    lock.readLock().lock();
    try {
      return fd == this.fd ? -Errno.EBADF.number() : syscalls.read(fd, buffer);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** {@code write(2)} of {@code buffer} (native) to {@code fd}; as {@link #read}. */
  @Override
  public long write(int fd, MemorySegment buffer) {
    lock.readLock().lock();
    try {
      return fd == this.fd ? -Errno.EBADF.number() : syscalls.write(fd, buffer);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** {@code close(2)} of the descriptor; the kernel then tears the context down. Idempotent. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (fd >= 0) {
        syscalls.close(fd); // close(2) releases the descriptor even when it reports an error
        fd = -1;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "Iommufd[" + syscalls.name() + " " + path + (isClosed() ? ", closed" : "") + "]";
  }
}
