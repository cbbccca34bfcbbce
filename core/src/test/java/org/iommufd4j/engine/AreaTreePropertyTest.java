package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.iommufd4j.Errno;
import org.iommufd4j.memory.SimulatedMemory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The B+tree of areas and the allocator over it against deliberately simple references: a {@link
 * TreeMap} of areas, and first fit by walking the holes of that map and the reserved ranges inside
 * the allowed runs, as io_pagetable.c: iopt_alloc_iova() describes it. The default run is 60,000
 * seeded operations per fan-out for the tree and a tenth of that for the allocator (a few seconds);
 * {@code -Dareas.ops=5000000} runs millions (the seed is {@code -Dseed}, printed on failure with
 * the step). Small fan-outs make every split, merge and redistribution happen at every level within
 * a few hundred areas. A third test does the same with areas stored as rows (as MAP without a
 * domain leaves them), made into {@link Area} objects at random as the engine would.
 */
class AreaTreePropertyTest {
  private static final long SEED = Long.getLong("seed", 1234L);
  private static final int OPS = Integer.getInteger("areas.ops", 60_000);
  private static final long PAGE = PageSource.PAGE_SIZE;
  private static final long U64_MAX = -1L;

  private static Area area(long iova, long length) {
    PageSource src = new PageSource(0x7f00_0000_0000L, length, true, AccountingMode.NONE, null);
    Area a = new Area(iova, length, Area.PROT_READ, src, 0);
    a.setPopulated();
    return a;
  }

  /** An IOVA that often lands next to or on existing areas, sometimes near the top of the space. */
  private static long iova(SplittableRandom rnd, TreeMap<Long, Area> ref, long span) {
    int kind = rnd.nextInt(10);
    if (kind < 3 && !ref.isEmpty()) {
      Map.Entry<Long, Area> e = ref.ceilingEntry(rnd.nextLong(span));
      Area a = (e == null ? ref.firstEntry() : e).getValue();
      return kind == 0 ? a.last + 1 : kind == 1 ? a.iova - 16 * (1 + rnd.nextInt(4)) : a.iova;
    }
    if (kind == 3) {
      return -16 * (1 + rnd.nextLong(1 << 12));
    }
    return rnd.nextLong(span) & -16;
  }

  private static Area refFirstEndingAtOrAfter(TreeMap<Long, Area> ref, long addr) {
    Map.Entry<Long, Area> below = ref.floorEntry(addr);
    if (below != null && Long.compareUnsigned(below.getValue().last, addr) >= 0) {
      return below.getValue();
    }
    Map.Entry<Long, Area> above = ref.higherEntry(addr);
    return above == null ? null : above.getValue();
  }

  private static Area refFirstGapAtLeast(TreeMap<Long, Area> ref, long after, long len) {
    Map.Entry<Long, Area> e = ref.higherEntry(after);
    while (e != null) {
      Map.Entry<Long, Area> before = ref.lowerEntry(e.getKey());
      long gapStart = before == null ? 0 : before.getValue().last + 1;
      if (Long.compareUnsigned(e.getKey() - gapStart, len) >= 0) {
        return e.getValue();
      }
      e = ref.higherEntry(e.getKey());
    }
    return null;
  }

  @ParameterizedTest(name = "fanout {0}")
  @ValueSource(ints = {4, 5, 8, AreaTree.DEFAULT_FANOUT})
  void everyQueryAnswersAsASortedMapThroughRandomInsertsAndRemoves(int fanout) {
    SplittableRandom rnd = new SplittableRandom(SEED ^ fanout);
    AreaTree tree = new AreaTree(fanout);
    TreeMap<Long, Area> ref = new TreeMap<>(Long::compareUnsigned);
    long span = 1L << 22;
    int target = 64;
    for (int step = 0; step < OPS; step++) {
      String ctx = "seed=" + SEED + " fanout=" + fanout + " step=" + step;
      if (step % 4096 == 0) { // grow and shrink in phases: whole levels appear and go
        target = 1 << (2 + rnd.nextInt(fanout == AreaTree.DEFAULT_FANOUT ? 12 : 10));
      }
      boolean grow = ref.size() < target ? rnd.nextInt(8) != 0 : rnd.nextInt(8) == 0;
      if (grow || ref.isEmpty()) {
        long start = iova(rnd, ref, span);
        long length = 1 + rnd.nextLong(rnd.nextInt(4) == 0 ? 1 << 16 : 64);
        if (Unsigned.lastOverflows(start, length)) {
          continue;
        }
        Area a = area(start, length);
        boolean free =
            refFirstEndingAtOrAfter(ref, start) == null
                || Long.compareUnsigned(refFirstEndingAtOrAfter(ref, start).iova, a.last) > 0;
        assertThat(tree.insertIfFree(a)).as(ctx + " insert " + a).isEqualTo(free);
        if (free) {
          ref.put(start, a);
        }
      } else {
        Map.Entry<Long, Area> e = ref.ceilingEntry(rnd.nextLong());
        Area a = (e == null ? ref.firstEntry() : e).getValue();
        if (rnd.nextBoolean()) { // as UNMAP does: look the area up, then remove what was found
          assertThat(tree.firstEndingAtOrAfter(a.iova)).as(ctx).isSameAs(a);
          if (rnd.nextInt(4) == 0) { // another lookup in between: the removal must not trust it
            tree.find(rnd.nextLong(span));
          }
        }
        ref.remove(a.iova);
        tree.remove(a);
      }
      if (ref.size() < 200 || step % 211 == 0) {
        assertThat(tree.checkInvariants()).as(ctx).isNull();
      }
      assertThat(tree.size()).as(ctx).isEqualTo(ref.size());
      long probe = rnd.nextInt(16) == 0 ? -rnd.nextLong(1 << 16) : rnd.nextLong(span);
      long len = 1 + rnd.nextLong(rnd.nextInt(4) == 0 ? 1 << 14 : 256);
      Area at = refFirstEndingAtOrAfter(ref, probe);
      assertThat(tree.firstEndingAtOrAfter(probe)).as(ctx).isSameAs(at);
      assertThat(tree.find(probe))
          .as(ctx)
          .isSameAs(at != null && Long.compareUnsigned(at.iova, probe) <= 0 ? at : null);
      Map.Entry<Long, Area> below = ref.lowerEntry(probe);
      assertThat(tree.lastStartingBelow(probe))
          .as(ctx)
          .isSameAs(below == null ? null : below.getValue());
      Area gap = refFirstGapAtLeast(ref, probe, len);
      assertThat(tree.firstGapAtLeast(probe, len)).as(ctx + " len=" + len).isSameAs(gap);
      if (gap != null) {
        Map.Entry<Long, Area> before = ref.lowerEntry(gap.iova);
        assertThat(tree.gapStartBefore(gap))
            .as(ctx)
            .isEqualTo(before == null ? 0 : before.getValue().last + 1);
      }
      assertThat(tree.lastArea())
          .as(ctx)
          .isSameAs(ref.isEmpty() ? null : ref.lastEntry().getValue());
      if (step % 997 == 0) {
        assertThat(tree).as(ctx).containsExactlyElementsOf(ref.values());
        long last = probe + len - 1;
        if (Long.compareUnsigned(last, probe) >= 0) {
          assertThat(tree.overlapping(probe, last))
              .as(ctx)
              .containsExactlyElementsOf(
                  ref.values().stream()
                      .filter(a -> Unsigned.intersects(a.iova, a.last, probe, last))
                      .toList());
        }
      }
    }
    assertThat(tree.checkInvariants()).isNull();
    while (!ref.isEmpty()) {
      tree.remove(ref.pollFirstEntry().getValue());
    }
    assertThat(tree.checkInvariants()).isNull();
    assertThat(tree.isEmpty()).isTrue();
  }

  /** The allocator's inputs besides the areas: reserved ranges and allowed (start, last) pairs. */
  private static final class Ranges {
    final List<long[]> reserved = new ArrayList<>();
    long[] allowed = new long[0];
  }

  private static long roundUpPow2(long v) {
    long p = 1;
    while (Long.compareUnsigned(p, v) < 0) {
      p <<= 1;
    }
    return p;
  }

  private static Long fit(long start, long last, long len, long a, long po) {
    long t = start + (a - 1);
    if (Long.compareUnsigned(t, start) < 0) {
      return null;
    }
    t = (t & ~(a - 1)) | po;
    if (Long.compareUnsigned(t, last) >= 0 || Long.compareUnsigned(last - t, len - 1) < 0) {
      return null;
    }
    return t;
  }

  /**
   * First fit read literally: for each allowed run (touching ranges merged) clipped to [4 KiB, 2^64
   * - 4 KiB - 1], the aligned start, then every hole of areas ∪ reserved from there, in order.
   * Returns the IOVA or the errno's name.
   */
  private static Object refAllocate(
      TreeMap<Long, Area> areas, Ranges r, long len, long hint, long ioasAlign) {
    long a = roundUpPow2(len);
    if (hint != 0) {
      a = Unsigned.min(a, hint & -hint);
    }
    if (Long.compareUnsigned(a, IoPagetable.HPAGE_SIZE) >= 0) {
      a = IoPagetable.HPAGE_SIZE;
    }
    if (Long.compareUnsigned(a, ioasAlign) < 0) {
      return Errno.EINVAL;
    }
    long po = hint & (PAGE - 1);
    List<long[]> windows = new ArrayList<>();
    if (r.allowed.length == 0) {
      windows.add(new long[] {PAGE, U64_MAX - PAGE});
    } else {
      for (int i = 0; i < r.allowed.length; i += 2) {
        long[] run = windows.isEmpty() ? null : windows.getLast();
        if (run != null && run[1] != U64_MAX && r.allowed[i] == run[1] + 1) {
          run[1] = r.allowed[i + 1];
        } else {
          windows.add(new long[] {r.allowed[i], r.allowed[i + 1]});
        }
      }
      for (long[] w : windows) {
        w[0] = Unsigned.max(w[0], PAGE);
        w[1] = Unsigned.min(w[1], U64_MAX - PAGE);
      }
    }
    for (long[] w : windows) {
      if (Long.compareUnsigned(w[0], w[1]) > 0) {
        continue;
      }
      Long s = fit(w[0], w[1], len, a, po);
      if (s == null) {
        continue;
      }
      List<long[]> used = new ArrayList<>(r.reserved);
      Map.Entry<Long, Area> from = areas.floorEntry(s);
      for (Area area : areas.tailMap(from == null ? s : from.getKey(), true).values()) {
        if (Long.compareUnsigned(area.iova, w[1]) > 0) {
          break;
        }
        used.add(new long[] {area.iova, area.last});
      }
      used.sort((x, y) -> Long.compareUnsigned(x[0], y[0]));
      long pos = s;
      boolean covered = false;
      for (long[] u : used) {
        if (Long.compareUnsigned(u[1], pos) < 0) {
          continue;
        }
        if (Long.compareUnsigned(u[0], w[1]) > 0) {
          break;
        }
        if (Long.compareUnsigned(u[0], pos) > 0) {
          Long t = fit(pos, u[0] - 1, len, a, po);
          if (t != null) {
            return t;
          }
        }
        if (Long.compareUnsigned(u[1], w[1]) >= 0) {
          covered = true;
          break;
        }
        pos = u[1] + 1;
      }
      if (!covered) {
        Long t = fit(pos, w[1], len, a, po);
        if (t != null) {
          return t;
        }
      }
    }
    return Errno.ENOSPC;
  }

  /** New reserved ranges and allowed runs, none of them hitting an area or each other. */
  private static void reshuffleRanges(
      SplittableRandom rnd, TreeMap<Long, Area> areas, Ranges r, ReservedRanges reserved) {
    reserved.removeOwner(ReservedRanges.TEST_OWNER);
    r.reserved.clear();
    for (int i = rnd.nextInt(4); i > 0; i--) {
      long start = rnd.nextLong(1L << 26) & -PAGE;
      long last = start + rnd.nextLong(1L << 20);
      Area hit = refFirstEndingAtOrAfter(areas, start);
      if (hit == null || Long.compareUnsigned(hit.iova, last) > 0) {
        reserved.add(start, last, ReservedRanges.TEST_OWNER);
        r.reserved.add(new long[] {start, last});
      }
    }
    List<Long> allowed = new ArrayList<>();
    if (rnd.nextBoolean()) {
      long pos = 0;
      for (int i = 1 + rnd.nextInt(4); i > 0; i--) {
        long start = pos + (rnd.nextBoolean() ? 0 : rnd.nextLong(1L << 22));
        long last = start + 1 + rnd.nextLong(1L << 24);
        boolean clash = false;
        for (long[] res : r.reserved) {
          clash |= Unsigned.intersects(res[0], res[1], start, last);
        }
        if (!clash) {
          allowed.add(start);
          allowed.add(last);
        }
        pos = last + 1;
      }
    }
    r.allowed = allowed.stream().mapToLong(Long::longValue).toArray();
  }

  @ParameterizedTest(name = "fanout {0}")
  @ValueSource(ints = {4, AreaTree.DEFAULT_FANOUT})
  void automaticPlacementIsTheLiteralFirstFitWithAlignmentAllowedAndReservedRanges(int fanout) {
    SplittableRandom rnd = new SplittableRandom(SEED ^ (31L * fanout));
    AreaTree tree = new AreaTree(fanout);
    ReservedRanges reserved = new ReservedRanges();
    IovaAllocator allocator = new IovaAllocator(tree, reserved);
    TreeMap<Long, Area> ref = new TreeMap<>(Long::compareUnsigned);
    Ranges ranges = new Ranges();
    int ops = OPS / 10;
    for (int step = 0; step < ops; step++) {
      String ctx = "seed=" + SEED + " fanout=" + fanout + " step=" + step;
      if (step % 2000 == 0) {
        reshuffleRanges(rnd, ref, ranges, reserved);
      }
      if (ref.size() > 1500 || (!ref.isEmpty() && rnd.nextInt(3) == 0)) {
        Map.Entry<Long, Area> e = ref.ceilingEntry(rnd.nextLong(1L << 26));
        Area a = (e == null ? ref.firstEntry() : e).getValue();
        ref.remove(a.iova);
        tree.remove(a);
        continue;
      }
      long len =
          switch (rnd.nextInt(4)) {
            case 0 -> PAGE;
            case 1 -> PAGE * (1 + rnd.nextLong(64));
            case 2 -> 1 + rnd.nextLong(1 << 16);
            default -> PAGE << rnd.nextInt(12);
          };
      long hint =
          switch (rnd.nextInt(4)) {
            case 0 -> 0;
            case 1 -> 0x7f00_0000_0000L + PAGE * rnd.nextLong(1 << 10);
            case 2 -> 0x7f00_0000_0000L + rnd.nextLong(1 << 20);
            default -> 1L << (12 + rnd.nextInt(30));
          };
      long ioasAlign = rnd.nextInt(3) == 0 ? PAGE : 1;
      Object expected = refAllocate(ref, ranges, len, hint, ioasAlign);
      String what = ctx + String.format(" len=0x%x hint=0x%x align=0x%x", len, hint, ioasAlign);
      if (expected instanceof Errno errno) {
        assertThatThrownBy(() -> allocator.allocate(len, hint, ioasAlign, ranges.allowed))
            .as(what)
            .isInstanceOfSatisfying(
                ErrnoException.class, e -> assertThat(e.errno()).isEqualTo(errno));
        continue;
      }
      long iova = allocator.allocate(len, hint, ioasAlign, ranges.allowed);
      assertThat(iova).as(what).isEqualTo((long) (Long) expected);
      Area a = area(iova, len);
      tree.insert(a);
      ref.put(iova, a);
      if (step % 101 == 0) {
        assertThat(tree.checkInvariants()).as(ctx).isNull();
      }
    }
  }

  /** What a reference row holds: the bounds and what the tree row must answer. */
  private record Row(long iova, long last, Caller owner, long userVa, int prot, boolean writable) {}

  private static void assertRowAnswers(AreaTree tree, Row r, String ctx) {
    assertThat(tree.atFirst()).as(ctx).isEqualTo(r.iova());
    assertThat(tree.atLast()).as(ctx).isEqualTo(r.last());
    assertThat(tree.atProt()).as(ctx).isEqualTo(r.prot());
    assertThat(tree.atPopulated()).as(ctx).isTrue();
  }

  private static void assertAreaIs(Area a, Row r, String ctx) {
    assertThat(a.iova).as(ctx).isEqualTo(r.iova());
    assertThat(a.last).as(ctx).isEqualTo(r.last());
    assertThat(a.owner()).as(ctx).isSameAs(r.owner());
    assertThat(a.userAddress()).as(ctx).isEqualTo(r.userVa());
    assertThat(a.prot()).as(ctx).isEqualTo(r.prot());
    assertThat(a.writableMemory()).as(ctx).isEqualTo(r.writable());
    assertThat(a.isPopulated()).as(ctx).isTrue();
    assertThat(a.pinUsers(0)).as(ctx).isZero();
  }

  @ParameterizedTest(name = "fanout {0}")
  @ValueSource(ints = {4, 5, AreaTree.DEFAULT_FANOUT})
  void rowsAnswerAsTheAreasTheyStandForWhetherMadeOrNot(int fanout) {
    SplittableRandom rnd = new SplittableRandom(SEED ^ (17L * fanout));
    SimulatedMemory memory = SimulatedMemory.create();
    Caller[] owners = {
      new Caller(memory, 1, 1000, false, false, -1), new Caller(memory, 2, 0, true, false, -1)
    };
    AreaTree tree = new AreaTree(fanout);
    TreeMap<Long, Row> ref = new TreeMap<>(Long::compareUnsigned);
    IdentityHashMap<Row, Area> made = new IdentityHashMap<>(); // the rows made into areas
    long span = 1L << 24;
    int target = 64;
    for (int step = 0; step < OPS; step++) {
      String ctx = "seed=" + SEED + " fanout=" + fanout + " step=" + step;
      if (step % 4096 == 0) {
        target = 1 << (2 + rnd.nextInt(11));
      }
      boolean grow = ref.size() < target ? rnd.nextInt(8) != 0 : rnd.nextInt(8) == 0;
      if (grow || ref.isEmpty()) {
        long start = rnd.nextLong(span) & -PAGE;
        long length = PAGE * (1 + rnd.nextLong(rnd.nextInt(4) == 0 ? 64 : 4));
        Row r =
            new Row(
                start,
                start + length - 1,
                owners[rnd.nextInt(2)],
                0x7f00_0000_0000L + rnd.nextLong(1L << 30),
                1 + rnd.nextInt(3),
                rnd.nextBoolean());
        boolean free = !tree.intersects(r.iova(), r.last());
        Map.Entry<Long, Row> hit = ref.floorEntry(r.last());
        assertThat(free)
            .as(ctx)
            .isEqualTo(hit == null || Long.compareUnsigned(hit.getValue().last(), r.iova()) < 0);
        int flags = Area.rowFlags(r.prot(), r.writable(), AccountingMode.NONE, true);
        assertThat(tree.insertRowIfFree(r.iova(), r.last(), r.owner(), r.userVa(), flags))
            .as(ctx)
            .isEqualTo(free);
        if (free) {
          ref.put(r.iova(), r);
        }
      } else {
        Map.Entry<Long, Row> e = ref.ceilingEntry(rnd.nextLong(span));
        Row r = (e == null ? ref.firstEntry() : e).getValue();
        assertThat(tree.seekEndingAtOrAfter(r.iova())).as(ctx).isTrue(); // as UNMAP does
        assertRowAnswers(tree, r, ctx);
        assertThat(tree.atAreaIfMade()).as(ctx).isSameAs(made.get(r));
        ref.remove(r.iova());
        if (made.containsKey(r) && rnd.nextBoolean()) {
          tree.remove(made.remove(r));
        } else {
          made.remove(r);
          tree.removeStartingAt(r.iova());
        }
      }
      assertThat(tree.size()).as(ctx).isEqualTo(ref.size());
      long probe = rnd.nextLong(span);
      Map.Entry<Long, Row> below = ref.floorEntry(probe);
      Row at =
          below != null && Long.compareUnsigned(below.getValue().last(), probe) >= 0
              ? below.getValue()
              : ref.higherEntry(probe) == null ? null : ref.higherEntry(probe).getValue();
      assertThat(tree.seekEndingAtOrAfter(probe)).as(ctx).isEqualTo(at != null);
      if (at != null) {
        assertRowAnswers(tree, at, ctx);
        assertThat(tree.atAreaIfMade()).as(ctx).isSameAs(made.get(at));
        if (rnd.nextInt(8) == 0) { // the engine asks for the object: made once, kept
          Area a = tree.atArea();
          assertAreaIs(a, at, ctx);
          assertThat(made.computeIfAbsent(at, k -> a)).as(ctx).isSameAs(a);
          assertThat(tree.find(at.iova())).as(ctx).isSameAs(a);
        }
        if (tree.seekNext()) {
          assertRowAnswers(tree, ref.higherEntry(at.iova()).getValue(), ctx);
        } else {
          assertThat(ref.higherEntry(at.iova())).as(ctx).isNull();
        }
      }
      long len = 1 + rnd.nextLong(rnd.nextInt(4) == 0 ? 1 << 18 : 1 << 13);
      Map.Entry<Long, Row> gapAt = ref.higherEntry(probe);
      while (gapAt != null) {
        Map.Entry<Long, Row> before = ref.lowerEntry(gapAt.getKey());
        long gapStart = before == null ? 0 : before.getValue().last() + 1;
        if (Long.compareUnsigned(gapAt.getKey() - gapStart, len) >= 0) {
          break;
        }
        gapAt = ref.higherEntry(gapAt.getKey());
      }
      assertThat(tree.seekGapAtLeast(probe, len)).as(ctx).isEqualTo(gapAt != null);
      if (gapAt != null) {
        assertRowAnswers(tree, gapAt.getValue(), ctx);
        Map.Entry<Long, Row> before = ref.lowerEntry(gapAt.getKey());
        assertThat(tree.atGapStart())
            .as(ctx)
            .isEqualTo(before == null ? 0 : before.getValue().last() + 1);
      }
      if (!ref.isEmpty()) {
        assertThat(tree.maxLast()).as(ctx).isEqualTo(ref.lastEntry().getValue().last());
      }
      if (ref.size() < 200 || step % 211 == 0) {
        assertThat(tree.checkInvariants()).as(ctx).isNull();
      }
      if (step % 997 == 0) { // a read-only walk answers every row and makes none
        List<Row> rows = new ArrayList<>(ref.values());
        int k = 0;
        for (Area a : tree.readOnly()) {
          assertAreaIs(a, rows.get(k), ctx + " row " + k);
          if (made.containsKey(rows.get(k))) {
            assertThat(a).as(ctx).isSameAs(made.get(rows.get(k)));
          }
          k++;
        }
        assertThat(k).as(ctx).isEqualTo(rows.size());
        for (Row r : rows) {
          assertThat(tree.seekEndingAtOrAfter(r.iova())).isTrue();
          assertThat(tree.atAreaIfMade()).as(ctx).isSameAs(made.get(r));
        }
      }
    }
    while (!ref.isEmpty()) {
      Row r = ref.pollFirstEntry().getValue();
      tree.removeStartingAt(r.iova());
    }
    assertThat(tree.checkInvariants()).isNull();
    assertThat(tree.isEmpty()).isTrue();
  }
}
