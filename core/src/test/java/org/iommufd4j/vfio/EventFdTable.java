package org.iommufd4j.vfio;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;

/**
 * A caller's descriptors for the device-file tests: eventfds that count their signals, one
 * descriptor that is not an eventfd, and nothing else (EBADF), as eventfd_ctx_fdget() answers.
 * Every reference handed out is tracked, so a test can check that each was put and that nothing was
 * signalled through a put reference.
 */
final class EventFdTable implements FileTable {
  /** A descriptor that is open but no eventfd (the device file itself, in the probes). */
  static final int NOT_AN_EVENTFD = 3;

  private final Map<Integer, Counter> counters = new HashMap<>();
  private final List<Reference> references = new ArrayList<>();
  private final List<String> violations = Collections.synchronizedList(new ArrayList<>());

  /** The program's side of an eventfd: its counter, and what the kernel hooked to it. */
  static final class Counter {
    private long count;
    private final List<Reference> holders = new ArrayList<>();

    /** read(2) of the eventfd: the count so far, then zero. */
    synchronized long take() {
      long c = count;
      count = 0;
      return c;
    }

    /** The count so far, left as it is. */
    synchronized long peek() {
      return count;
    }

    /** write(2) of 1 by the program: runs what the kernel watches it with. */
    void signalFromProgram() {
      List<Reference> watching;
      synchronized (this) {
        watching = new ArrayList<>(holders);
      }
      for (Reference r : watching) {
        if (r.watcher != null && !r.closed) {
          r.watcher.run();
        }
      }
    }
  }

  /** One eventfd_ctx reference the kernel took. */
  private final class Reference implements EventFd {
    private final int fd;
    private final Counter counter;
    private boolean closed;
    private Runnable watcher;

    Reference(int fd, Counter counter) {
      this.fd = fd;
      this.counter = counter;
    }

    @Override
    public void signal() {
      synchronized (counter) {
        if (closed) {
          violations.add("signal through put reference to fd " + fd);
        }
        counter.count++;
      }
    }

    @Override
    public boolean onSignal(Runnable action) {
      synchronized (counter) {
        watcher = action;
      }
      return true;
    }

    @Override
    public void close() {
      synchronized (counter) {
        if (closed) {
          violations.add("fd " + fd + " put twice");
        }
        closed = true;
        counter.holders.remove(this);
      }
    }
  }

  /** Opens an eventfd as descriptor {@code fd}. */
  Counter open(int fd) {
    Counter c = new Counter();
    counters.put(fd, c);
    return c;
  }

  /** References taken and not yet put. */
  synchronized long held() {
    return references.stream().filter(r -> !r.closed).count();
  }

  /** Signals through put references, references put twice. */
  synchronized List<String> violations() {
    return List.copyOf(violations);
  }

  @Override
  public synchronized EventFd eventfd(int fd) {
    Counter c = counters.get(fd);
    if (c == null) {
      throw fd == NOT_AN_EVENTFD
          ? ErrnoException.of(Errno.EINVAL, "fd " + fd + " is no eventfd")
          : ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
    }
    Reference r = new Reference(fd, c);
    synchronized (c) {
      c.holders.add(r);
    }
    references.add(r);
    return r;
  }

  @Override
  public int reserve() {
    throw ErrnoException.of(Errno.ENOMEM, "not in these tests");
  }

  @Override
  public void unreserve(int fd) {}

  @Override
  public void install(int fd, EmulatedFile file) {}

  @Override
  public EmulatedFile get(int fd) {
    return null;
  }
}
