package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.trace.MemoryLog;

/**
 * Descriptors in the calling process for the files the engine creates (access fds, fault fds, VFIO
 * device fds from a group): each is the client end of a new socketpair, installed in the caller by
 * a CB_NEW_FD callback at its lowest free number, as the kernel's get_unused_fd would. A descriptor
 * number given to the engine (an access fd in a test op, an iommufd to bind to) is resolved by
 * asking the caller for that very descriptor (CB_GET_FD) and recognising its socket, so dup'd and
 * passed descriptors work. An eventfd is taken over as a duplicate (CB_DUP_FD), which the server
 * then signals itself.
 */
final class BridgeFileTable implements FileTable {
  private static final long IOMMU_FAULT_QUEUE_ALLOC = 0x3b8e;
  private static final long VFIO_GROUP_GET_DEVICE_FD = 0x3b6a;

  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");
  private static final short POLLIN = 0x1;
  private static final short POLLOUT = 0x4;
  private static final int EINTR = 4;

  private final BridgeServer server;

  /** The eventfds taken over so far: their numbers in recorded traces. */
  private final AtomicLong eventfds = new AtomicLong();

  BridgeFileTable(BridgeServer server) {
    this.server = server;
  }

  private static Call call() {
    Call c = Call.current();
    if (c == null) {
      throw new IllegalStateException("descriptor operation outside a client call");
    }
    return c;
  }

  @Override
  public int reserve() {
    Call c = call();
    // All are close-on-exec (selftest.c: iommufd_test_create_access(); fault.c:
    // iommufd_fault_alloc(); vfio/group.c: vfio_group_ioctl_get_device_fd()).
    long request = c.request & 0xffff_ffffL;
    int kind =
        request == IOMMU_FAULT_QUEUE_ALLOC
            ? Wire.KIND_FAULT
            : request == VFIO_GROUP_GET_DEVICE_FD ? Wire.KIND_VFIO_DEVICE : Wire.KIND_ACCESS;
    ServerFile f = server.newFile(kind, null);
    int fd = c.channel.installFd(f, Wire.FD_CLOEXEC);
    if (fd < 0) {
      server.discard(f);
      throw new IllegalStateException("the client could not take a descriptor: errno " + -fd);
    }
    c.reserve(fd, f);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.fd(fd, f.number);
    }
    return fd;
  }

  @Override
  public void unreserve(int fd) {
    Call c = call();
    ServerFile f = c.unreserve(fd);
    if (f != null) {
      c.channel.closeClientFd(fd);
    }
  }

  @Override
  public void install(int fd, EmulatedFile file) {
    Call c = call();
    ServerFile f = c.unreserve(fd);
    if (f == null) {
      throw new IllegalStateException("install of fd " + fd + " that was not reserved");
    }
    f.install(file);
    if (f.kind == Wire.KIND_FAULT) {
      file.onReadable(f::signal); // poll on the fault fd: readable when a group is pending
    }
  }

  @Override
  public EmulatedFile get(int fd) {
    Call c = Call.current();
    if (c == null) {
      return null;
    }
    ServerFile pending = c.reservation(fd);
    if (pending != null) {
      return null;
    }
    ServerFile f = c.channel.fileBehind(fd);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.getFd(fd, f == null ? 0 : f.number);
    }
    return f == null ? null : f.file();
  }

  /**
   * The context behind the caller's descriptor; null for a descriptor of anything else.
   *
   * @throws ErrnoException EBADF when the caller has no descriptor {@code fd}
   */
  @Override
  public Context context(int fd) {
    ServerFile f;
    try {
      f = call().channel.fileBehind(fd, true);
    } catch (ErrnoException e) {
      log(log -> log.getFd(fd, -1)); // no descriptor at all
      throw e;
    }
    log(log -> log.getFd(fd, f == null ? 0 : f.number));
    return f == null ? null : f.context;
  }

  /** Notes a descriptor operation in the log of the call being recorded, if one is. */
  private static void log(Consumer<MemoryLog> op) {
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      op.accept(log);
    }
  }

  @Override
  public EventFd eventfd(int fd) {
    Call c = call();
    int dup = c.channel.duplicateOf(fd);
    if (dup < 0) {
      log(log -> log.eventfd(fd, -Errno.EBADF.number()));
      throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
    }
    if (!isEventFd(dup)) {
      LibC.close(dup);
      log(log -> log.eventfd(fd, -Errno.EINVAL.number()));
      throw ErrnoException.of(Errno.EINVAL, "descriptor " + fd + " is not an eventfd");
    }
    long number = eventfds.incrementAndGet();
    log(log -> log.eventfd(fd, number));
    return new HeldEventFd(dup);
  }

  /** What the kernel names an eventfd's file in {@code /proc/<pid>/fd} (fs/eventfd.c). */
  private static boolean isEventFd(int fd) {
    try {
      return Files.readSymbolicLink(Path.of("/proc/self/fd", Integer.toString(fd)))
          .toString()
          .equals("anon_inode:[eventfd]");
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * The server's duplicate of a client's eventfd. A write blocks only when the counter would pass
   * its maximum, which a reader that never reads could reach in theory: it is skipped then (the
   * kernel's eventfd_signal() saturates instead), so a signal never blocks a device model.
   *
   * <p>Watched ({@link #onSignal}), a thread of its own waits for the program's signals, takes each
   * count as virqfd.c's wakeup does, and runs the actions; {@link #close()} wakes it to leave, and
   * it closes the duplicate on its way out. An eventfd is either signalled by the server or
   * watched, never both (the watcher would take the server's own signals).
   */
  private static final class HeldEventFd implements EventFd {
    private final List<Runnable> actions = new CopyOnWriteArrayList<>();

    /** signal()'s pollfd and the 8-byte count it writes: made once, a signal allocates nothing. */
    private final MemorySegment signalArgs = Arena.ofAuto().allocate(16, 8);

    private int fd;

    /** Wakes the watcher to leave; -1 while nobody watches. */
    private int stop = -1;

    /** The watcher left on its own (its descriptor failed): close() closes both then. */
    private boolean watcherGone;

    HeldEventFd(int fd) {
      this.fd = fd;
    }

    @Override
    public synchronized void signal() {
      if (fd >= 0) {
        add(fd, 1, signalArgs);
      }
    }

    @Override
    public synchronized boolean onSignal(Runnable action) {
      if (fd < 0) {
        return false;
      }
      if (stop < 0) {
        int s = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (s < 0) {
          return false;
        }
        stop = s;
        int watched = fd;
        Thread.ofPlatform()
            .daemon()
            .name("iommufd4j-eventfd-" + watched)
            .start(() -> watch(watched, s));
      }
      actions.add(action);
      return true;
    }

    private void watch(int watched, int stopFd) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment polls = arena.allocate(16, 4);
        MemorySegment count = arena.allocate(JAVA_LONG);
        while (true) {
          polls.set(JAVA_INT, 0, watched);
          polls.set(JAVA_INT, 4, POLLIN); // events POLLIN, revents 0
          polls.set(JAVA_INT, 8, stopFd);
          polls.set(JAVA_INT, 12, POLLIN);
          int r = LibC.poll(polls, 2, -1);
          if (r < 0 && r != -EINTR) {
            return;
          }
          short revents = polls.get(JAVA_SHORT, 6);
          if (polls.get(JAVA_SHORT, 14) != 0 || (revents & ~POLLIN) != 0) {
            return; // told to stop, or the descriptor failed
          }
          if ((revents & POLLIN) != 0 && LibC.read(watched, count, 8) == 8) {
            for (Runnable action : actions) {
              try {
                action.run();
              } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.ERROR, "eventfd action failed", e);
              }
            }
          }
        }
      } finally {
        synchronized (this) {
          watcherGone = true;
          if (fd < 0) { // close() left both to the watcher
            LibC.close(watched);
            LibC.close(stopFd);
          }
        }
      }
    }

    @Override
    public synchronized void close() {
      if (fd < 0) {
        return;
      }
      if (stop >= 0 && !watcherGone) {
        add(stop, 1, signalArgs); // the watcher closes both
      } else {
        LibC.close(fd);
        if (stop >= 0) {
          LibC.close(stop);
        }
      }
      fd = -1;
    }

    /**
     * Adds {@code n} to eventfd {@code target}'s counter unless that would block; {@code args}: 16
     * bytes for the pollfd and the count.
     */
    private static void add(int target, long n, MemorySegment args) {
      args.set(JAVA_INT, 0, target);
      args.set(JAVA_INT, 4, POLLOUT); // events POLLOUT, revents 0
      if (LibC.poll(args, 1, 0) == 1 && (args.get(JAVA_SHORT, 6) & POLLOUT) != 0) {
        args.set(JAVA_LONG, 8, n);
        LibC.write(target, args.asSlice(8, 8));
      }
    }
  }
}
