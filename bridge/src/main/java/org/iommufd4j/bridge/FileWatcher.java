package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;

/**
 * One thread that polls the server ends of every {@link ServerFile} and reports end of stream: the
 * client closed its last descriptor of that file. Bytes a client writes into its end (never the
 * shim: it answers read and write itself) are read and dropped.
 */
final class FileWatcher implements Runnable {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");
  private static final int DRAIN = 4096;

  private final ConcurrentLinkedQueue<ServerFile> added = new ConcurrentLinkedQueue<>();
  private final List<ServerFile> watched = new ArrayList<>();
  private final int wakeFd;
  private final Consumer<ServerFile> onEnd;
  private final MemorySegment eight = Arena.ofAuto().allocate(8, 8);
  private volatile boolean stopping;

  FileWatcher(Consumer<ServerFile> onEnd) {
    this.onEnd = onEnd;
    int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    if (fd < 0) {
      throw new IllegalStateException("eventfd: errno " + -fd);
    }
    this.wakeFd = fd;
  }

  void watch(ServerFile file) {
    added.add(file);
    wake();
  }

  void stop() {
    stopping = true;
    wake();
  }

  private void wake() {
    MemorySegment one = Arena.ofAuto().allocate(8, 8);
    one.set(JAVA_LONG, 0, 1);
    LibC.write(wakeFd, one, 8);
  }

  @Override
  public void run() {
    MemorySegment drain = Arena.ofAuto().allocate(DRAIN, 8);
    MemorySegment pollfds = MemorySegment.NULL;
    try {
      while (!stopping) {
        for (ServerFile f; (f = added.poll()) != null; ) {
          watched.add(f);
        }
        int n = watched.size() + 1;
        if (pollfds.byteSize() < n * 8L) {
          pollfds = Arena.ofAuto().allocate(Math.max(64, n * 2L) * 8, 8);
        }
        pollfds.set(JAVA_INT, 0, wakeFd);
        pollfds.set(JAVA_SHORT, 4, LibC.POLLIN);
        for (int i = 0; i < watched.size(); i++) {
          pollfds.set(JAVA_INT, (i + 1) * 8L, watched.get(i).serverFd);
          pollfds.set(JAVA_SHORT, (i + 1) * 8L + 4, LibC.POLLIN);
          pollfds.set(JAVA_SHORT, (i + 1) * 8L + 6, (short) 0);
        }
        int r = LibC.poll(pollfds, n, -1);
        if (r == -Errno.EINTR.number()) {
          continue;
        }
        if (r < 0) {
          LOG.log(
              System.Logger.Level.ERROR, "poll failed: errno {0}; files are no longer watched", -r);
          return;
        }
        if (pollfds.get(JAVA_SHORT, 6) != 0) {
          LibC.read(wakeFd, eight, 8);
        }
        List<ServerFile> ended = new ArrayList<>();
        for (int i = 0; i < watched.size(); i++) {
          short revents = pollfds.get(JAVA_SHORT, (i + 1) * 8L + 6);
          if (revents == 0) {
            continue;
          }
          ServerFile f = watched.get(i);
          long got = (revents & LibC.POLLIN) != 0 ? LibC.read(f.serverFd, drain, DRAIN) : 0;
          if (got <= 0 && got != -Errno.EAGAIN.number() && got != -Errno.EINTR.number()) {
            ended.add(f);
          }
        }
        for (ServerFile f : ended) {
          watched.remove(f);
          f.closeServerFd();
          try {
            onEnd.accept(f);
          } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "closing " + f + " failed", e);
          }
        }
      }
    } finally {
      for (ServerFile f; (f = added.poll()) != null; ) {
        watched.add(f);
      }
      for (ServerFile f : watched) {
        f.closeServerFd();
        try {
          onEnd.accept(f);
        } catch (RuntimeException e) {
          LOG.log(System.Logger.Level.ERROR, "closing " + f + " failed", e);
        }
      }
      watched.clear();
      LibC.close(wakeFd);
    }
  }
}
