package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.kernel.LibC;

/**
 * An eventfd of this process held by the emulated kernel (eventfd.c: eventfd_ctx_fdget()): a
 * duplicate of the program's descriptor, so the program may close its own at any time, as it may
 * with the kernel's reference. Signals are 8-byte writes of 1; a watch ({@link #onSignal}) is a
 * thread blocked in {@code poll(2)} on the descriptor and a private stop eventfd, so an idle watch
 * costs no CPU.
 *
 * <p>The duplicate shares the program's open file, and with it O_NONBLOCK: a signal polls for room
 * before it writes, so it never blocks (eventfd_signal() saturates instead of waiting; here a
 * counter a hair from overflow drops the signal). A watch reads the counter to zero each time it
 * wakes, as virqfd.c's wakeup does; a program that reads a watched blocking eventfd itself between
 * the poll and that read leaves the watch blocked until its next write (the kernel's reader would
 * lose that race the other way).
 */
final class ProcessEventFd implements EventFd {
  private static final String EVENTFD_LINK = "anon_inode:[eventfd]";
  private static final MemorySegment ONE = Arena.global().allocate(JAVA_LONG);
  private static final short POLLOUT = 0x4;
  private static final AtomicInteger WATCHES = new AtomicInteger();

  static {
    ONE.set(JAVA_LONG, 0, 1L);
  }

  private final int fd;

  /** Guarded by this: set by close(); the descriptor is closed once nobody uses it any more. */
  private boolean closed;

  /** The watch's stop eventfd, or -1. */
  private int stopFd = -1;

  private ProcessEventFd(int fd) {
    this.fd = fd;
  }

  /**
   * eventfd_ctx_fdget() of this process's descriptor {@code fd}.
   *
   * @throws ErrnoException EBADF when {@code fd} is not open, EINVAL when it is no eventfd
   */
  static ProcessEventFd of(int fd) {
    if (fd < 0) {
      throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
    }
    int dup = LibC.fcntl(fd, LibC.F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
      throw ErrnoException.of(Errno.of(-dup), "descriptor " + fd);
    }
    String what;
    try {
      what = Files.readSymbolicLink(Path.of("/proc/self/fd/" + dup)).toString();
    } catch (IOException e) {
      what = "unknown";
    }
    if (!what.equals(EVENTFD_LINK)) {
      LibC.close(dup);
      throw ErrnoException.of(Errno.EINVAL, "descriptor " + fd + " is " + what + ", no eventfd");
    }
    return new ProcessEventFd(dup);
  }

  @Override
  public synchronized void signal() {
    if (closed) {
      return;
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment pollfd = pollfd(arena, fd, POLLOUT);
      if (LibC.poll(pollfd, 1, 0) == 1 && (pollfd.get(JAVA_SHORT, 6) & POLLOUT) != 0) {
        LibC.write(fd, ONE, 8);
      }
    }
  }

  /**
   * Starts the watch: {@code action} runs on the watch's thread each time the program writes the
   * eventfd. One watch per reference (the kernel hooks one virqfd to each).
   */
  @Override
  public synchronized boolean onSignal(Runnable action) {
    if (closed || stopFd >= 0) {
      throw new IllegalStateException("closed or watched already");
    }
    int stop = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    if (stop < 0) {
      return false; // out of descriptors: the signals go unnoticed, as the interface allows
    }
    stopFd = stop;
    Thread.ofPlatform()
        .daemon()
        .name("iommufd4j-eventfd-watch-" + WATCHES.incrementAndGet())
        .start(() -> watch(stop, action));
    return true;
  }

  private void watch(int stop, Runnable action) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fds = arena.allocate(16, 4);
      MemorySegment counter = arena.allocate(JAVA_LONG);
      fds.set(JAVA_INT, 0, fd);
      fds.set(JAVA_SHORT, 4, LibC.POLLIN);
      fds.set(JAVA_INT, 8, stop);
      fds.set(JAVA_SHORT, 12, LibC.POLLIN);
      while (true) {
        int ready = LibC.poll(fds, 2, -1);
        if (ready < 0 && ready != -Errno.EINTR.number()) {
          break;
        }
        if (ready <= 0) {
          continue;
        }
        if (fds.get(JAVA_SHORT, 14) != 0 || isClosed()) {
          break;
        }
        short events = fds.get(JAVA_SHORT, 6);
        if ((events & LibC.POLLIN) != 0 && LibC.read(fd, counter, 8) == 8) {
          action.run();
        } else if (events != 0) {
          break; // POLLERR, POLLHUP or POLLNVAL: nothing more will come
        }
      }
    } finally {
      synchronized (this) {
        LibC.close(stop);
        stopFd = -2; // the watch is over; close() now closes the descriptor itself
        if (closed) {
          LibC.close(fd);
        }
      }
    }
  }

  private synchronized boolean isClosed() {
    return closed;
  }

  /**
   * eventfd_ctx_put(). A watch stops (an action already running finishes on its thread) and the
   * duplicate is closed by whichever of the two comes last.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (stopFd >= 0) {
      LibC.write(stopFd, ONE, 8); // the watch closes the descriptor as it leaves
    } else {
      LibC.close(fd);
    }
  }

  private static MemorySegment pollfd(Arena arena, int fd, short events) {
    MemorySegment p = arena.allocate(8, 4);
    p.set(JAVA_INT, 0, fd);
    p.set(JAVA_SHORT, 4, events);
    return p;
  }

  @Override
  public String toString() {
    return "eventfd(dup " + fd + ")";
  }
}
