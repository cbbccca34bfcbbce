package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import org.iommufd4j.kernel.LibC;

/**
 * An {@code eventfd(2)} of this process, nonblocking: what {@link VfioDevice#setIrqs} wires to a
 * device's interrupts, on either backend (an {@link EmulatedMachine} signals the same descriptor
 * the kernel would). Thread safe; closing waits for calls in progress, so none reaches a descriptor
 * number that another {@code open} reused; after it every call throws {@link
 * IllegalStateException}.
 *
 * {@snippet :
 * try (EventFd msi = EventFd.create()) {
 *   device.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, msi);
 *   long interrupts = msi.await(Duration.ofSeconds(1)); // 0: none came
 * }
 * }
 */
public final class EventFd implements AutoCloseable {
  private final Descriptor descriptor;

  private EventFd(Descriptor descriptor) {
    this.descriptor = descriptor;
  }

  /**
   * {@code eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)}.
   *
   * @throws IommufdException with the errno of {@code eventfd(2)} (EMFILE, ENOMEM)
   */
  public static EventFd create() {
    int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    Failures.check(fd, "eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)");
    return new EventFd(new Descriptor(Syscalls.KERNEL, "eventfd", fd));
  }

  /**
   * The descriptor number, for raw calls ({@link EmulatedMachine#ioctl}, a C library).
   *
   * @throws IllegalStateException once closed
   */
  public int fd() {
    return (int) descriptor.withFd(EventFd::open);
  }

  /**
   * Reads and resets the counter without waiting.
   *
   * @return the signals since the last read, 0 if none
   * @throws IllegalStateException once closed
   */
  public long poll() {
    return descriptor.withFd(
        fd -> {
          try (Arena arena = Arena.ofConfined()) {
            MemorySegment counter = arena.allocate(JAVA_LONG);
            long n = LibC.read(open(fd), counter);
            if (n == -Errno.EAGAIN.number()) {
              return 0;
            }
            Failures.check(n, "read(eventfd)");
            return counter.get(JAVA_LONG, 0);
          }
        });
  }

  /**
   * Waits up to {@code timeout} for a signal ({@code poll(2)}), then reads and resets the counter.
   *
   * @return the signals since the last read, 0 if none came in time
   * @throws IllegalStateException once closed
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
    descriptor.withFd(
        fd -> {
          try (Arena arena = Arena.ofConfined()) {
            MemorySegment pollfd = arena.allocate(8, 4);
            pollfd.set(JAVA_INT, 0, open(fd));
            pollfd.set(JAVA_SHORT, 4, LibC.POLLIN);
            int rc = LibC.poll(pollfd, 1, millis);
            return rc == -Errno.EINTR.number() ? 0 : Failures.check(rc, "poll(eventfd)");
          }
        });
  }

  /**
   * Adds 1 to the counter, as a device's interrupt would (an INTx unmask eventfd, a test).
   *
   * @throws IllegalStateException once closed
   */
  public void signal() {
    descriptor.withFd(
        fd -> {
          try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocate(JAVA_LONG);
            one.set(JAVA_LONG, 0, 1L);
            return Failures.check(LibC.write(open(fd), one), "write(eventfd)");
          }
        });
  }

  private static int open(long fd) {
    if (fd < 0) {
      throw new IllegalStateException("eventfd is closed");
    }
    return (int) fd;
  }

  /** {@code close(2)}; a device that was given the eventfd keeps its own reference. Idempotent. */
  @Override
  public void close() {
    descriptor.close();
  }

  @Override
  public String toString() {
    return "EventFd[" + descriptor + "]";
  }
}
