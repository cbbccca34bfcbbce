package org.iommufd4j.engine;

import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.lt;

import java.util.ArrayList;
import java.util.List;

/**
 * The reserved ranges of an IOAS (io_pagetable.c: iopt_reserve_iova()): inclusive intervals tagged
 * with an owner (a domain's aperture complement, a device's reserved regions, or {@link
 * #TEST_OWNER} for the test op ADD_RESERVED). Members may overlap each other. There are few of them
 * (a couple per domain or device), so a list sorted by start is the right structure.
 */
final class ReservedRanges {
  /** Owner of the ranges the test op ADD_RESERVED adds; they go when the IOAS is destroyed. */
  static final Object TEST_OWNER =
      new Object() {
        @Override
        public String toString() {
          return "test";
        }
      };

  record Range(long start, long last, Object owner) {}

  private final ArrayList<Range> ranges = new ArrayList<>();

  boolean isEmpty() {
    return ranges.isEmpty();
  }

  List<Range> ranges() {
    return List.copyOf(ranges);
  }

  boolean intersects(long start, long last) {
    for (Range r : ranges) {
      if (gt(r.start, last)) {
        return false;
      }
      if (Unsigned.intersects(r.start, r.last, start, last)) {
        return true;
      }
    }
    return false;
  }

  void add(long start, long last, Object owner) {
    int i = 0;
    while (i < ranges.size() && !gt(ranges.get(i).start, start)) {
      i++;
    }
    ranges.add(i, new Range(start, last, owner));
  }

  void removeOwner(Object owner) {
    ranges.removeIf(r -> r.owner == owner);
  }

  /** What a {@link HoleVisitor} returns to see the next hole. */
  static final long CONTINUE = 1;

  /** Receives the holes of a walk, in ascending order. */
  @FunctionalInterface
  interface HoleVisitor {
    /** A result that ends the walk, or {@link #CONTINUE}. */
    long visit(long start, long last);
  }

  /**
   * Walks the holes of the union of the reserved ranges over {@code [first, last]} in ascending
   * order (lib/interval_tree.c: interval_tree_span_iter_first()) until the visitor returns
   * something other than {@link #CONTINUE}; returns that, or {@link #CONTINUE} when every hole was
   * visited.
   */
  long holes(long first, long last, HoleVisitor visitor) {
    long pos = first; // next address not yet known to be covered
    for (Range r : ranges) {
      if (lt(r.last, pos)) {
        continue;
      }
      if (gt(r.start, last)) {
        break;
      }
      if (gt(r.start, pos)) {
        long result = visitor.visit(pos, r.start - 1);
        if (result != CONTINUE) {
          return result;
        }
      }
      if (!lt(r.last, last)) {
        return CONTINUE;
      }
      pos = r.last + 1;
    }
    return visitor.visit(pos, last);
  }
}
