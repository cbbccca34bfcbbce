package org.iommufd4j.engine;

/**
 * What {@code IOMMU_GET_HW_INFO} reports for a device (device.c: iommufd_get_hw_info()).
 *
 * @param dataType {@code out_data_type}
 * @param data the driver's data for {@code data_uptr}, or null for a driver without
 * @param maxPasidLog2 {@code out_max_pasid_log2}
 * @param capabilities {@code out_capabilities}
 */
public record HwInfoReport(int dataType, DriverData data, int maxPasidLog2, long capabilities) {
  /** A driver's hardware description; the byte ABI encodes it as the driver's struct. */
  public interface DriverData {}

  /** {@code struct iommu_test_hw_info} of the mock driver: always {0, 0xDEADBEEF}. */
  public record SelftestData(int flags, int testReg) implements DriverData {}

  /**
   * {@code struct iommu_hw_info_vtd} of intel-iommu (iommu.c: intel_iommu_hw_info()): its flags and
   * the unit's capability registers.
   */
  public record VtdData(int flags, long capReg, long ecapReg) implements DriverData {
    /**
     * {@code IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17}, which intel-iommu 6.12 sets on every unit (the
     * erratum's workaround is the user's business).
     */
    public static final int ERRATA_772415_SPR17 = 1;
  }
}
