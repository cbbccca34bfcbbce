package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.iommufd4j.uapi.IommuIovaRange;

/** Elements of a native {@code struct iommu_iova_range} array (include/uapi/linux/iommufd.h). */
final class RangeArray {
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private RangeArray() {}

  static void set(MemorySegment array, int index, IovaRange range) {
    set(array, index, range.start(), range.last());
  }

  static void set(MemorySegment array, int index, long start, long last) {
    long at = (long) index * IommuIovaRange.SIZE;
    array.set(U64, at + IommuIovaRange.START, start);
    array.set(U64, at + IommuIovaRange.LAST, last);
  }

  static IovaRange get(MemorySegment array, int index) {
    long at = (long) index * IommuIovaRange.SIZE;
    return new IovaRange(
        array.get(U64, at + IommuIovaRange.START), array.get(U64, at + IommuIovaRange.LAST));
  }
}
