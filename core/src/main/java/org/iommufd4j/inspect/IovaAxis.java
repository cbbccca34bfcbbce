package org.iommufd4j.inspect;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.iommufd4j.IovaRange;

/**
 * The horizontal scale of one IOVA space picture: piecewise, so that a 4 KiB area and a 16 EiB
 * reserved range are both readable. The 64-bit space is cut at every start and end of a drawn
 * range; each piece (a <em>segment</em>) gets a width of {@link #MIN_WIDTH} plus a share growing
 * with the logarithm of its length, and an empty piece that is long next to the smallest one is cut
 * out: drawn {@link #BREAK_WIDTH} wide with a break marker (so is the whole space when nothing
 * fills it). The scale is strictly monotonic and every range is at least {@link #MIN_WIDTH} wide.
 */
final class IovaAxis {
  /** Width of the narrowest segment, in pixels. */
  static final double MIN_WIDTH = 26;

  /** Width of a cut-out empty segment. */
  static final double BREAK_WIDTH = 46;

  /** An empty segment this many times longer than the shortest segment is cut out. */
  static final int BREAK_RATIO = 64;

  private static final double MIN_SLOPE = 3;
  private static final double MAX_SLOPE = 16;

  /** Cut points ascending, from 0 to 2^64. */
  private final BigInteger[] points;

  /** x of each cut point. */
  private final double[] x;

  /** Per segment {@code [points[i], points[i + 1])}: drawn as a break. */
  private final boolean[] isBreak;

  /**
   * @param filled ranges that make a segment non-empty (areas, reserved, allowed)
   * @param outlines ranges whose bounds are cut points but that do not fill (apertures)
   * @param targetWidth the width to aim for; the axis grows beyond it when segments need more
   */
  IovaAxis(List<IovaRange> filled, List<IovaRange> outlines, double targetWidth) {
    TreeSet<BigInteger> cuts = new TreeSet<>();
    cuts.add(BigInteger.ZERO);
    cuts.add(Format.TWO_64);
    for (List<IovaRange> list : List.of(filled, outlines)) {
      for (IovaRange r : list) {
        cuts.add(Format.unsigned(r.start()));
        cuts.add(Format.unsigned(r.last()).add(BigInteger.ONE));
      }
    }
    points = cuts.toArray(new BigInteger[0]);
    int n = points.length - 1;
    int[] cover = new int[n + 1];
    for (IovaRange r : filled) {
      cover[index(Format.unsigned(r.start()))]++;
      cover[index(Format.unsigned(r.last()).add(BigInteger.ONE))]--;
    }
    boolean[] empty = new boolean[n];
    BigInteger shortest = null;
    for (int i = 0, depth = 0; i < n; i++) {
      depth += cover[i];
      empty[i] = depth == 0;
      BigInteger len = points[i + 1].subtract(points[i]);
      if (shortest == null || len.compareTo(shortest) < 0) {
        shortest = len;
      }
    }
    isBreak = new boolean[n];
    double[] weight = new double[n];
    double weights = 0;
    double fixed = 0;
    for (int i = 0; i < n; i++) {
      BigInteger len = points[i + 1].subtract(points[i]);
      isBreak[i] =
          empty[i]
              && (filled.isEmpty()
                  || len.compareTo(shortest.multiply(BigInteger.valueOf(BREAK_RATIO))) >= 0);
      if (isBreak[i]) {
        fixed += BREAK_WIDTH;
      } else {
        weight[i] = log2(len) - log2(shortest);
        weights += weight[i];
        fixed += MIN_WIDTH;
      }
    }
    double slope =
        weights == 0 ? 0 : Math.clamp((targetWidth - fixed) / weights, MIN_SLOPE, MAX_SLOPE);
    x = new double[n + 1];
    for (int i = 0; i < n; i++) {
      x[i + 1] = x[i] + (isBreak[i] ? BREAK_WIDTH : MIN_WIDTH + slope * weight[i]);
    }
  }

  private static double log2(BigInteger v) {
    int shift = Math.max(0, v.bitLength() - 62);
    return shift + Math.log(v.shiftRight(shift).doubleValue()) / Math.log(2);
  }

  private int index(BigInteger point) {
    int i = Arrays.binarySearch(points, point);
    if (i < 0) {
      throw new IllegalArgumentException("not a cut point: " + point.toString(16));
    }
    return i;
  }

  /** Total width. */
  double width() {
    return x[x.length - 1];
  }

  /** x of the first address of a range starting at {@code start} (a cut point). */
  double xOfStart(long start) {
    return x[index(Format.unsigned(start))];
  }

  /** x just past a range ending at {@code last} (inclusive; {@code last + 1} is a cut point). */
  double xAfter(long last) {
    return x[index(Format.unsigned(last).add(BigInteger.ONE))];
  }

  /** The cut points with their x, ascending (the axis ticks). */
  List<Tick> ticks() {
    List<Tick> out = new ArrayList<>(points.length);
    for (int i = 0; i < points.length; i++) {
      out.add(new Tick(points[i], x[i]));
    }
    return out;
  }

  /** The cut-out segments. */
  List<Segment> breaks() {
    List<Segment> out = new ArrayList<>();
    for (int i = 0; i < isBreak.length; i++) {
      if (isBreak[i]) {
        out.add(new Segment(points[i], points[i + 1].subtract(BigInteger.ONE), x[i], x[i + 1]));
      }
    }
    return out;
  }

  /** A cut point (up to 2^64) and its x. */
  record Tick(BigInteger iova, double x) {}

  /** Addresses {@code [first, last]} drawn from {@code x0} to {@code x1}. */
  record Segment(BigInteger first, BigInteger last, double x0, double x1) {}
}
