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
 * struct iommu_ioas_allow_iovas {
 *   __u32 size;
 *   __u32 ioas_id;
 *   __u32 num_iovas;
 *   __u32 __reserved;
 *   __aligned_u64 allowed_iovas;      // struct iommu_iova_range *
 * };
 * }
 */
public final class IommuIoasAllowIovas {
  public static final StructLayout LAYOUT =
      struct(
          "iommu_ioas_allow_iovas",
          u32("size"),
          u32("ioas_id"),
          u32("num_iovas"),
          u32("__reserved"),
          u64("allowed_iovas"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long IOAS_ID = offset(LAYOUT, "ioas_id");
  public static final long NUM_IOVAS = offset(LAYOUT, "num_iovas");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final long ALLOWED_IOVAS = offset(LAYOUT, "allowed_iovas");

  /** An ALLOW_IOVAS argument naming {@code numIovas} ranges at {@code allowedIovas}. */
  public static Struct of(SegmentAllocator allocator, int ioasId, int numIovas, long allowedIovas) {
    return Struct.of(allocator, Command.IOMMU_IOAS_ALLOW_IOVAS)
        .u32(IOAS_ID, ioasId)
        .u32(NUM_IOVAS, numIovas)
        .u64(ALLOWED_IOVAS, allowedIovas);
  }

  private IommuIoasAllowIovas() {}
}
