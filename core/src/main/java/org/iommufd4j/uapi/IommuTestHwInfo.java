package org.iommufd4j.uapi;

/**
 * The mock driver's GET_HW_INFO data, type {@code IOMMU_HW_INFO_TYPE_SELFTEST} (spec §6.2).
 *
 * {@snippet lang=c :
 * struct iommu_test_hw_info {
 *   __u32 flags;      // always 0
 *   __u32 test_reg;   // IOMMU_HW_INFO_SELFTEST_REGVAL
 * };
 * }
 */
public final class IommuTestHwInfo {
  public static final int SIZE = 8;
  public static final long FLAGS = 0;
  public static final long TEST_REG = 4;

  public static final int IOMMU_HW_INFO_SELFTEST_REGVAL = 0xdeadbeef;

  private IommuTestHwInfo() {}
}
