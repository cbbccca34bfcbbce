package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 *
 *
 * {@snippet lang=c :
 * struct iommu_ioas_alloc {
 *   __u32 size;
 *   __u32 flags;
 *   __u32 out_ioas_id;
 * };
 * }
 */
public final class IommuIoasAlloc {
  public static final StructLayout LAYOUT =
      struct("iommu_ioas_alloc", u32("size"), u32("flags"), u32("out_ioas_id"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long OUT_IOAS_ID = offset(LAYOUT, "out_ioas_id");

  /** An IOAS_ALLOC argument. */
  public static Struct of(SegmentAllocator allocator) {
    return Struct.of(allocator, Command.IOMMU_IOAS_ALLOC);
  }

  private IommuIoasAlloc() {}
}
