package org.iommufd4j.model;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Unsigned 64-bit comparisons and the interval walks (lib/interval_tree.c:
 * interval_tree_span_iter_first()) for the {@link ReferenceModel}: plain sorting and linear scans
 * over (start, last) pairs.
 */
final class Intervals {
  static final long U64_MAX = -1L;

  private Intervals() {}

  static boolean lt(long a, long b) {
    return Long.compareUnsigned(a, b) < 0;
  }

  static boolean le(long a, long b) {
    return Long.compareUnsigned(a, b) <= 0;
  }

  static boolean gt(long a, long b) {
    return Long.compareUnsigned(a, b) > 0;
  }

  static boolean ge(long a, long b) {
    return Long.compareUnsigned(a, b) >= 0;
  }

  static long min(long a, long b) {
    return le(a, b) ? a : b;
  }

  /** Whether {@code a + b} wraps past 2^64 - 1. */
  static boolean addOverflows(long a, long b) {
    return lt(a + b, a);
  }

  static boolean intersects(long s1, long l1, long s2, long l2) {
    return le(s1, l2) && le(s2, l1);
  }

  /**
   * The holes of the union of {@code members} over {@code [first, last]}, ascending
   * (lib/interval_tree.c: interval_tree_span_iter_first()): the maximal sub-ranges covered by no
   * member.
   */
  static List<long[]> holes(List<long[]> members, long first, long last) {
    List<long[]> sorted = new ArrayList<>(members);
    sorted.sort((x, y) -> Long.compareUnsigned(x[0], y[0]));
    List<long[]> out = new ArrayList<>();
    long pos = first; // lowest address not yet known to be covered
    for (long[] m : sorted) {
      if (lt(m[1], pos)) {
        continue;
      }
      if (gt(m[0], last)) {
        break;
      }
      if (gt(m[0], pos)) {
        out.add(new long[] {pos, m[0] - 1});
      }
      if (ge(m[1], last)) {
        return out;
      }
      pos = m[1] + 1;
    }
    out.add(new long[] {pos, last});
    return out;
  }

  /**
   * The used runs of {@code members} over {@code [first, last]} (lib/interval_tree.c:
   * interval_tree_span_iter_first()): maximal unions of members that overlap or touch, clipped to
   * the window; empty runs are dropped.
   */
  static List<long[]> runs(List<long[]> members, long first, long last) {
    List<long[]> sorted = new ArrayList<>(members);
    sorted.sort((x, y) -> Long.compareUnsigned(x[0], y[0]));
    List<long[]> merged = new ArrayList<>();
    for (long[] m : sorted) {
      long[] run = merged.isEmpty() ? null : merged.getLast();
      if (run != null && run[1] != U64_MAX && le(m[0], run[1] + 1)) {
        if (gt(m[1], run[1])) {
          run[1] = m[1];
        }
      } else {
        merged.add(new long[] {m[0], m[1]});
      }
    }
    List<long[]> out = new ArrayList<>();
    for (long[] run : merged) {
      long s = lt(run[0], first) ? first : run[0];
      long l = gt(run[1], last) ? last : run[1];
      if (le(s, l)) {
        out.add(new long[] {s, l});
      }
    }
    return out;
  }

  /** (start, last) pairs sorted by start, then last (unsigned). */
  static List<long[]> sorted(List<long[]> ranges) {
    List<long[]> out = new ArrayList<>(ranges);
    out.sort(
        Comparator.<long[]>comparingLong(x -> x[0] ^ Long.MIN_VALUE)
            .thenComparingLong(x -> x[1] ^ Long.MIN_VALUE));
    return out;
  }
}
