package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iommufd4j.kernel.LibC;

/**
 * {@link Iommufd} on the real kernel: a descriptor of {@code /dev/iommu} (or {@code /dev/vfio/vfio}
 * backed by iommufd) opened through FFM, every call one {@code ioctl(2)} with errno captured in the
 * same call (see {@link LibC}). The typed API is {@link IoctlIommufd}'s.
 *
 * <p>Closing takes a write lock that every ioctl holds for reading, so a call never reaches a
 * descriptor number that {@code close} released and another {@code open} reused.
 */
final class KernelIommufd extends IoctlIommufd {
  private final String path;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /** The descriptor, or -1 once closed; written under the write lock. */
  private int fd;

  private KernelIommufd(String path, int fd) {
    super("kernel");
    this.path = path;
    this.fd = fd;
  }

  /**
   * {@code open(path, O_RDWR | O_CLOEXEC)}.
   *
   * @throws IommufdException with the errno of {@code open} (ENOENT where the kernel has no
   *     iommufd, EACCES without permission on the device node)
   */
  static KernelIommufd open(String path) {
    int fd = LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
    if (fd < 0) {
      Errno errno = errnoOrEio(-fd);
      throw new IommufdException(
          errno, "open(\"" + path + "\") failed (errno " + -fd + ")" + hint(errno));
    }
    return new KernelIommufd(path, fd);
  }

  private static Errno errnoOrEio(int number) {
    try {
      return Errno.of(number);
    } catch (IllegalArgumentException e) {
      return Errno.EIO;
    }
  }

  private static String hint(Errno errno) {
    return switch (errno) {
      case ENOENT, ENODEV, ENXIO ->
          ": this kernel has no iommufd (CONFIG_IOMMUFD) or the device"
              + " node is missing; use Iommufd.emulated() instead";
      case EACCES, EPERM -> ": no permission on the device node (root or a udev rule needed)";
      default -> "";
    };
  }

  @Override
  int rawIoctl(long request, MemorySegment arg) {
    lock.readLock().lock();
    try {
      if (fd < 0) {
        return -Errno.EBADF.number();
      }
      return LibC.ioctl(fd, request, arg);
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
   * The real {@code close(2)} of {@code fd}: meant for descriptors the kernel handed out through an
   * ioctl of this context (a selftest access fd, a fault queue fd). The kernel cannot tell which
   * context an fd came from, so this trusts the caller, except that it refuses the iommufd's own
   * descriptor ({@code -EBADF}: use {@link #close()}).
   */
  @Override
  public int closeFd(int fd) {
    lock.readLock().lock();
    try {
      if (fd == this.fd) {
        return -Errno.EBADF.number();
      }
      return LibC.close(fd);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * The real {@code read(2)} of {@code fd} (a fault queue fd handed out by this context), into
   * {@code buffer}, which must be native. Refuses the iommufd's own descriptor ({@code -EBADF}).
   */
  @Override
  public long read(int fd, MemorySegment buffer) {
    lock.readLock().lock();
    try {
      return fd == this.fd ? -Errno.EBADF.number() : LibC.read(fd, buffer);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** The real {@code write(2)} of {@code buffer} (native) to {@code fd}; as {@link #read}. */
  @Override
  public long write(int fd, MemorySegment buffer) {
    lock.readLock().lock();
    try {
      return fd == this.fd ? -Errno.EBADF.number() : LibC.write(fd, buffer);
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
        LibC.close(fd); // close(2) releases the descriptor even when it reports an error
        fd = -1;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "Iommufd[kernel " + path + (isClosed() ? ", closed" : "") + "]";
  }
}
