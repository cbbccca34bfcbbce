package org.iommufd4j.memory;

/** Unsigned 64-bit address arithmetic shared by the {@link UserMemory} implementations. */
final class UnsignedRange {
  private UnsignedRange() {}

  /**
   * Whether {@code [address, address + length)}, {@code length != 0} (unsigned), ends at or below
   * 2^64, so its last byte {@code address + length - 1} does not wrap.
   */
  static boolean fits(long address, long length) {
    return Long.compareUnsigned(length - 1, ~address) <= 0; // ~address == 2^64 - 1 - address
  }
}
