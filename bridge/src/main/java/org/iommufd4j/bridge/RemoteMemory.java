package org.iommufd4j.bridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import org.iommufd4j.engine.Host;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.memory.UserMemory;
import org.iommufd4j.trace.MemoryLog;

/**
 * The address space of one client process. The server reads and writes it itself with {@code
 * process_vm_readv}/{@code writev} (the shim made the server its ptracer where Yama asks for one);
 * where the kernel refuses that (other user, Yama scope 2, a non-dumpable process, or {@code
 * IOMMUFD4J_MEMORY=shim}) the channel executing the call asks the shim, which copies with the same
 * fault-safe calls on itself. Either way a bad address is {@code false} (EFAULT), never a crash.
 *
 * <p>Reads inside the bytes at the ioctl argument that the shim sent with the request (the window)
 * are served from that copy. Writes go through at once, so an EFAULT in the respond is reported
 * where the kernel reports it, except inside a window the shim vouched for (the calling thread's
 * own stack, which cannot fault): those are returned with the result and applied by the shim, which
 * saves a {@code process_vm_writev} per call.
 *
 * <p><b>Pinned pages outlive their process,</b> as the kernel's page references make them: when the
 * process exits (the shim reports it from {@code exit()}), {@link #freeze} keeps every page still
 * pinned. Pages of a shared mapping are mapped into the server from {@code /proc/PID/map_files}, so
 * they stay the very pages other processes share; private pages are copied. From then on, for calls
 * of other processes, a kept page is reachable exactly while some pin still holds it, and nothing
 * else of the process is: its address space is gone, so any other read or write, and any new pin (a
 * domain attached to an area it mapped, an access pin), fails (EFAULT), even if the pid now names
 * another process. ({@code _exit} and signals give the shim no chance: then even the pinned pages
 * are gone, and reads through them fail.)
 *
 * <p>One instance per process (pid and start time), shared by all its channels, so the engine's
 * page identity ({@code Host.physicalAddress}) is the same whichever thread maps.
 */
final class RemoteMemory implements UserMemory {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");
  private static final long PAGE = 4096;

  final int pid;
  private final ProcessMemory direct;

  /** Page-aligned [start, end) ranges the engine asked to pin: where pinned pages can be. */
  private final NavigableMap<Long, Long> pinRanges = new TreeMap<>();

  /** After the process exited: page address -> the page's bytes (kept or shared). */
  private volatile NavigableMap<Long, MemorySegment> frozen;

  /** Once the process is exiting: whose pin counts say which kept pages are still reachable. */
  private volatile Host exitedOn;

  RemoteMemory(int pid) {
    this.pid = pid;
    this.direct = ProcessMemory.of(pid);
  }

  private Call mine() {
    Call c = Call.current();
    return c != null && c.memory == this ? c : null;
  }

  @Override
  public boolean read(long address, MemorySegment dst) {
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("dst is read-only");
    }
    boolean ok =
        isGone()
            ? keptOnly(address, dst, false)
            : frozen != null && touchesFrozen(address, dst.byteSize())
                ? pageWise(address, dst, false)
                : readLive(address, dst);
    MemoryLog log = MemoryLog.current(); // exec --record
    if (log != null) {
      log.read(pid, address, dst, ok);
    }
    return ok;
  }

  private boolean readLive(long address, MemorySegment dst) {
    Call c = mine();
    if (c == null) {
      return direct.read(address, dst);
    }
    if (c.windowCovers(address, dst.byteSize())) {
      c.readWindow(address, dst);
      return true;
    }
    boolean ok =
        c.channel.shimMemory() ? c.channel.memRead(address, dst) : direct.read(address, dst);
    if (ok) {
      c.patchFromWindow(address, dst);
    }
    return ok;
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    boolean ok =
        isGone()
            ? keptOnly(address, src, true)
            : frozen != null && touchesFrozen(address, src.byteSize())
                ? pageWise(address, src, true)
                : writeLive(address, src);
    MemoryLog log = MemoryLog.current(); // exec --record
    if (log != null) {
      log.write(pid, address, src, ok);
    }
    return ok;
  }

  private boolean writeLive(long address, MemorySegment src) {
    Call c = mine();
    if (c != null && c.deferWrite(address, src)) {
      return true;
    }
    boolean ok =
        c != null && c.channel.shimMemory()
            ? c.channel.memWrite(address, src)
            : direct.write(address, src);
    if (c != null) {
      if (ok) {
        c.wrote(address, src);
      } else {
        c.forgetWindow();
      }
    }
    return ok;
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    boolean ok = isPinnable0(address, length, write);
    MemoryLog log = MemoryLog.current(); // exec --record
    if (log != null) {
      log.pinnable(pid, address, length, write, ok);
    }
    return ok;
  }

  private boolean isPinnable0(long address, long length, boolean write) {
    if (isGone()) {
      return length == 0; // pages still pinned are never pinned again: nothing can be
    }
    if (length != 0 && Long.compareUnsigned(address + length, address) > 0) {
      remember(address & -PAGE, ((address + length - 1) & -PAGE) + PAGE);
    }
    NavigableMap<Long, MemorySegment> f = frozen;
    if (f != null && length != 0) {
      boolean all = true;
      for (long p = address & -PAGE; Long.compareUnsigned(p, address + length) < 0; p += PAGE) {
        if (!f.containsKey(p)) {
          all = false;
          break;
        }
      }
      if (all) {
        return true;
      }
    }
    Call c = mine();
    if (c != null && c.channel.shimMemory()) {
      return c.channel.pinnable(address, length, write);
    }
    return direct.isPinnable(address, length, write);
  }

  private synchronized void remember(long start, long end) {
    Map.Entry<Long, Long> before = pinRanges.floorEntry(start);
    if (before != null && before.getValue() >= start) {
      start = before.getKey();
      end = Math.max(end, before.getValue());
    }
    for (Map.Entry<Long, Long> e = pinRanges.ceilingEntry(start);
        e != null && e.getKey() <= end;
        e = pinRanges.ceilingEntry(start)) {
      end = Math.max(end, e.getValue());
      pinRanges.remove(e.getKey());
    }
    pinRanges.put(start, end);
  }

  private boolean touchesFrozen(long address, long length) {
    NavigableMap<Long, MemorySegment> f = frozen;
    if (length == 0) {
      return false;
    }
    Long first = f.ceilingKey(address & -PAGE);
    return first != null && Long.compareUnsigned(first, address + length) < 0;
  }

  /** A transfer that touches kept pages: page by page, kept ones from the copy, others live. */
  private boolean pageWise(long address, MemorySegment segment, boolean write) {
    NavigableMap<Long, MemorySegment> f = frozen;
    long done = 0;
    long length = segment.byteSize();
    while (done < length) {
      long at = address + done;
      long page = at & -PAGE;
      long n = Math.min(length - done, page + PAGE - at);
      MemorySegment kept = f.get(page);
      MemorySegment part = segment.asSlice(done, n);
      if (kept != null) {
        if (write) {
          MemorySegment.copy(part, 0, kept, at - page, n);
        } else {
          MemorySegment.copy(kept, at - page, part, 0, n);
        }
      } else if (!(write ? writeLive(at, part) : readLive(at, part))) {
        return false;
      }
      done += n;
    }
    return true;
  }

  /**
   * Whether the process's address space is gone for this call: it exited, and the call is not its
   * own (its {@code atexit} handlers and other threads may still call while it exits).
   */
  private boolean isGone() {
    return exitedOn != null && mine() == null;
  }

  /**
   * A transfer once the process is gone: every page it touches must be kept and still pinned. A
   * page's pins only ever drop then (nothing can pin it again), so once the last goes the page is
   * gone for good, as the kernel drops its last reference.
   */
  private boolean keptOnly(long address, MemorySegment segment, boolean write) {
    NavigableMap<Long, MemorySegment> f = frozen;
    long length = segment.byteSize();
    if (length != 0 && Long.compareUnsigned(address + length, address) < 0) {
      return false;
    }
    for (long done = 0; done < length; ) {
      long at = address + done;
      long page = at & -PAGE;
      long n = Math.min(length - done, page + PAGE - at);
      MemorySegment kept = f == null ? null : f.get(page);
      if (kept == null || exitedOn.pinCount(this, page) == 0) {
        return false;
      }
      MemorySegment part = segment.asSlice(done, n);
      if (write) {
        MemorySegment.copy(part, 0, kept, at - page, n);
      } else {
        MemorySegment.copy(kept, at - page, part, 0, n);
      }
      done += n;
    }
    return true;
  }

  /**
   * The process is exiting (it is still alive, inside {@code exit()}): keeps every page it has
   * pinned so that areas, domains and accesses built on them keep working, as in the kernel; the
   * rest of its memory is unreachable from now on (see {@link #isGone}).
   */
  boolean freeze(Host host) {
    List<Long> pinned = new ArrayList<>();
    synchronized (this) {
      for (Map.Entry<Long, Long> e : pinRanges.entrySet()) {
        for (long p = e.getKey(); p < e.getValue(); p += PAGE) {
          if (host.pinCount(this, p) > 0) {
            pinned.add(p);
          }
        }
      }
    }
    if (pinned.isEmpty()) {
      frozen = new TreeMap<>();
      exitedOn = host;
      return false;
    }
    NavigableMap<Long, MemorySegment> kept = new TreeMap<>();
    List<Vma> vmas = vmas();
    for (long page : pinned) {
      Vma vma = null;
      for (Vma v : vmas) {
        if (page >= v.start && page < v.end) {
          vma = v;
          break;
        }
      }
      MemorySegment shared = vma != null && vma.shared ? vma.serverMapping() : null;
      if (shared != null) {
        kept.put(page, shared.asSlice(page - vma.start, PAGE));
        continue;
      }
      MemorySegment copy = Arena.ofAuto().allocate(PAGE, PAGE);
      if (readLive(page, copy)) {
        kept.put(page, copy);
      }
    }
    frozen = kept;
    exitedOn = host;
    LOG.log(System.Logger.Level.DEBUG, "pid={0} exiting: kept {1} pinned pages", pid, kept.size());
    return !kept.isEmpty();
  }

  /**
   * Lets go of kept pages nobody pins any more (their mappings and copies are then freed by the
   * GC): true when none is left.
   */
  boolean prune(Host host) {
    NavigableMap<Long, MemorySegment> f = frozen;
    if (f == null) {
      return true;
    }
    NavigableMap<Long, MemorySegment> still = new TreeMap<>();
    for (Map.Entry<Long, MemorySegment> e : f.entrySet()) {
      if (host.pinCount(this, e.getKey()) > 0) {
        still.put(e.getKey(), e.getValue());
      }
    }
    if (still.size() != f.size()) {
      frozen = still; // reads of a page no longer kept fail: the process is gone
    }
    return still.isEmpty();
  }

  /** A mapping of the process, from /proc/PID/maps. */
  private final class Vma {
    final long start;
    final long end;
    final long offset;
    final boolean shared;
    final boolean writable;
    private MemorySegment mapping;
    private boolean tried;

    Vma(long start, long end, long offset, boolean shared, boolean writable) {
      this.start = start;
      this.end = end;
      this.offset = offset;
      this.shared = shared;
      this.writable = writable;
    }

    /** The same pages mapped into the server (through map_files), or null if not allowed. */
    MemorySegment serverMapping() {
      if (tried) {
        return mapping;
      }
      tried = true;
      String name =
          "/proc/" + pid + "/map_files/" + Long.toHexString(start) + "-" + Long.toHexString(end);
      int fd = LibC.open(name, (writable ? 2 : 0) | LibC.O_CLOEXEC, 0);
      if (fd < 0) {
        return null;
      }
      try {
        long length = end - start;
        long address =
            LibC.mmap(
                0,
                length,
                LibC.PROT_READ | (writable ? LibC.PROT_WRITE : 0),
                LibC.MAP_SHARED,
                fd,
                offset);
        if (address < 0) {
          return null;
        }
        mapping =
            MemorySegment.ofAddress(address)
                .reinterpret(length, Arena.ofAuto(), s -> LibC.munmap(s.address(), length));
        return mapping;
      } finally {
        LibC.close(fd);
      }
    }
  }

  /** The process's mappings (none if it is gone or not ours: private copies only). */
  private List<Vma> vmas() {
    List<Vma> list = new ArrayList<>();
    for (ProcessInfo.Mapping m : ProcessInfo.maps(pid)) {
      list.add(new Vma(m.start(), m.end(), m.offset(), m.shared(), m.writable()));
    }
    return list;
  }

  @Override
  public String toString() {
    return "RemoteMemory[pid=" + pid + "]";
  }
}
