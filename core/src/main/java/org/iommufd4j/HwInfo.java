package org.iommufd4j;

import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_CAP_DIRTY_TRACKING;

/**
 * What {@code IOMMU_GET_HW_INFO} says of a device's IOMMU (device.c: iommufd_get_hw_info()): {@code
 * type} names the layout of {@code data} (0 none, 1 Intel VT-d, {@code 0xfeedbeef} the selftest
 * mock), {@code capabilities} the {@code IOMMU_HW_CAP_*} bits (dirty tracking is bit 0), and {@code
 * maxPasidLog2} the PASID width (0: none).
 */
public record HwInfo(int type, long capabilities, int maxPasidLog2, byte[] data) {
  /** {@code IOMMU_HW_CAP_DIRTY_TRACKING}. */
  public static final long CAP_DIRTY_TRACKING = IOMMU_HW_CAP_DIRTY_TRACKING;

  public HwInfo {
    data = data.clone();
  }

  @Override
  public byte[] data() {
    return data.clone();
  }

  /** Whether HWPTs for this device can track dirty pages ({@link HwptFlag#DIRTY_TRACKING}). */
  public boolean dirtyTracking() {
    return (capabilities & CAP_DIRTY_TRACKING) != 0;
  }
}
