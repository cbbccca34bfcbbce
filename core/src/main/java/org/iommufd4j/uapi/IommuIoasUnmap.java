package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 *
 *
 * {@snippet lang=c :
 * struct iommu_ioas_unmap {
 *   __u32 size;
 *   __u32 ioas_id;
 *   __aligned_u64 iova;
 *   __aligned_u64 length;  // in: bytes to cover; out: bytes unmapped
 * };
 * }
 */
public final class IommuIoasUnmap {
  public static final StructLayout LAYOUT =
      struct("iommu_ioas_unmap", u32("size"), u32("ioas_id"), u64("iova"), u64("length"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long IOAS_ID = offset(LAYOUT, "ioas_id");
  public static final long IOVA = offset(LAYOUT, "iova");
  public static final long LENGTH = offset(LAYOUT, "length");

  /** An UNMAP argument ({@code iova} 0 and {@code length} -1: unmap all). */
  public static Struct of(SegmentAllocator allocator, int ioasId, long iova, long length) {
    return Struct.of(allocator, Command.IOMMU_IOAS_UNMAP)
        .u32(IOAS_ID, ioasId)
        .u64(IOVA, iova)
        .u64(LENGTH, length);
  }

  private IommuIoasUnmap() {}
}
