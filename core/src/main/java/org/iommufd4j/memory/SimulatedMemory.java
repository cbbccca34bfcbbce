package org.iommufd4j.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongPredicate;

/**
 * A simulated, sparse 64-bit address space of 4 KiB pages, for tests, fuzzing and replay.
 *
 * <p>Pages are mapped and unmapped like {@code mmap(MAP_FIXED)}/{@code munmap}, each readable and
 * either writable or read-only. A mapped page reads as zeros until written; only written pages hold
 * memory, so mapping terabytes is cheap. The whole 64-bit space is usable, page 0 and the top page
 * included, which lets tests place memory where no real process can.
 *
 * <p>{@link #read}, {@link #write} and {@link #isPinnable} follow {@link UserMemory}: false if any
 * page the range touches is unmapped (or read-only, for a write), or if the range ends past 2^64.
 * Stricter than the contract, a failed {@link #write} writes nothing and a failed {@link #read}
 * leaves {@code dst} unchanged. The {@code put}/{@code get} helpers are for setting up and checking
 * tests: they throw {@link IllegalArgumentException} on unmapped memory and, like a debugger, write
 * to read-only pages.
 *
 * <p>Thread-safe: one read-write lock guards everything.
 */
public final class SimulatedMemory implements UserMemory {
  /** Size of a simulated page. */
  public static final int PAGE_SIZE = 4096;

  /** Where {@link #allocate} starts looking: the usual top of a 47-bit mmap area. */
  public static final long ALLOCATION_BASE = 0x7f00_0000_0000L;

  private static final int PAGE_SHIFT = 12;
  private static final long PAGE_COUNT = 1L << (64 - PAGE_SHIFT);
  private static final byte[] ZEROS = new byte[PAGE_SIZE];
  private static final ValueLayout.OfLong LONG =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.nativeOrder());
  private static final ValueLayout.OfInt INT =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.nativeOrder());

  /** A run of mapped pages {@code [start, end)}, start being its key in {@link #regions}. */
  private record Region(long end, boolean writable) {}

  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  /**
   * Mapped runs by first page number. Runs never overlap, and adjacent runs always differ in {@code
   * writable} (they are merged otherwise). Page numbers are below 2^52, so signed order is address
   * order.
   */
  private final TreeMap<Long, Region> regions = new TreeMap<>();

  /** Contents of written pages, by page number; always within a mapped run. */
  private final TreeMap<Long, byte[]> pages = new TreeMap<>();

  private SimulatedMemory() {}

  /** An empty address space: nothing mapped. */
  public static SimulatedMemory create() {
    return new SimulatedMemory();
  }

  // ---- UserMemory ----

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code dst} is read-only
   */
  @Override
  public boolean read(long address, MemorySegment dst) {
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("dst is read-only");
    }
    return access(address, dst.byteSize(), false, lock.readLock(), () -> copyOut(address, dst));
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    return access(address, src.byteSize(), true, lock.writeLock(), () -> copyIn(address, src));
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    return access(address, length, write, lock.readLock(), null);
  }

  /**
   * The one shape of every access: empty ranges succeed anywhere, wrapping ones fail, otherwise
   * every page must be mapped (writable when {@code write}) before {@code transfer} runs, all under
   * {@code held}.
   */
  private boolean access(long address, long length, boolean write, Lock held, Runnable transfer) {
    if (length == 0) {
      return true;
    }
    if (!UnsignedRange.fits(address, length)) {
      return false;
    }
    held.lock();
    try {
      if (!isMapped(address, length, write)) {
        return false;
      }
      if (transfer != null) {
        transfer.run();
      }
      return true;
    } finally {
      held.unlock();
    }
  }

  // ---- mappings ----

  /**
   * Maps {@code [address, address + length)} rounded up to whole pages, zero-filled, replacing
   * whatever was mapped there (like {@code mmap(MAP_FIXED)}).
   *
   * @return {@code address}
   * @throws IllegalArgumentException if {@code address} is not page-aligned, {@code length} is 0,
   *     or the range ends past 2^64
   */
  public long map(long address, long length, boolean writable) {
    long first = firstPage(address, length);
    long end = first + pageCount(length);
    lock.writeLock().lock();
    try {
      setRegion(first, end, writable);
      pages.subMap(first, end).clear();
    } finally {
      lock.writeLock().unlock();
    }
    return address;
  }

  /**
   * Maps {@code length} bytes (rounded up to whole pages), zero-filled, at the lowest free address
   * at or above {@link #ALLOCATION_BASE} that has an unmapped page on each side, so an overrun in
   * either direction reads unmapped memory.
   *
   * @return the page-aligned address of the new mapping
   * @throws IllegalArgumentException if {@code length} is 0
   * @throws IllegalStateException if no such free range is left
   */
  public long allocate(long length, boolean writable) {
    if (length == 0) {
      throw new IllegalArgumentException("length=0");
    }
    long count = pageCount(length);
    lock.writeLock().lock();
    try {
      long start = ALLOCATION_BASE >>> PAGE_SHIFT;
      while (true) {
        if (count > PAGE_COUNT - 1 - start) {
          throw new IllegalStateException("no free range of length=0x" + Long.toHexString(length));
        }
        // The last run starting before the guard page after [start, start + count).
        Map.Entry<Long, Region> below = regions.lowerEntry(start + count + 1);
        if (below == null || below.getValue().end() < start) {
          setRegion(start, start + count, writable);
          return start << PAGE_SHIFT;
        }
        start = below.getValue().end() + 1;
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Unmaps every page overlapping {@code [address, address + length)}; unmapped pages in the range
   * are fine (like {@code munmap}).
   *
   * @throws IllegalArgumentException if {@code address} is not page-aligned, {@code length} is 0,
   *     or the range ends past 2^64
   */
  public void unmap(long address, long length) {
    long first = firstPage(address, length);
    long end = first + pageCount(length);
    lock.writeLock().lock();
    try {
      clearRegions(first, end);
      pages.subMap(first, end).clear();
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Unmaps every mapped page whose address {@code keep} refuses (what an exited process leaves: the
   * pages something still pins).
   */
  public void retainOnly(LongPredicate keep) {
    List<Long> drop = new ArrayList<>();
    lock.readLock().lock();
    try {
      for (Map.Entry<Long, Region> r : regions.entrySet()) {
        for (long page = r.getKey(); page < r.getValue().end(); page++) {
          if (!keep.test(page << PAGE_SHIFT)) {
            drop.add(page);
          }
        }
      }
    } finally {
      lock.readLock().unlock();
    }
    for (long page : drop) {
      unmap(page << PAGE_SHIFT, PAGE_SIZE);
    }
  }

  /**
   * Makes the pages overlapping {@code [address, address + length)} writable or read-only, keeping
   * their contents (like {@code mprotect}).
   *
   * @throws IllegalArgumentException if {@code address} is not page-aligned, {@code length} is 0,
   *     the range ends past 2^64, or any page in it is unmapped (then nothing changes)
   */
  public void protect(long address, long length, boolean writable) {
    long first = firstPage(address, length);
    long count = pageCount(length);
    lock.writeLock().lock();
    try {
      if (!isMappedPages(first, first + count - 1, false)) {
        throw new IllegalArgumentException("unmapped page in " + range(address, length));
      }
      setRegion(first, first + count, writable);
    } finally {
      lock.writeLock().unlock();
    }
  }

  // ---- test helpers: throw on unmapped memory, ignore write protection ----

  /** Writes {@code value} in native byte order. @throws IllegalArgumentException if unmapped */
  public void putLong(long address, long value) {
    MemorySegment bytes = MemorySegment.ofArray(new byte[Long.BYTES]);
    bytes.set(LONG, 0, value);
    poke(address, bytes);
  }

  /** Reads a native-order {@code long}. @throws IllegalArgumentException if unmapped */
  public long getLong(long address) {
    return peek(address, Long.BYTES).get(LONG, 0);
  }

  /** Writes {@code value} in native byte order. @throws IllegalArgumentException if unmapped */
  public void putInt(long address, int value) {
    MemorySegment bytes = MemorySegment.ofArray(new byte[Integer.BYTES]);
    bytes.set(INT, 0, value);
    poke(address, bytes);
  }

  /** Reads a native-order {@code int}. @throws IllegalArgumentException if unmapped */
  public int getInt(long address) {
    return peek(address, Integer.BYTES).get(INT, 0);
  }

  /** Writes {@code bytes}. @throws IllegalArgumentException if any byte is unmapped */
  public void putBytes(long address, byte[] bytes) {
    poke(address, MemorySegment.ofArray(bytes));
  }

  /** Reads {@code length} bytes. @throws IllegalArgumentException if any byte is unmapped */
  public byte[] getBytes(long address, int length) {
    if (length < 0) {
      throw new IllegalArgumentException("length=" + length);
    }
    return peek(address, length).toArray(JAVA_BYTE);
  }

  /** How many pages hold data (were written since they were mapped); for tests of sparseness. */
  long touchedPageCount() {
    lock.readLock().lock();
    try {
      return pages.size();
    } finally {
      lock.readLock().unlock();
    }
  }

  private void poke(long address, MemorySegment src) {
    long length = src.byteSize();
    lock.writeLock().lock();
    try {
      requireMapped(address, length);
      copyIn(address, src);
    } finally {
      lock.writeLock().unlock();
    }
  }

  private MemorySegment peek(long address, int length) {
    MemorySegment dst = MemorySegment.ofArray(new byte[length]);
    lock.readLock().lock();
    try {
      requireMapped(address, length);
      copyOut(address, dst);
    } finally {
      lock.readLock().unlock();
    }
    return dst;
  }

  private void requireMapped(long address, long length) {
    if (length != 0 && !(UnsignedRange.fits(address, length) && isMapped(address, length, false))) {
      throw new IllegalArgumentException("unmapped memory in " + range(address, length));
    }
  }

  // ---- internals; callers hold the lock ----

  /** Whether every page of {@code [address, address + length)}, length > 0, is mapped. */
  private boolean isMapped(long address, long length, boolean write) {
    return isMappedPages(address >>> PAGE_SHIFT, (address + length - 1) >>> PAGE_SHIFT, write);
  }

  /** Whether pages {@code first..last} (inclusive) are mapped, and writable if {@code write}. */
  private boolean isMappedPages(long first, long last, boolean write) {
    long page = first;
    while (true) {
      Map.Entry<Long, Region> run = regions.floorEntry(page);
      if (run == null || run.getValue().end() <= page || write && !run.getValue().writable()) {
        return false;
      }
      page = run.getValue().end();
      if (page > last) {
        return true;
      }
    }
  }

  private void copyOut(long address, MemorySegment dst) {
    long length = dst.byteSize();
    for (long done = 0; done < length; ) {
      long at = address + done;
      int inPage = (int) (at & (PAGE_SIZE - 1));
      int n = (int) Math.min(length - done, PAGE_SIZE - inPage);
      byte[] data = pages.getOrDefault(at >>> PAGE_SHIFT, ZEROS);
      MemorySegment.copy(data, inPage, dst, JAVA_BYTE, done, n);
      done += n;
    }
  }

  private void copyIn(long address, MemorySegment src) {
    long length = src.byteSize();
    for (long done = 0; done < length; ) {
      long at = address + done;
      int inPage = (int) (at & (PAGE_SIZE - 1));
      int n = (int) Math.min(length - done, PAGE_SIZE - inPage);
      byte[] data = pages.computeIfAbsent(at >>> PAGE_SHIFT, p -> new byte[PAGE_SIZE]);
      MemorySegment.copy(src, JAVA_BYTE, done, data, inPage, n);
      done += n;
    }
  }

  /** Maps pages {@code [first, end)} with {@code writable}, merging with equal neighbours. */
  private void setRegion(long first, long end, boolean writable) {
    clearRegions(first, end);
    long start = first;
    long stop = end;
    Map.Entry<Long, Region> before = regions.lowerEntry(first);
    if (before != null
        && before.getValue().end() == first
        && before.getValue().writable() == writable) {
      start = before.getKey();
    }
    Region after = regions.get(end);
    if (after != null && after.writable() == writable) {
      regions.remove(end);
      stop = after.end();
    }
    regions.put(start, new Region(stop, writable));
  }

  /** Removes pages {@code [first, end)} from the runs, splitting runs that straddle an edge. */
  private void clearRegions(long first, long end) {
    Map.Entry<Long, Region> straddling = regions.lowerEntry(first);
    if (straddling != null && straddling.getValue().end() > first) {
      Region run = straddling.getValue();
      regions.put(straddling.getKey(), new Region(first, run.writable()));
      if (run.end() > end) {
        regions.put(end, run);
      }
    }
    NavigableMap<Long, Region> inside = regions.subMap(first, true, end, false);
    Map.Entry<Long, Region> lastInside = inside.lastEntry();
    if (lastInside != null && lastInside.getValue().end() > end) {
      regions.put(end, lastInside.getValue());
    }
    inside.clear();
  }

  private static long firstPage(long address, long length) {
    if ((address & (PAGE_SIZE - 1)) != 0 || length == 0) {
      throw new IllegalArgumentException("unaligned or empty: " + range(address, length));
    }
    if (!UnsignedRange.fits(address, length)) {
      throw new IllegalArgumentException("range passes 2^64: " + range(address, length));
    }
    return address >>> PAGE_SHIFT;
  }

  /** Pages in {@code length != 0} bytes, rounded up; exact for lengths up to 2^64 - 1. */
  private static long pageCount(long length) {
    return ((length - 1) >>> PAGE_SHIFT) + 1;
  }

  private static String range(long address, long length) {
    return "address=0x" + Long.toHexString(address) + " length=0x" + Long.toHexString(length);
  }

  @Override
  public String toString() {
    lock.readLock().lock();
    try {
      return "SimulatedMemory[runs=" + regions.size() + ", touchedPages=" + pages.size() + "]";
    } finally {
      lock.readLock().unlock();
    }
  }
}
