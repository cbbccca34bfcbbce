package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENOSPC;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.engine.Unsigned.U64_MAX;
import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.engine.Unsigned.le;
import static org.iommufd4j.engine.Unsigned.lt;

/**
 * Automatic IOVA placement of one IOAS (io_pagetable.c: iopt_alloc_iova()): the first address, in
 * ascending order, where {@code length} bytes fit between the areas and the reserved ranges, inside
 * the allowed ranges, aligned as the kernel aligns (the length rounded up to a power of two, capped
 * at 2 MiB and by the hint's alignment, with the hint's in-page offset OR'ed in). Answers exactly
 * what the kernel's scan answers, but skips small gaps with the area tree's gap index instead of
 * visiting every area. Not thread safe: the owning IOAS's lock guards the structures it reads.
 */
final class IovaAllocator {
  private static final long PAGE_SIZE = PageSource.PAGE_SIZE;

  /** Never a valid result: results are at least one page; also "keep looking" for the holes. */
  private static final long NO_FIT = ReservedRanges.CONTINUE;

  private final AreaTree areas;
  private final ReservedRanges reserved;

  /** The request being placed, for {@link #fitInHole}: fields, so that no lambda captures them. */
  private long length;

  private long alignment;
  private long pageOffset;
  private final ReservedRanges.HoleVisitor fitInHole = this::fitInHole;

  IovaAllocator(AreaTree areas, ReservedRanges reserved) {
    this.areas = areas;
    this.reserved = reserved;
  }

  /**
   * @param hint the user address (MAP) or source address (COPY) whose alignment is copied
   * @param ioasAlign the IOAS's alignment (io_pagetable.c: iopt_calculate_iova_alignment()): an
   *     automatic alignment below it is EINVAL
   * @param allowed the allowed ranges as sorted (start, last) pairs; empty = no restriction
   * @return the chosen IOVA; EOVERFLOW for an impossible length, ENOSPC when nothing fits
   */
  long allocate(long length, long hint, long ioasAlign, long[] allowed) {
    if (length == 0 || ge(length, Long.MAX_VALUE)) {
      throw ErrnoException.of(EOVERFLOW, "length=" + hex(length));
    }
    long a = ge(length, IoPagetable.HPAGE_SIZE) ? IoPagetable.HPAGE_SIZE : roundUpPow2(length);
    long hintAlign = Long.lowestOneBit(hint); // 0 for no hint, negative for bit 63
    if (hintAlign > 0 && hintAlign < a) {
      a = hintAlign;
    }
    if (a < ioasAlign) {
      throw ErrnoException.of(
          EINVAL,
          "automatic alignment "
              + hex(a)
              + " below IOAS alignment "
              + hex(ioasAlign)
              + " (length="
              + hex(length)
              + " hint="
              + hex(hint)
              + ")");
    }
    long po = hint & (PAGE_SIZE - 1);
    long wFirst = PAGE_SIZE;
    long wLast = U64_MAX - PAGE_SIZE;
    if (allowed.length == 0) {
      long r = allocInWindow(wFirst, wLast, length, a, po);
      if (r != NO_FIT) {
        return r;
      }
    } else {
      for (int i = 0; i < allowed.length; ) {
        long runStart = allowed[i];
        long runLast = allowed[i + 1];
        i += 2;
        while (i < allowed.length && runLast != U64_MAX && allowed[i] == runLast + 1) {
          // touching ranges form one run (io_pagetable.c: iopt_reserve_iova())
          runLast = allowed[i + 1];
          i += 2;
        }
        long ws = Unsigned.max(runStart, wFirst);
        long wl = Unsigned.min(runLast, wLast);
        if (gt(ws, wl)) {
          continue;
        }
        long r = allocInWindow(ws, wl, length, a, po);
        if (r != NO_FIT) {
          return r;
        }
      }
    }
    throw ErrnoException.of(ENOSPC, "no free IOVA range of length " + hex(length));
  }

  private static long roundUpPow2(long v) {
    return v <= 1 ? 1 : Long.highestOneBit(v - 1) << 1;
  }

  /** The kernel's fit test (io_pagetable.c: iopt_alloc_iova()), or {@link #NO_FIT}. */
  private static long fit(long start, long last, long length, long a, long po) {
    long t = start + (a - 1);
    if (lt(t, start)) {
      return NO_FIT;
    }
    t = (t & -a) | po;
    if (ge(t, last) || lt(last - t, length - 1)) {
      return NO_FIT;
    }
    return t;
  }

  private long fitInHole(long start, long last) {
    return fit(start, last, length, alignment, pageOffset);
  }

  /**
   * First fit in the holes of "reserved ∪ areas" inside one window (io_pagetable.c:
   * iopt_alloc_iova()).
   */
  private long allocInWindow(long ws, long wl, long length, long a, long po) {
    long s = fit(ws, wl, length, a, po);
    if (s == NO_FIT) {
      return NO_FIT;
    }
    long pos = s;
    // the tree's cursor is on `next`, the first area above pos, while `more`
    boolean more = areas.seekEndingAtOrAfter(pos);
    if (more && le(areas.atFirst(), pos)) { // s lies inside an area: start after it
      if (ge(areas.atLast(), wl)) {
        return NO_FIT;
      }
      pos = areas.atLast() + 1;
      more = areas.seekNext();
    }
    while (true) {
      // Here no area contains pos, and next is the first area above it (or there is none).
      long next = more ? areas.atFirst() : 0;
      if (!more || gt(next, pos)) {
        long gapLast = !more || gt(next, wl) ? wl : next - 1;
        this.length = length;
        this.alignment = a;
        this.pageOffset = po;
        long found = reserved.holes(pos, gapLast, fitInHole);
        if (found != NO_FIT) {
          return found;
        }
        if (gapLast == wl) {
          return NO_FIT;
        }
      }
      // Skip every gap too small to hold `length` addresses, whatever its alignment.
      if (areas.seekGapAtLeast(next, length)) {
        pos = areas.atGapStart();
        if (gt(pos, wl)) {
          return NO_FIT;
        }
      } else {
        long maxLast = areas.maxLast();
        if (ge(maxLast, wl)) {
          return NO_FIT;
        }
        pos = maxLast + 1;
        more = false;
      }
    }
  }
}
