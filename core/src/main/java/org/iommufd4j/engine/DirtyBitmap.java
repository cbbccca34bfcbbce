package org.iommufd4j.engine;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.lt;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.TreeMap;
import org.iommufd4j.memory.UserMemory;

/**
 * The user's bitmap of GET_DIRTY_BITMAP (hw_pagetable.c: iommufd_hwpt_get_dirty_bitmap()): bit
 * {@code b} stands for IOVA {@code iova + b * g} and lives in byte {@code data + b / 8}, bit {@code
 * b mod 8}, where {@code g} is the lowest set bit of {@code page_size}. Bits are collected here,
 * per page of the user's bitmap, and then OR-ed into it: bits are only ever set, and a page that
 * cannot be read or written loses its bits without failing the call (6.12 discards those errors).
 */
final class DirtyBitmap {
  private static final long PAGE = PageSource.PAGE_SIZE;

  private final long iova;
  private final long last;
  private final int shift;
  private final long data;

  /** User page address (unsigned order) → the bits to set in that page. */
  private final Map<Long, byte[]> pages = new TreeMap<>(Long::compareUnsigned);

  DirtyBitmap(long iova, long last, long pageSize, long data) {
    this.iova = iova;
    this.last = last;
    this.shift = Long.numberOfTrailingZeros(pageSize);
    this.data = data;
  }

  /** Sets the bits of the IOVAs {@code [start, start + length - 1]} inside the bitmap's range. */
  void set(long start, long length) {
    long end = start + length - 1;
    if (lt(end, start)) {
      end = Unsigned.U64_MAX;
    }
    if (lt(end, iova) || gt(start, last)) {
      return;
    }
    long bit = ((ge(start, iova) ? start : iova) - iova) >>> shift;
    long lastBit = ((lt(end, last) ? end : last) - iova) >>> shift;
    long pageAddress = 0;
    byte[] page = null;
    while (true) {
      long byteIndex = bit >>> 3;
      long address = data + byteIndex;
      if (page == null || (address & -PAGE) != pageAddress) {
        pageAddress = address & -PAGE;
        page = pages.computeIfAbsent(pageAddress, unused -> new byte[(int) PAGE]);
      }
      long byteLastBit = (byteIndex << 3) | 7;
      int lo = (int) (bit & 7);
      int hi = ge(byteLastBit, lastBit) ? (int) (lastBit & 7) : 7;
      page[(int) (address & (PAGE - 1))] |= (byte) ((0xff >>> (7 - hi)) & (0xff << lo));
      if (ge(byteLastBit, lastBit)) {
        return;
      }
      bit = byteLastBit + 1;
    }
  }

  /**
   * OR-s the collected bits into the user's memory, page by page; unreachable pages are skipped.
   */
  void writeTo(UserMemory memory) {
    for (Map.Entry<Long, byte[]> e : pages.entrySet()) {
      byte[] bits = e.getValue();
      int from = 0;
      while (from < bits.length && bits[from] == 0) {
        from++;
      }
      int to = bits.length;
      while (to > from && bits[to - 1] == 0) {
        to--;
      }
      MemorySegment current = MemorySegment.ofArray(new byte[to - from]);
      long address = e.getKey() + from;
      if (!memory.read(address, current)) {
        continue;
      }
      for (int i = from; i < to; i++) {
        current.set(JAVA_BYTE, i - from, (byte) (current.get(JAVA_BYTE, i - from) | bits[i]));
      }
      memory.write(address, current);
    }
  }
}
