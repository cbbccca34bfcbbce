package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The mock driver's GET_HW_INFO data, type {@code IOMMU_HW_INFO_TYPE_SELFTEST} (iommufd_test.h:
 * struct iommu_test_hw_info).
 *
 * {@snippet lang=c :
 * struct iommu_test_hw_info {
 *   __u32 flags;      // always 0
 *   __u32 test_reg;   // IOMMU_HW_INFO_SELFTEST_REGVAL
 * };
 * }
 */
public final class IommuTestHwInfo {
  public static final StructLayout LAYOUT =
      struct("iommu_test_hw_info", u32("flags"), u32("test_reg"));
  public static final int SIZE = size(LAYOUT);
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long TEST_REG = offset(LAYOUT, "test_reg");

  public static final int IOMMU_HW_INFO_SELFTEST_REGVAL = 0xdeadbeef;

  private IommuTestHwInfo() {}
}
