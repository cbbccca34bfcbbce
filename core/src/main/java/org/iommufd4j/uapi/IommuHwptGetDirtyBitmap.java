package org.iommufd4j.uapi;

/**
 * {@code IOMMU_HWPT_GET_DIRTY_BITMAP} (spec §7.4): bit {@code b} of the bitmap at {@code data}
 * (byte {@code b / 8}, bit {@code b % 8}) stands for IOVA {@code iova + b * page_size}. Bits are
 * only set; the struct is not written back.
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
  public static final int SIZE = 48;
  public static final int MIN_SIZE = 48;
  public static final long HWPT_ID = 4;
  public static final long FLAGS = 8;
  public static final long RESERVED = 12;
  public static final long IOVA = 16;
  public static final long LENGTH = 24;
  public static final long PAGE_SIZE = 32;
  public static final long DATA = 40;

  public static final int IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR = 1;

  private IommuHwptGetDirtyBitmap() {}
}
