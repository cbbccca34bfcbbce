package org.iommufd4j;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * One open descriptor of a {@link Syscalls} backend, shared by the typed API's handles ({@link
 * DescriptorIommufd}, {@link VfioDevice}, {@link VfioGroup}): calls hold a read lock and {@link
 * #close()} the write lock, so no call reaches a number that {@code close} released and another
 * {@code open} reused; once closed, a call is EBADF without reaching the backend.
 */
final class Descriptor {
  /** A system call on the descriptor: its result or {@code -errno}. */
  interface Call {
    long on(int fd);
  }

  final Syscalls syscalls;
  final String path;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /** The descriptor, or -1 once closed; written under the write lock. */
  private int fd;

  /** Adopts {@code fd}, an open descriptor of {@code syscalls} (named {@code path} in messages). */
  Descriptor(Syscalls syscalls, String path, int fd) {
    this.syscalls = syscalls;
    this.path = path;
    this.fd = fd;
  }

  /**
   * {@code open(path, O_RDWR | O_CLOEXEC)}.
   *
   * @param feature what the real kernel lacks when the node is missing, for the message
   * @throws IommufdException with the errno of {@code open}
   */
  static Descriptor open(Syscalls syscalls, String path, String feature) {
    int fd = syscalls.open(path);
    if (fd < 0) {
      Errno errno = Failures.errnoOrEio(-fd);
      throw new IommufdException(
          errno,
          "open(\"" + path + "\") failed (errno " + -fd + ")" + hint(syscalls, errno, feature));
    }
    return new Descriptor(syscalls, path, fd);
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

  /** Runs {@code call} with the descriptor, or -1 once closed, held open meanwhile. */
  long withFd(Call call) {
    lock.readLock().lock();
    try {
      return call.on(fd);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Runs {@code call} on the open descriptor (EBADF once closed): its result or {@code -errno}. */
  long raw(Call call) {
    return withFd(fd -> fd < 0 ? -Errno.EBADF.number() : call.on(fd));
  }

  /** As {@link #raw}, the failure thrown as the errno, the message naming {@code what}. */
  long call(Call call, String what) {
    return Failures.check(raw(call), what);
  }

  boolean isClosed() {
    return withFd(fd -> fd) < 0;
  }

  /** {@code close(2)}, which releases the descriptor even when it reports an error. Idempotent. */
  void close() {
    lock.writeLock().lock();
    try {
      if (fd >= 0) {
        syscalls.close(fd);
        fd = -1;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return syscalls.name() + " " + path + (isClosed() ? ", closed" : "");
  }
}
