package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.iommufd4j.kernel.LibC;

/**
 * An {@code eventfd(2)} of this process, nonblocking: what {@link VfioDevice#setIrqs} wires to a
 * device's interrupts, on either backend (an {@link EmulatedMachine} signals the same descriptor
 * the kernel would). Thread safe; closing waits for calls in progress, so none reaches a descriptor
 * number that another {@code open} reused.
 *
 * {@snippet :
 * try (EventFd msi = EventFd.create()) {
 *   device.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, msi);
 *   long interrupts = msi.await(Duration.ofSeconds(1)); // 0: none came
 * }
 * }
 */
public final class EventFd implements AutoCloseable {
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /** The descriptor, or -1 once closed; written under the write lock. */
  private int fd;

  private EventFd(int fd) {
    this.fd = fd;
  }

  /**
   * {@code eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)}.
   *
   * @throws IommufdException EMFILE-like failures as {@code eventfd(2)} reports them
   */
  public static EventFd create() {
    int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    Failures.check(fd, "eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)");
    return new EventFd(fd);
  }

  /**
   * The descriptor number, for raw calls ({@link EmulatedMachine#ioctl}, a C library).
   *
   * @throws IllegalStateException once closed
   */
  public int fd() {
    lock.readLock().lock();
    try {
      return checkOpen();
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * Reads and resets the counter without waiting.
   *
   * @return the signals since the last read, 0 if none
   */
  public long poll() {
    lock.readLock().lock();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment counter = arena.allocate(JAVA_LONG);
      long n = LibC.read(checkOpen(), counter);
      if (n == -Errno.EAGAIN.number()) {
        return 0;
      }
      Failures.check(n, "read(eventfd)");
      return counter.get(JAVA_LONG, 0);
    } finally {
      lock.readLock().unlock();
    }
  }

  /**
   * Waits up to {@code timeout} for a signal ({@code poll(2)}), then reads and resets the counter.
   *
   * @return the signals since the last read, 0 if none came in time
   */
  public long await(Duration timeout) {
    long nanos = timeout.isNegative() ? 0 : saturatedNanos(timeout);
    long start = System.nanoTime();
    while (true) {
      long n = poll();
      long left = nanos - (System.nanoTime() - start);
      if (n != 0 || left <= 0) {
        return n;
      }
      waitReadable((int) Math.min(Integer.MAX_VALUE, Math.max(1, left / 1_000_000)));
    }
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private void waitReadable(int millis) {
    lock.readLock().lock();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pollfd = arena.allocate(8, 4);
      pollfd.set(JAVA_INT, 0, checkOpen());
      pollfd.set(JAVA_SHORT, 4, LibC.POLLIN);
      int rc = LibC.poll(pollfd, 1, millis);
      if (rc != -Errno.EINTR.number()) {
        Failures.check(rc, "poll(eventfd)");
      }
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Adds 1 to the counter, as a device's interrupt would (an INTx unmask eventfd, a test). */
  public void signal() {
    lock.readLock().lock();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment one = arena.allocate(JAVA_LONG);
      one.set(JAVA_LONG, 0, 1L);
      Failures.check(LibC.write(checkOpen(), one), "write(eventfd)");
    } finally {
      lock.readLock().unlock();
    }
  }

  private int checkOpen() {
    if (fd < 0) {
      throw new IllegalStateException("eventfd is closed");
    }
    return fd;
  }

  /** {@code close(2)}; a device that was given the eventfd keeps its own reference. Idempotent. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (fd >= 0) {
        LibC.close(fd);
        fd = -1;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "EventFd[" + (fd < 0 ? "closed" : fd) + "]";
  }
}
