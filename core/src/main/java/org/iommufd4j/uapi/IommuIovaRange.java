package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 *
 *
 * {@snippet lang=c :
 * struct iommu_iova_range {
 *   __aligned_u64 start;
 *   __aligned_u64 last;
 * };
 * }
 */
public final class IommuIovaRange {
  public static final StructLayout LAYOUT = struct("iommu_iova_range", u64("start"), u64("last"));
  public static final int SIZE = size(LAYOUT);
  public static final long START = offset(LAYOUT, "start");
  public static final long LAST = offset(LAYOUT, "last");

  /**
   * {@code count} zeroed ranges for {@code allowed_iovas}; range {@code i} is at {@code i * SIZE}
   * ({@code array.u64(i * SIZE + START)}).
   */
  public static Struct array(SegmentAllocator allocator, int count) {
    return Struct.over(allocator.allocate(MemoryLayout.sequenceLayout(count, LAYOUT)), LAYOUT);
  }

  private IommuIovaRange() {}
}
