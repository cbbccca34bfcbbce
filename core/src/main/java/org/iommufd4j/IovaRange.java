package org.iommufd4j;

/**
 * An inclusive IOVA interval, {@code struct iommu_iova_range}: {@code start} and {@code last} are
 * unsigned 64-bit values carried in {@code long}s.
 */
public record IovaRange(long start, long last) {

  /** The range of {@code length} bytes from {@code start}; {@code length} must not be 0. */
  public static IovaRange ofLength(long start, long length) {
    if (length == 0) {
      throw new IllegalArgumentException("length=0");
    }
    return new IovaRange(start, start + length - 1);
  }

  /** Whether {@code iova} lies in the range (unsigned compare). */
  public boolean contains(long iova) {
    return Long.compareUnsigned(iova, start) >= 0 && Long.compareUnsigned(iova, last) <= 0;
  }

  @Override
  public String toString() {
    return String.format("[0x%x, 0x%x]", start, last);
  }
}
