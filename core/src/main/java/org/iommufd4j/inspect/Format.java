package org.iommufd4j.inspect;

import java.math.BigInteger;
import java.util.Locale;
import org.iommufd4j.IovaRange;

/** Number formats shared by the renderings: hex addresses, byte sizes, page-size bitmaps. */
final class Format {
  private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  private static final String[] SHORT_UNITS = {"", "K", "M", "G", "T", "P", "E"};
  static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

  private Format() {}

  /** {@code 0x1000}: lower case, no padding; u64 values read unsigned. */
  static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  /** {@code v} as an unsigned value. */
  static BigInteger unsigned(long v) {
    return new BigInteger(Long.toUnsignedString(v));
  }

  /** The number of addresses in {@code [start, last]} (up to 2^64). */
  static BigInteger length(long start, long last) {
    return unsigned(last).subtract(unsigned(start)).add(BigInteger.ONE);
  }

  static BigInteger length(IovaRange r) {
    return length(r.start(), r.last());
  }

  /**
   * A byte count in binary units: exact when it is a whole number of the largest unit that fits
   * ({@code 2 MiB}), else with one decimal and a tilde ({@code ~255.9 TiB}).
   */
  /** "1 area", "2 areas": a count with its noun. */
  static String count(long n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  static String size(BigInteger bytes) {
    int unit = 0;
    while (unit < UNITS.length - 1
        && bytes.compareTo(BigInteger.ONE.shiftLeft(10 * (unit + 1))) >= 0) {
      unit++;
    }
    BigInteger[] qr = bytes.divideAndRemainder(BigInteger.ONE.shiftLeft(10 * unit));
    if (qr[1].signum() == 0) {
      return qr[0] + " " + UNITS[unit];
    }
    double v = bytes.doubleValue() / Math.pow(2, 10 * unit);
    String digits = v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f"; // three significant digits
    return String.format(Locale.ROOT, "~" + digits + " %s", v, UNITS[unit]);
  }

  static String size(long start, long last) {
    return size(length(start, last));
  }

  /** The page sizes of a bitmap, smallest first: {@code 4K 2M 1G}; {@code -} for none. */
  static String pageSizes(long bitmap) {
    if (bitmap == 0) {
      return "-";
    }
    StringBuilder sb = new StringBuilder();
    for (long bits = bitmap; bits != 0; bits &= bits - 1) {
      int shift = Long.numberOfTrailingZeros(bits);
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      sb.append(1L << (shift % 10)).append(SHORT_UNITS[shift / 10]);
    }
    return sb.toString();
  }

  /** {@code [0x1000, 0x1fff]}, or {@code -} for null. */
  static String range(IovaRange r) {
    return r == null ? "-" : "[" + hex(r.start()) + ", " + hex(r.last()) + "]";
  }
}
