package org.iommufd4j.engine;

import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.lt;

import java.util.ArrayList;
import java.util.List;

/**
 * The reserved ranges of an IOAS (spec §4.2): inclusive intervals tagged with an owner (a domain's
 * aperture complement, a device's reserved regions, or {@link #TEST_OWNER} for the test op
 * ADD_RESERVED). Members may overlap each other. There are few of them (a couple per domain or
 * device), so a list sorted by start is the right structure.
 */
final class ReservedRanges {
  /** Owner of the ranges the test op ADD_RESERVED adds; they go when the IOAS is destroyed. */
  static final Object TEST_OWNER = new Object() {
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

  /** Receives the holes of a walk, in ascending order; returns true to stop the walk. */
  @FunctionalInterface
  interface HoleVisitor {
    boolean visit(long start, long last);
  }

  /**
   * Walks the holes of the union of the reserved ranges over {@code [first, last]} in ascending
   * order (spec §4.2); stops early when the visitor returns true, and then returns true.
   */
  boolean holes(long first, long last, HoleVisitor visitor) {
    long pos = first; // next address not yet known to be covered
    for (Range r : ranges) {
      if (lt(r.last, pos)) {
        continue;
      }
      if (gt(r.start, last)) {
        break;
      }
      if (gt(r.start, pos) && visitor.visit(pos, r.start - 1)) {
        return true;
      }
      if (!lt(r.last, last)) {
        return false;
      }
      pos = r.last + 1;
    }
    return visitor.visit(pos, last);
  }
}
