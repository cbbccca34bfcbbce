package org.iommufd4j.uapi;

/**
 * HWPT_ALLOC driver data of a mock nested HWPT, type {@code IOMMU_HWPT_DATA_SELFTEST} (spec §6.2,
 * §6.3.3).
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_selftest {
 *   __u32 iotlb;   // initial value of the four mock IOTLB slots
 * };
 * }
 */
public final class IommuHwptSelftest {
  public static final int SIZE = 4;
  public static final long IOTLB = 0;

  public static final int IOMMU_TEST_IOTLB_DEFAULT = 0x0badbeef;
  public static final int MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3;
  public static final int MOCK_NESTED_DOMAIN_IOTLB_NUM = 4;

  private IommuHwptSelftest() {}
}
