package org.iommufd4j.engine;

/**
 * What {@code IOMMU_GET_HW_INFO} reports for a device (spec §7.2).
 *
 * @param dataType {@code out_data_type}
 * @param data the driver's data for {@code data_uptr}, or null for a driver without
 * @param maxPasidLog2 {@code out_max_pasid_log2}
 * @param capabilities {@code out_capabilities}
 */
public record HwInfoReport(int dataType, DriverData data, int maxPasidLog2, long capabilities) {
  /** {@code IOMMU_HW_INFO_TYPE_NONE}, also called {@code _DEFAULT} in later kernels (§6.7). */
  public static final int TYPE_NONE = 0;
  /** {@code IOMMU_HW_INFO_TYPE_SELFTEST}. */
  public static final int TYPE_SELFTEST = 0xfeedbeef;
  /** {@code IOMMU_HW_CAP_DIRTY_TRACKING}. */
  public static final long CAP_DIRTY_TRACKING = 1;
  /** {@code IOMMU_HW_INFO_FLAG_INPUT_TYPE} of later kernels (only with §6.7 compatibility). */
  public static final int FLAG_INPUT_TYPE = 1;

  /** A driver's hardware description; the byte ABI encodes it as the driver's struct. */
  public interface DriverData {}

  /** {@code struct iommu_test_hw_info} of the mock driver: always {0, 0xDEADBEEF}. */
  public record SelftestData(int flags, int testReg) implements DriverData {
    public static final int REGVAL = 0xdeadbeef;
  }
}
