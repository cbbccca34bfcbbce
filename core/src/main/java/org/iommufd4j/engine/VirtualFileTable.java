package org.iommufd4j.engine;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import org.iommufd4j.Errno;

/**
 * Descriptor numbers for the embedded emulator, which has no process file table of its own: lowest
 * free from {@link #FIRST_FD} (far above what a JVM opens, so a number is never mistaken for a real
 * descriptor). A number names either an {@link EmulatedFile} or an iommufd {@link Context} (an open
 * {@code /dev/iommu} or {@code /dev/vfio/vfio}). Thread safe.
 */
public final class VirtualFileTable implements FileTable {
  public static final int FIRST_FD = 1_000_000;

  private final Map<Integer, EmulatedFile> files = new HashMap<>();
  private final Map<Integer, Context> contexts = new HashMap<>();
  private final BitSet used = new BitSet();
  private final IntFunction<EventFd> processEventFds;

  /**
   * A table that knows no eventfds: {@link #eventfd} of a number below {@link #FIRST_FD} is EBADF.
   */
  public VirtualFileTable() {
    this(
        fd -> {
          throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
        });
  }

  /**
   * A table whose {@link #eventfd} resolves numbers below {@link #FIRST_FD} with {@code
   * processEventFds} (the calling process's own descriptors).
   */
  public VirtualFileTable(IntFunction<EventFd> processEventFds) {
    this.processEventFds = processEventFds;
  }

  @Override
  public synchronized int reserve() {
    int i = used.nextClearBit(0);
    used.set(i);
    return FIRST_FD + i;
  }

  @Override
  public synchronized void unreserve(int fd) {
    used.clear(fd - FIRST_FD);
  }

  @Override
  public synchronized void install(int fd, EmulatedFile file) {
    files.put(fd, file);
  }

  @Override
  public synchronized EmulatedFile get(int fd) {
    return files.get(fd);
  }

  /**
   * {@code open("/dev/iommu")}, or {@code open("/dev/vfio/vfio")} when {@code vfioContainer}: a new
   * context on {@code host} whose extra files this table numbers; returns its descriptor.
   */
  public synchronized int openContext(Host host, boolean vfioContainer) {
    int fd = reserve();
    contexts.put(fd, new Context(host, this, false, vfioContainer));
    return fd;
  }

  /** The context {@code fd} names, or null (no descriptor, or one of a file). */
  public synchronized Context contextOf(int fd) {
    return contexts.get(fd);
  }

  @Override
  public synchronized Context context(int fd) {
    Context ctx = contexts.get(fd);
    if (ctx == null && files.get(fd) == null) {
      throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
    }
    return ctx;
  }

  /** eventfd_ctx_fdget(): this table's own numbers are open descriptors that are no eventfd. */
  @Override
  public EventFd eventfd(int fd) {
    if (fd >= FIRST_FD) {
      boolean open;
      synchronized (this) {
        open = files.containsKey(fd) || contexts.containsKey(fd);
      }
      throw ErrnoException.of(
          open ? Errno.EINVAL : Errno.EBADF, "descriptor " + fd + " is no eventfd");
    }
    return processEventFds.apply(fd);
  }

  /** {@code close(fd)}: false if {@code fd} names no installed file or context. */
  public boolean close(int fd) {
    EmulatedFile f;
    Context ctx;
    synchronized (this) {
      ctx = contexts.remove(fd);
      f = ctx == null ? files.remove(fd) : null;
      if (ctx == null && f == null) {
        return false;
      }
      used.clear(fd - FIRST_FD);
    }
    if (ctx != null) {
      ctx.close();
    } else {
      f.release();
    }
    return true;
  }

  /**
   * Closes every file, then every context (the embedded context or machine is closing); returns how
   * many files were open.
   */
  public int closeAll() {
    Map<Integer, EmulatedFile> open;
    List<Context> openContexts;
    synchronized (this) {
      open = new HashMap<>(files);
      openContexts = new ArrayList<>(contexts.values());
      files.clear();
      contexts.clear();
      used.clear();
    }
    open.values().forEach(EmulatedFile::release);
    openContexts.forEach(Context::close);
    return open.size();
  }
}
