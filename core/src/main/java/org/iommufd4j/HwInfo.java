package org.iommufd4j;

import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_CAP_DIRTY_TRACKING;
import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_INFO_TYPE_INTEL_VTD;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

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

  /**
   * Intel VT-d's capability register ({@code struct iommu_hw_info_vtd}: {@code cap_reg}, bytes 8-15
   * of {@link #data()}).
   *
   * @throws IllegalStateException if {@link #type()} is not Intel VT-d (1) or the data is short
   */
  public long vtdCapReg() {
    return vtdRegister(8);
  }

  /** Intel VT-d's extended capability register ({@code ecap_reg}, bytes 16-23); as above. */
  public long vtdEcapReg() {
    return vtdRegister(16);
  }

  private long vtdRegister(int offset) {
    if (type != IOMMU_HW_INFO_TYPE_INTEL_VTD || data.length < offset + Long.BYTES) {
      throw new IllegalStateException(
          "no Intel VT-d registers in hardware info of type "
              + type
              + " ("
              + data.length
              + " bytes)");
    }
    return ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).getLong(offset);
  }
}
