package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * HWPT_ALLOC driver data of a mock nested HWPT, type {@code IOMMU_HWPT_DATA_SELFTEST}
 * (iommufd_test.h: struct iommu_hwpt_selftest; selftest.c: __mock_domain_alloc_nested()).
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_selftest {
 *   __u32 iotlb;   // initial value of the four mock IOTLB slots
 * };
 * }
 */
public final class IommuHwptSelftest {
  public static final StructLayout LAYOUT = struct("iommu_hwpt_selftest", u32("iotlb"));
  public static final int SIZE = size(LAYOUT);
  public static final long IOTLB = offset(LAYOUT, "iotlb");

  public static final int IOMMU_TEST_IOTLB_DEFAULT = 0x0badbeef;
  public static final int MOCK_NESTED_DOMAIN_IOTLB_ID_MAX = 3;
  public static final int MOCK_NESTED_DOMAIN_IOTLB_NUM = 4;

  private IommuHwptSelftest() {}
}
