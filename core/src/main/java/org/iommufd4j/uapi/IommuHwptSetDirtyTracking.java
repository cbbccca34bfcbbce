package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * {@code IOMMU_HWPT_SET_DIRTY_TRACKING} (hw_pagetable.c: iommufd_hwpt_set_dirty_tracking()).
 * Nothing is written back.
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
  public static final StructLayout LAYOUT =
      struct(
          "iommu_hwpt_set_dirty_tracking",
          u32("size"),
          u32("flags"),
          u32("hwpt_id"),
          u32("__reserved"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long HWPT_ID = offset(LAYOUT, "hwpt_id");
  public static final long RESERVED = offset(LAYOUT, "__reserved");

  public static final int IOMMU_HWPT_DIRTY_TRACKING_ENABLE = 1;

  private IommuHwptSetDirtyTracking() {}
}
