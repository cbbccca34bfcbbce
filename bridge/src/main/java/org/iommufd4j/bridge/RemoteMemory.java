package org.iommufd4j.bridge;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
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
 * <p><b>Pinned pages are shared pages.</b> When a call of the process itself pins pages (a MAP into
 * an IOAS with a domain, a domain attached, an access pin), the shim makes them shared memory where
 * it can (CB_SHARE; see {@code share.h}) and the server maps each memfd it receives once. From then
 * on every read and write of a pinned page, whoever makes it (a device's DMA, another process's
 * access), is a plain memory copy of the pinned page itself, as the kernel's page references make
 * it: the program may unmap or remap the address meanwhile, or die, even by SIGKILL.
 *
 * <p><b>Pinned pages outlive their process.</b> When the process is gone (the shim reports {@code
 * exit()}, or its last channel ends and the process has exited: {@code _exit}, a signal), a pinned
 * page is reachable exactly while some pin still holds it, and nothing else of the process is: any
 * other read or write, and any new pin (a domain attached to an area it mapped, an access pin),
 * fails (EFAULT), even if the pid now names another process. Shared pinned pages are kept by their
 * memfd mapping. At {@code exit()} the pinned pages the shim could not share (the stack, private
 * file mappings, hugetlb) are kept too: pages of a shared mapping are mapped from {@code
 * /proc/PID/map_files}, others copied; after {@code _exit} or a signal those are lost, and reading
 * them fails.
 *
 * <p>One instance per process (pid and start time), shared by all its channels, so the engine's
 * page identity ({@code Host.physicalAddress}) is the same whichever thread maps.
 */
final class RemoteMemory implements UserMemory {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");
  private static final long PAGE = 4096;

  /** How long after its binding a shared range's pin may still be on its way (see dropUnpinned). */
  private static final long PIN_ON_ITS_WAY_NANOS = 60_000_000_000L;

  final int pid;
  private final ProcessMemory direct;

  /** Whose pin counts say which shared pages are pinned. */
  private final Host host;

  /**
   * Pages the shim shared, by start of a page-aligned range: the server's mapping of them. A page
   * is served from here while it is pinned; the entry of a page nobody pins is stale, replaced at
   * its next pin and dropped when the whole range is unpinned.
   */
  private final NavigableMap<Long, Shared> shared = new TreeMap<>();

  /** Whether {@link #shared} has an entry: reads of a process without any skip its lock. */
  private volatile boolean sharing;

  /** The server's mapping of each memfd the shim sent, by inode, while an entry uses it. */
  private final Map<Long, MemorySegment> memfds = new HashMap<>();

  /**
   * Shared pages {@code [start, end)}: {@code pages} maps them, from the memfd {@code inode}; bound
   * at {@code born} (System.nanoTime).
   */
  private record Shared(long start, long end, MemorySegment pages, long inode, long born) {
    Shared slice(long from, long to) {
      return new Shared(from, to, pages.asSlice(from - start, to - from), inode, born);
    }

    /** Whether the same pages of the same memfd back address {@code page} in both. */
    boolean sameAs(Shared other, long page) {
      return inode == other.inode
          && pages.address() - start == other.pages.address() - other.start
          && page >= start
          && page < end;
    }
  }

  /** Page-aligned [start, end) ranges the engine asked to pin: where pinned pages can be. */
  private final NavigableMap<Long, Long> pinRanges = new TreeMap<>();

  /** After the process exited: page address -> the page's bytes (kept or shared). */
  private volatile NavigableMap<Long, MemorySegment> frozen;

  /** Once the process is exiting: whose pin counts say which kept pages are still reachable. */
  private volatile Host exitedOn;

  RemoteMemory(int pid, Host host) {
    this.pid = pid;
    this.direct = ProcessMemory.of(pid);
    this.host = host;
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
    boolean gone = isGone();
    boolean ok =
        gone || touchesKept(address, dst.byteSize())
            ? pageWise(address, dst, false, gone)
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
    boolean gone = isGone();
    boolean ok =
        gone || touchesKept(address, src.byteSize())
            ? pageWise(address, src, true, gone)
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
    boolean ok =
        c != null && c.channel.shimMemory()
            ? c.channel.pinnable(address, length, write)
            : direct.isPinnable(address, length, write);
    if (ok && length != 0 && c != null && c.channel.sharesPins()) {
      share(c.channel, address & -PAGE, ((address + length - 1) & -PAGE) + PAGE);
    }
    return ok;
  }

  /**
   * Asks the shim to share {@code [start, end)}, about to be pinned, and maps what it shares. A
   * part it cannot share, or one past the end of its file, keeps the process_vm path.
   */
  private void share(Channel channel, long start, long end) {
    for (Channel.SharedPart part : channel.share(start, end - start)) {
      if (part.fd() < 0) {
        continue;
      }
      try {
        MemorySegment memfd = mapMemfd(part.fd());
        if (memfd != null
            && part.offset() >= 0
            && part.offset() <= memfd.byteSize() - part.length()) {
          long inode = inodeOf(part.fd());
          bind(
              part.address(),
              part.address() + part.length(),
              memfd.asSlice(part.offset(), part.length()),
              inode);
        }
      } finally {
        LibC.close(part.fd());
      }
    }
  }

  /**
   * The file of {@code fd} as one number, its device and inode (a program's file and a memfd may
   * share an inode number on different file systems), or -1.
   */
  private static long inodeOf(int fd) {
    try {
      Path file = Path.of("/proc/self/fd/" + fd);
      long ino = ((Number) Files.getAttribute(file, "unix:ino")).longValue();
      long dev = ((Number) Files.getAttribute(file, "unix:dev")).longValue();
      return ino >>> 44 == 0 && dev >>> 19 == 0 ? dev << 44 | ino : -1;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /**
   * The server's mapping of the whole file {@code fd} (once per file), or null. The shim's own
   * memfds are sealed at their size; a program's file (its MAP_SHARED mapping of a memfd or file)
   * is not, and is mapped at the size it has now: parts past it are refused. A program that shrinks
   * a file under its own pins makes the server's copies of the cut pages fault (as the program's
   * own accesses would): those copies are EFAULT (see copy).
   */
  private MemorySegment mapMemfd(int fd) {
    long inode = inodeOf(fd);
    if (inode < 0) {
      return null;
    }
    synchronized (this) {
      MemorySegment known = memfds.get(inode);
      if (known != null) {
        return known;
      }
    }
    long size;
    try {
      size = Files.size(Path.of("/proc/self/fd/" + fd));
    } catch (IOException e) {
      return null;
    }
    if (size <= 0 || (size & (PAGE - 1)) != 0) {
      return null;
    }
    long address = LibC.mmap(0, size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
    if (address < 0) {
      return null;
    }
    MemorySegment mapping =
        MemorySegment.ofAddress(address)
            .reinterpret(size, Arena.ofAuto(), seg -> LibC.munmap(seg.address(), size));
    synchronized (this) {
      MemorySegment raced = memfds.putIfAbsent(inode, mapping);
      return raced != null ? raced : mapping;
    }
  }

  /**
   * Makes {@code pages} the shared pages of {@code [start, end)}, except where a page is still
   * pinned through an earlier entry of other pages (the program remapped it since): the pinned page
   * stays what its pins hold, as in the kernel.
   */
  private synchronized void bind(long start, long end, MemorySegment pages, long inode) {
    dropUnpinned();
    Shared fresh = new Shared(start, end, pages, inode, System.nanoTime());
    for (long p = start; p < end; ) {
      boolean keep = keeps(p, fresh);
      long q = p + PAGE;
      while (q < end && keeps(q, fresh) == keep) {
        q += PAGE;
      }
      if (!keep) {
        put(fresh.slice(p, q));
      }
      p = q;
    }
    sharing = true;
  }

  /** Whether the entry at {@code page} stays: it already holds these pages, or it is pinned. */
  private boolean keeps(long page, Shared fresh) {
    Shared old = sharedAt(page);
    return old != null && (old.sameAs(fresh, page) || host.pinCount(this, page) > 0);
  }

  private Shared sharedAt(long address) {
    Map.Entry<Long, Shared> e = shared.floorEntry(address);
    return e != null && address < e.getValue().end ? e.getValue() : null;
  }

  private void put(Shared s) {
    for (Map.Entry<Long, Shared> e = shared.lowerEntry(s.end);
        e != null && e.getValue().end > s.start;
        e = shared.lowerEntry(s.end)) {
      Shared old = e.getValue();
      shared.remove(old.start);
      if (old.start < s.start) {
        shared.put(old.start, old.slice(old.start, s.start));
      }
      if (old.end > s.end) {
        shared.put(s.end, old.slice(s.end, old.end));
      }
      if (old.start < s.start) {
        break; // what is left below lies before s
      }
    }
    shared.put(s.start, s);
  }

  /**
   * Drops entries no page of which is pinned, and the memfd mappings nothing uses any more. An
   * entry is bound just before the engine pins its pages, in the same call: while the process
   * lives, a young one is spared, since another thread's pin may be on its way to it.
   */
  private void dropUnpinned() {
    long now = System.nanoTime();
    long grace = exitedOn == null ? PIN_ON_ITS_WAY_NANOS : 0;
    shared
        .values()
        .removeIf(
            s ->
                now - s.born >= grace
                    && host.pinnedPages(this, s.start, (s.end - s.start) / PAGE) == 0);
    Set<Long> used = new HashSet<>();
    for (Shared s : shared.values()) {
      used.add(s.inode);
    }
    memfds.keySet().retainAll(used);
    sharing = !shared.isEmpty();
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

  /** Whether the range touches a shared page or (after exit()) a kept one. */
  private boolean touchesKept(long address, long length) {
    if (length == 0) {
      return false;
    }
    NavigableMap<Long, MemorySegment> f = frozen;
    if (f != null) {
      Long first = f.ceilingKey(address & -PAGE);
      if (first != null && Long.compareUnsigned(first, address + length) < 0) {
        return true;
      }
    }
    if (!sharing) {
      return false;
    }
    synchronized (this) {
      if (sharedAt(address) != null) {
        return true;
      }
      Long next = shared.ceilingKey(address);
      return next != null && Long.compareUnsigned(next, address + length) < 0;
    }
  }

  /**
   * A transfer that touches shared or kept pages: runs of pinned shared pages are one memory copy
   * each, kept pages come from their copy, other pages are live, unless the process is {@code
   * gone}: then every page must be pinned and shared or kept. A page's pins only ever drop once the
   * process is gone (nothing can pin it again), so once the last goes the page is gone for good, as
   * the kernel drops its last reference.
   */
  private boolean pageWise(long address, MemorySegment segment, boolean write, boolean gone) {
    long length = segment.byteSize();
    if (length != 0 && Long.compareUnsigned(address + length, address) < 0) {
      return false;
    }
    NavigableMap<Long, MemorySegment> f = frozen;
    long done = 0;
    while (done < length) {
      long at = address + done;
      long page = at & -PAGE;
      MemorySegment pinned = pinnedRun(at, length - done);
      long n;
      if (pinned != null) {
        n = pinned.byteSize();
        if (!copy(pinned, segment.asSlice(done, n), write)) {
          return false;
        }
      } else {
        n = Math.min(length - done, page + PAGE - at);
        MemorySegment part = segment.asSlice(done, n);
        MemorySegment kept = f == null ? null : f.get(page);
        if (kept != null && (!gone || host.pinCount(this, page) > 0)) {
          if (!copy(kept.asSlice(at - page, n), part, write)) {
            return false;
          }
        } else if (gone || !(write ? writeLive(at, part) : readLive(at, part))) {
          return false;
        }
      }
      done += n;
    }
    return true;
  }

  /**
   * Copies between pages the server maps and {@code buffer}: false when the pages fault, which a
   * program's own file can make them do by shrinking under its pins (HotSpot turns the SIGBUS of a
   * memory-segment copy into an InternalError).
   */
  private static boolean copy(MemorySegment memory, MemorySegment buffer, boolean write) {
    try {
      if (write) {
        MemorySegment.copy(buffer, 0, memory, 0, buffer.byteSize());
      } else {
        MemorySegment.copy(memory, 0, buffer, 0, buffer.byteSize());
      }
      return true;
    } catch (InternalError e) {
      return false;
    }
  }

  /**
   * The longest run of pinned shared bytes from {@code at}, at most {@code max}, within one entry:
   * its pages in the server, or null when the page at {@code at} is not pinned and shared.
   */
  private MemorySegment pinnedRun(long at, long max) {
    if (!sharing) {
      return null;
    }
    Shared s;
    synchronized (this) {
      s = sharedAt(at);
    }
    if (s == null) {
      return null;
    }
    long end = Long.compareUnsigned(s.end - at, max) < 0 ? s.end : at + max;
    long first = at & -PAGE;
    long pages = (end - first + PAGE - 1) / PAGE;
    if (host.pinnedPages(this, first, pages) != pages) {
      long pinnedEnd = first;
      while (pinnedEnd < end && host.pinCount(this, pinnedEnd) > 0) {
        pinnedEnd += PAGE;
      }
      if (pinnedEnd == first) {
        return null;
      }
      end = Math.min(end, pinnedEnd);
    }
    return s.pages.asSlice(at - s.start, end - at);
  }

  /**
   * Whether the process's address space is gone for this call: it exited, and the call is not its
   * own (its {@code atexit} handlers and other threads may still call while it exits).
   */
  private boolean isGone() {
    return exitedOn != null && mine() == null;
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
          if (host.pinCount(this, p) > 0 && sharedAt(p) == null) {
            pinned.add(p); // a shared page is kept by its memfd
          }
        }
      }
    }
    if (pinned.isEmpty()) {
      frozen = new TreeMap<>();
      exitedOn = host;
      return !prune(host);
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
    return !prune(host);
  }

  /**
   * The process ended without telling (its last channel ended and it has exited: {@code _exit}, a
   * signal): from now on only its pinned shared pages are reachable. True while some are.
   */
  boolean ended(Host host) {
    if (exitedOn == null) {
      if (frozen == null) {
        frozen = new TreeMap<>();
      }
      exitedOn = host;
      LOG.log(System.Logger.Level.DEBUG, "pid={0} ended", pid);
    }
    return !prune(host);
  }

  /**
   * Lets go of kept and shared pages nobody pins any more (their mappings and copies are then freed
   * by the GC): true when none is left.
   */
  boolean prune(Host host) {
    boolean noneShared;
    synchronized (this) {
      dropUnpinned();
      noneShared = shared.isEmpty();
    }
    NavigableMap<Long, MemorySegment> f = frozen;
    if (f == null) {
      return noneShared;
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
    return still.isEmpty() && noneShared;
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
