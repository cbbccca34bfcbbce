package org.iommufd4j.model;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENOSPC;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.model.Intervals.ge;
import static org.iommufd4j.model.Intervals.holes;
import static org.iommufd4j.model.Intervals.lt;
import static org.iommufd4j.model.Intervals.min;
import static org.iommufd4j.model.Intervals.runs;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.model.ReferenceModel.Area;
import org.iommufd4j.model.ReferenceModel.Ioas;
import org.iommufd4j.model.ReferenceModel.Outcome;

/**
 * Automatic IOVA allocation as io_pagetable.c: iopt_alloc_iova() does it, with linear scans instead
 * of its interval trees.
 */
final class FirstFit {
  static final long PAGE_SIZE = ReferenceModel.PAGE_SIZE;
  static final long HPAGE_SIZE = 2L << 20;
  private static final long U64_MAX = Intervals.U64_MAX;

  private FirstFit() {}

  static long roundUpPow2(long v) {
    long p = 1;
    while (lt(p, v)) {
      p <<= 1;
    }
    return p;
  }

  /** io_pagetable.c: iopt_alloc_iova(); null when nothing fits. */
  static Long fit(long start, long last, long len, long a, long po) {
    long t = start + (a - 1);
    if (lt(t, start)) {
      return null;
    }
    t &= ~(a - 1);
    t |= po;
    if (ge(t, last) || lt(last - t, len - 1)) {
      return null;
    }
    return t;
  }

  /** First fit, with linear scans (io_pagetable.c: iopt_alloc_iova()). */
  static Outcome allocIova(Ioas ioas, long len, long addr) {
    if (len == 0 || ge(len, Long.MAX_VALUE)) { // len >= 2^63 - 1
      return Outcome.fail(EOVERFLOW);
    }
    long a;
    if (addr == 0) {
      a = roundUpPow2(len);
    } else {
      a = min(roundUpPow2(len), addr & -addr);
    }
    if (ge(a, HPAGE_SIZE)) {
      a = HPAGE_SIZE;
    }
    if (lt(a, ioas.align())) {
      return Outcome.fail(EINVAL);
    }
    long po = addr & (PAGE_SIZE - 1);
    long first = PAGE_SIZE;
    long last = U64_MAX - PAGE_SIZE;
    List<long[]> windows =
        ioas.allowed.isEmpty()
            ? List.of(new long[] {first, last})
            : runs(ioas.allowed, first, last);
    List<long[]> used = new ArrayList<>(ioas.reserved);
    for (Area area : ioas.areas) {
      used.add(new long[] {area.iova(), area.last()});
    }
    for (long[] w : windows) {
      Long s = fit(w[0], w[1], len, a, po);
      if (s == null) {
        continue;
      }
      for (long[] h : holes(used, s, w[1])) {
        Long t = fit(h[0], h[1], len, a, po);
        if (t != null) {
          return Outcome.ok(t);
        }
      }
    }
    return Outcome.fail(ENOSPC);
  }
}
