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
 * struct iommu_ioas_map {
 *   __u32 size;
 *   __u32 flags;          // IOMMU_IOAS_MAP_FIXED_IOVA | _WRITEABLE | _READABLE
 *   __u32 ioas_id;
 *   __u32 __reserved;
 *   __aligned_u64 user_va;
 *   __aligned_u64 length;
 *   __aligned_u64 iova;   // in with FIXED_IOVA, out always
 * };
 * }
 */
public final class IommuIoasMap {
  public static final StructLayout LAYOUT =
      struct(
          "iommu_ioas_map",
          u32("size"),
          u32("flags"),
          u32("ioas_id"),
          u32("__reserved"),
          u64("user_va"),
          u64("length"),
          u64("iova"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long IOAS_ID = offset(LAYOUT, "ioas_id");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final long USER_VA = offset(LAYOUT, "user_va");
  public static final long LENGTH = offset(LAYOUT, "length");
  public static final long IOVA = offset(LAYOUT, "iova");

  public static final int IOMMU_IOAS_MAP_FIXED_IOVA = 1;
  public static final int IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
  public static final int IOMMU_IOAS_MAP_READABLE = 1 << 2;

  /** A MAP argument; {@code iova} is only read with {@link #IOMMU_IOAS_MAP_FIXED_IOVA}. */
  public static Struct of(
      SegmentAllocator allocator, int flags, int ioasId, long userVa, long length, long iova) {
    return Struct.of(allocator, Command.IOMMU_IOAS_MAP)
        .u32(FLAGS, flags)
        .u32(IOAS_ID, ioasId)
        .u64(USER_VA, userVa)
        .u64(LENGTH, length)
        .u64(IOVA, iova);
  }

  private IommuIoasMap() {}
}
