package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * {@code IOMMU_HWPT_GET_DIRTY_BITMAP} (hw_pagetable.c: iommufd_hwpt_get_dirty_bitmap()): bit {@code
 * b} of the bitmap at {@code data} (byte {@code b / 8}, bit {@code b % 8}) stands for IOVA {@code
 * iova + b * page_size}. Bits are only set; the struct is not written back.
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_get_dirty_bitmap {
 *   __u32 size;
 *   __u32 hwpt_id;
 *   __u32 flags;          // IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR
 *   __u32 __reserved;     // must be 0
 *   __aligned_u64 iova;
 *   __aligned_u64 length;
 *   __aligned_u64 page_size;
 *   __aligned_u64 data;
 * };
 * }
 */
public final class IommuHwptGetDirtyBitmap {
  public static final StructLayout LAYOUT =
      struct(
          "iommu_hwpt_get_dirty_bitmap",
          u32("size"),
          u32("hwpt_id"),
          u32("flags"),
          u32("__reserved"),
          u64("iova"),
          u64("length"),
          u64("page_size"),
          u64("data"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long HWPT_ID = offset(LAYOUT, "hwpt_id");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final long IOVA = offset(LAYOUT, "iova");
  public static final long LENGTH = offset(LAYOUT, "length");
  public static final long PAGE_SIZE = offset(LAYOUT, "page_size");
  public static final long DATA = offset(LAYOUT, "data");

  public static final int IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

  private IommuHwptGetDirtyBitmap() {}
}
