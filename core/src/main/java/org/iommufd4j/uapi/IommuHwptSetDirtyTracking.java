package org.iommufd4j.uapi;

/**
 * {@code IOMMU_HWPT_SET_DIRTY_TRACKING} (spec §7.3). Nothing is written back.
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_set_dirty_tracking {
 *   __u32 size;
 *   __u32 flags;        // IOMMU_HWPT_DIRTY_TRACKING_ENABLE
 *   __u32 hwpt_id;
 *   __u32 __reserved;   // not checked in 6.12
 * };
 * }
 */
public final class IommuHwptSetDirtyTracking {
  public static final int SIZE = 16;
  public static final int MIN_SIZE = 16;
  public static final long FLAGS = 4;
  public static final long HWPT_ID = 8;
  public static final long RESERVED = 12;

  public static final int IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;

  private IommuHwptSetDirtyTracking() {}
}
