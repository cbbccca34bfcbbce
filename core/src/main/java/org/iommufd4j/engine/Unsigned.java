package org.iommufd4j.engine;

/**
 * Unsigned 64-bit helpers for IOVA arithmetic ({@code last} is inclusive;
 * include/uapi/linux/iommufd.h).
 */
final class Unsigned {
  static final long U64_MAX = -1L;

  private Unsigned() {}

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

  static long max(long a, long b) {
    return ge(a, b) ? a : b;
  }

  static long min(long a, long b) {
    return le(a, b) ? a : b;
  }

  /** Whether {@code start + length - 1} wraps past 2^64 - 1 ({@code length} ≥ 1). */
  static boolean lastOverflows(long start, long length) {
    return lt(start + (length - 1), start);
  }

  /** Whether {@code [s1, l1]} and {@code [s2, l2]} share an address. */
  static boolean intersects(long s1, long l1, long s2, long l2) {
    return le(s1, l2) && le(s2, l1);
  }

  static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }
}
