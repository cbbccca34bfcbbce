package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The gap-augmented B+tree against a TreeMap, with its invariants checked after every step. */
class AreaTreeTest {
  private static final long SEED = Long.getLong("seed", 1234L);

  static LongStream seeds() {
    return new SplittableRandom(SEED).longs(40);
  }

  private static Area area(long iova, long length) {
    PageSource src = new PageSource(0x7f00_0000_0000L, length, true, AccountingMode.NONE, null);
    return new Area(iova, length, Area.PROT_READ, src, 0);
  }

  /** Reference first fit: first gap (from 0) of at least {@code len} addresses after {@code x}. */
  private static Long firstGapAtLeast(TreeMap<Long, Area> ref, long after, long len) {
    long prevEnd = 0;
    for (Map.Entry<Long, Area> e : ref.entrySet()) {
      Area a = e.getValue();
      if (Long.compareUnsigned(a.iova, after) > 0
          && Long.compareUnsigned(a.iova - prevEnd, len) >= 0) {
        return a.iova;
      }
      prevEnd = a.last + 1;
    }
    return null;
  }

  /**
   * Reference of {@code iopt_for_each_contig_area()}: from the area holding iova, populated areas
   * without holes.
   */
  private static List<Area> contiguousWalk(TreeMap<Long, Area> ref, long iova, long last) {
    List<Area> out = new ArrayList<>();
    long pos = iova;
    for (Area a : ref.values()) {
      if (Long.compareUnsigned(a.last, pos) < 0) {
        continue;
      }
      if (Long.compareUnsigned(a.iova, pos) > 0
          || !a.isPopulated()
          || Long.compareUnsigned(pos, last) > 0
          || out.size() > 0 && pos == 0) {
        break;
      }
      out.add(a);
      pos = a.last + 1;
    }
    return out;
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void matchesASortedMapThroughRandomInsertsAndRemoves(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    AreaTree tree = new AreaTree();
    TreeMap<Long, Area> ref = new TreeMap<>(Long::compareUnsigned);
    for (int step = 0; step < 600; step++) {
      String ctx = "seed=" + seed + " step=" + step;
      if (ref.isEmpty() || rnd.nextInt(3) != 0) {
        long iova =
            rnd.nextInt(4) == 0 ? -(1 + rnd.nextLong(1 << 20)) * 16 : rnd.nextLong(1 << 20) * 16;
        long length = 1 + rnd.nextLong(64);
        if (Unsigned.lastOverflows(iova, length) || tree.intersects(iova, iova + length - 1)) {
          continue;
        }
        Area a = area(iova, length);
        if (rnd.nextInt(8) != 0) {
          a.setPopulated();
        }
        tree.insert(a);
        ref.put(iova, a);
      } else {
        Long key = ref.ceilingKey(rnd.nextLong());
        Area a = ref.remove(key == null ? ref.firstKey() : key);
        tree.remove(a);
      }
      assertThat(tree.checkInvariants()).as(ctx).isNull();
      assertThat(tree.size()).as(ctx).isEqualTo(ref.size());
      long probe = rnd.nextLong(1 << 24);
      long len = 1 + rnd.nextLong(256);
      Area found = tree.firstGapAtLeast(probe, len);
      Long expected = firstGapAtLeast(ref, probe, len);
      assertThat(found == null ? null : found.iova).as(ctx).isEqualTo(expected);
      Area f = tree.firstEndingAtOrAfter(probe);
      Area r = null;
      for (Area a : ref.values()) {
        if (Long.compareUnsigned(a.last, probe) >= 0) {
          r = a;
          break;
        }
      }
      assertThat(f).as(ctx).isSameAs(r);
      assertThat(tree).as(ctx).containsExactlyElementsOf(ref.values());
      long last = probe + len - 1;
      assertThat(tree.overlapping(probe, last))
          .as(ctx)
          .containsExactlyElementsOf(
              ref.values().stream()
                  .filter(a -> Unsigned.intersects(a.iova, a.last, probe, last))
                  .toList());
      assertThat(tree.contiguous(probe, last))
          .as(ctx)
          .containsExactlyElementsOf(contiguousWalk(ref, probe, last));
    }
  }
}
