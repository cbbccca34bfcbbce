package org.iommufd4j.engine;

import java.util.Map;
import java.util.TreeMap;

/**
 * A count per index over {@code [0, 2^62)}, stored as a step function: one entry per change of
 * value, so pinning a run of 512 pages costs a few tree operations, not 512. Used for the pin count
 * of each page of a page source and for the host-wide pin count of every frame (what MD_CHECK_REFS
 * reads, selftest.c: iommufd_test_md_check_refs()). Not thread safe.
 */
final class RangeCounter {
  /** Receives the maximal runs whose count crossed zero (0 to positive, or positive to 0). */
  @FunctionalInterface
  interface Crossing {
    void run(long first, long last);
  }

  /** key = first index of a step, value = count from there to the next key. */
  private final TreeMap<Long, Long> steps = new TreeMap<>();

  /** The count at {@code index}. */
  long get(long index) {
    Map.Entry<Long, Long> e = steps.floorEntry(index);
    return e == null ? 0 : e.getValue();
  }

  boolean isEmpty() {
    return steps.isEmpty();
  }

  /** Whether every index of {@code [first, last]} has the count {@code expected}. */
  boolean allEqual(long first, long last, long expected) {
    if (get(first) != expected) {
      return false;
    }
    for (Map.Entry<Long, Long> e : steps.subMap(first, false, last, true).entrySet()) {
      if (e.getValue() != expected) {
        return false;
      }
    }
    return true;
  }

  /**
   * Adds {@code delta} to every count in {@code [first, last]} and reports the runs that crossed
   * zero. A count never goes below 0 (that would be an unbalanced release: IllegalStateException).
   */
  void add(long first, long last, long delta, Crossing crossing) {
    long end = last + 1;
    steps.putIfAbsent(end, get(end)); // the count after the range stays as it was
    steps.putIfAbsent(first, get(first));
    long runStart = -1;
    for (Map.Entry<Long, Long> e : steps.subMap(first, true, last, true).entrySet()) {
      long before = e.getValue();
      long after = before + delta;
      if (after < 0) {
        throw new IllegalStateException("count below zero at index " + e.getKey());
      }
      e.setValue(after);
      boolean crossed = crossesZero(before, delta);
      if (crossed && runStart < 0) {
        runStart = e.getKey();
      } else if (!crossed && runStart >= 0) {
        crossing.run(runStart, e.getKey() - 1);
        runStart = -1;
      }
    }
    if (runStart >= 0) {
      crossing.run(runStart, last);
    }
    compact(first, end);
  }

  private static boolean crossesZero(long before, long delta) {
    return (before == 0) != (before + delta == 0);
  }

  /** Merges neighbouring steps of equal value around the changed range and drops trailing zeros. */
  private void compact(long first, long end) {
    Long lower = steps.lowerKey(first);
    long from = lower == null ? first : lower;
    Long prevKey = null;
    long prevValue = -1;
    var it = steps.subMap(from, true, end, true).entrySet().iterator();
    while (it.hasNext()) {
      Map.Entry<Long, Long> e = it.next();
      if (prevKey != null && e.getValue() == prevValue) {
        it.remove();
      } else {
        prevKey = e.getKey();
        prevValue = e.getValue();
      }
    }
    if (prevKey == null) {
      return;
    }
    Map.Entry<Long, Long> first0 = steps.firstEntry();
    while (first0 != null && first0.getValue() == 0) {
      steps.remove(first0.getKey());
      first0 = steps.firstEntry();
    }
  }

  /** How many indexes of {@code [first, last]} have a count above 0. */
  long countNonZero(long first, long last) {
    long n = 0;
    long at = first;
    long value = get(first);
    for (Map.Entry<Long, Long> e : steps.subMap(first, false, last, true).entrySet()) {
      if (value != 0) {
        n += e.getKey() - at;
      }
      at = e.getKey();
      value = e.getValue();
    }
    return value != 0 ? n + last - at + 1 : n;
  }

  /** Total of all counts (sum over indexes), for leak checks. */
  long total() {
    long sum = 0;
    Map.Entry<Long, Long> prev = null;
    for (Map.Entry<Long, Long> e : steps.entrySet()) {
      if (prev != null) {
        sum += prev.getValue() * (e.getKey() - prev.getKey());
      }
      prev = e;
    }
    return sum;
  }
}
