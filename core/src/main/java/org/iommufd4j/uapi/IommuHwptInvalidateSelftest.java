package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * One HWPT_INVALIDATE request for a mock nested HWPT, type {@code
 * IOMMU_HWPT_INVALIDATE_DATA_SELFTEST} (iommufd_test.h: struct iommu_hwpt_invalidate_selftest;
 * hw_pagetable.c: iommufd_hwpt_invalidate()).
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_invalidate_selftest {
 *   __u32 flags;      // 0 or IOMMU_TEST_INVALIDATE_FLAG_ALL
 *   __u32 iotlb_id;   // 0..3, checked even with FLAG_ALL
 * };
 * }
 */
public final class IommuHwptInvalidateSelftest {
  public static final StructLayout LAYOUT =
      struct("iommu_hwpt_invalidate_selftest", u32("flags"), u32("iotlb_id"));
  public static final int SIZE = size(LAYOUT);
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long IOTLB_ID = offset(LAYOUT, "iotlb_id");

  public static final int IOMMU_TEST_INVALIDATE_FLAG_ALL = 1;

  private IommuHwptInvalidateSelftest() {}
}
