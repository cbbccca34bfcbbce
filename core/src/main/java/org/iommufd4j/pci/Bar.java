package org.iommufd4j.pci;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * One base address register of a device: where it sits (index 0..5; a 64-bit BAR also takes the
 * next index), what it decodes (memory or I/O), its size (a power of two) and which of its ranges
 * are plain memory rather than registers. Accesses to registers go to the model ({@link
 * PciDevice#read}); plain memory is storage the PCI core keeps for the model ({@link PlainMemory}),
 * which a program that maps the BAR uses without trapping wherever a whole page of it is plain
 * memory. Doorbell ranges are plain memory the model is told about when a store changes it ({@link
 * PciDevice#doorbell}).
 *
 * @param index the BAR number, 0..5
 * @param type memory (32 or 64-bit) or I/O
 * @param prefetchable the prefetchable bit of a memory BAR
 * @param size bytes decoded, a power of two (at least 16 for memory, 4 for I/O)
 * @param plainMemory ranges of the BAR that are plain memory, sorted, not overlapping
 */
public record Bar(int index, Type type, boolean prefetchable, long size, List<Range> plainMemory) {

  /** What the BAR decodes. */
  public enum Type {
    MEMORY_32,
    MEMORY_64,
    IO
  }

  /**
   * A byte range {@code [offset, offset + length)} inside a BAR; {@code doorbells}: its aligned
   * 4-byte words are doorbells the model hears about.
   */
  public record Range(long offset, long length, boolean doorbells) {
    public Range {
      if (offset < 0 || length <= 0 || (doorbells && ((offset | length) & 3) != 0)) {
        throw new IllegalArgumentException(
            "offset="
                + offset
                + " length="
                + length
                + (doorbells ? " (doorbells: 4-byte words)" : ""));
      }
    }

    /** A range of plain memory without doorbells. */
    public Range(long offset, long length) {
      this(offset, length, false);
    }

    boolean contains(long at, int size) {
      return at >= offset && at + size <= offset + length;
    }
  }

  public Bar {
    plainMemory = List.copyOf(plainMemory);
    int last = type == Type.MEMORY_64 ? 4 : 5;
    if (index < 0 || index > last) {
      throw new IllegalArgumentException("BAR index " + index + " for " + type);
    }
    if (Long.bitCount(size) != 1
        || size < (type == Type.IO ? 4 : 16)
        || (type != Type.MEMORY_64 && size > 1L << 31)
        || (type == Type.IO && size > 256)) {
      throw new IllegalArgumentException("BAR size 0x" + Long.toHexString(size) + " for " + type);
    }
    if (prefetchable && type == Type.IO) {
      throw new IllegalArgumentException("an I/O BAR is never prefetchable");
    }
    long end = 0;
    for (Range r : plainMemory) {
      if (r.offset() < end || r.offset() + r.length() > size) {
        throw new IllegalArgumentException(
            "plain-memory ranges must be sorted, disjoint and " + "inside the BAR: " + plainMemory);
      }
      end = r.offset() + r.length();
    }
  }

  /** A non-prefetchable 32-bit memory BAR that is all registers. */
  public static Bar memory32(int index, long size) {
    return new Bar(index, Type.MEMORY_32, false, size, List.of());
  }

  /** A 64-bit memory BAR that is all registers. */
  public static Bar memory64(int index, long size, boolean prefetchable) {
    return new Bar(index, Type.MEMORY_64, prefetchable, size, List.of());
  }

  /** An I/O port BAR (at most 256 ports) that is all registers. */
  public static Bar io(int index, long size) {
    return new Bar(index, Type.IO, false, size, List.of());
  }

  /** The same BAR with {@code [offset, offset + length)} declared plain memory as well. */
  public Bar withPlainMemory(long offset, long length) {
    return with(new Range(offset, length));
  }

  /**
   * The same BAR with {@code [offset, offset + length)} (4-byte aligned) declared plain memory
   * whose 4-byte words are doorbells: a store that changes one reaches {@link PciDevice#doorbell}.
   */
  public Bar withDoorbells(long offset, long length) {
    return with(new Range(offset, length, true));
  }

  private Bar with(Range range) {
    List<Range> ranges = new ArrayList<>(plainMemory);
    ranges.add(range);
    ranges.sort(Comparator.comparingLong(Range::offset));
    return new Bar(index, type, prefetchable, size, ranges);
  }

  /** Whether {@code size} bytes at {@code offset} lie in one plain-memory range. */
  public boolean isPlainMemory(long offset, int size) {
    for (Range r : plainMemory) {
      if (r.contains(offset, size)) {
        return true;
      }
    }
    return false;
  }

  /** The type and prefetch bits of the BAR register (its low 4 bits). */
  int flags() {
    return switch (type) {
      case IO -> PciRegs.BAR_SPACE_IO;
      case MEMORY_32 -> prefetchable ? PciRegs.BAR_MEM_PREFETCH : 0;
      case MEMORY_64 -> PciRegs.BAR_MEM_TYPE_64 | (prefetchable ? PciRegs.BAR_MEM_PREFETCH : 0);
    };
  }
}
