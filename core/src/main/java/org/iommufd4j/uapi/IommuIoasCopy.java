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
 * struct iommu_ioas_copy {
 *   __u32 size;
 *   __u32 flags;          // map flags of the new mapping
 *   __u32 dst_ioas_id;
 *   __u32 src_ioas_id;
 *   __aligned_u64 length;
 *   __aligned_u64 dst_iova;
 *   __aligned_u64 src_iova;
 * };
 * }
 */
public final class IommuIoasCopy {
  public static final StructLayout LAYOUT =
      struct(
          "iommu_ioas_copy",
          u32("size"),
          u32("flags"),
          u32("dst_ioas_id"),
          u32("src_ioas_id"),
          u64("length"),
          u64("dst_iova"),
          u64("src_iova"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long DST_IOAS_ID = offset(LAYOUT, "dst_ioas_id");
  public static final long SRC_IOAS_ID = offset(LAYOUT, "src_ioas_id");
  public static final long LENGTH = offset(LAYOUT, "length");
  public static final long DST_IOVA = offset(LAYOUT, "dst_iova");
  public static final long SRC_IOVA = offset(LAYOUT, "src_iova");

  /** A COPY argument; {@code dstIova} is only read with {@code IOMMU_IOAS_MAP_FIXED_IOVA}. */
  public static Struct of(
      SegmentAllocator allocator,
      int flags,
      int dstIoasId,
      int srcIoasId,
      long length,
      long dstIova,
      long srcIova) {
    return Struct.of(allocator, Command.IOMMU_IOAS_COPY)
        .u32(FLAGS, flags)
        .u32(DST_IOAS_ID, dstIoasId)
        .u32(SRC_IOAS_ID, srcIoasId)
        .u64(LENGTH, length)
        .u64(DST_IOVA, dstIova)
        .u64(SRC_IOVA, srcIova);
  }

  private IommuIoasCopy() {}
}
