package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.end;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;
import static org.iommufd4j.uapi.CLayouts.u8;
import static org.iommufd4j.uapi.CLayouts.u8s;

import java.lang.foreign.StructLayout;

/**
 * {@code IOMMU_GET_HW_INFO} (device.c: iommufd_get_hw_info()). Sizes 32 to 39 are accepted and get
 * everything except {@code out_capabilities}.
 *
 * {@snippet lang=c :
 * struct iommu_hw_info {
 *   __u32 size;
 *   __u32 flags;              // 0 in 6.12; INPUT_TYPE with selftestCompat
 *   __u32 dev_id;
 *   __u32 data_len;           // in: user buffer size; out: driver data size
 *   __aligned_u64 data_uptr;
 *   __u32 out_data_type;      // later kernels: union with in_data_type
 *   __u8 out_max_pasid_log2;
 *   __u8 __reserved[3];       // must be 0
 *   __aligned_u64 out_capabilities;
 * };
 * }
 */
public final class IommuHwInfo {
  public static final StructLayout LAYOUT =
      struct(
          "iommu_hw_info",
          u32("size"),
          u32("flags"),
          u32("dev_id"),
          u32("data_len"),
          u64("data_uptr"),
          u32("out_data_type"),
          u8("out_max_pasid_log2"),
          u8s("__reserved", 3),
          u64("out_capabilities"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = end(LAYOUT, "__reserved");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long DEV_ID = offset(LAYOUT, "dev_id");
  public static final long DATA_LEN = offset(LAYOUT, "data_len");
  public static final long DATA_UPTR = offset(LAYOUT, "data_uptr");
  public static final long OUT_DATA_TYPE = offset(LAYOUT, "out_data_type");

  /**
   * {@code in_data_type} of later kernels shares the offset of {@code out_data_type} (used by the
   * selftests shipped with 6.12.117).
   */
  public static final long IN_DATA_TYPE = OUT_DATA_TYPE;

  public static final long OUT_MAX_PASID_LOG2 = offset(LAYOUT, "out_max_pasid_log2");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final int RESERVED_BYTES = end(LAYOUT, "__reserved") - (int) RESERVED;
  public static final long OUT_CAPABILITIES = offset(LAYOUT, "out_capabilities");

  public static final int IOMMU_HW_INFO_TYPE_NONE = 0;

  /**
   * Later kernels' name for {@link #IOMMU_HW_INFO_TYPE_NONE} (used by the selftests shipped with
   * 6.12.117).
   */
  public static final int IOMMU_HW_INFO_TYPE_DEFAULT = 0;

  public static final int IOMMU_HW_INFO_TYPE_INTEL_VTD = 1;
  public static final int IOMMU_HW_INFO_TYPE_SELFTEST = 0xfeedbeef;

  /** A later kernel's flag, accepted only with the selftest-compatibility extension. */
  public static final int IOMMU_HW_INFO_FLAG_INPUT_TYPE = 1;

  public static final long IOMMU_HW_CAP_DIRTY_TRACKING = 1;
  public static final long IOMMU_HW_CAP_PCI_PASID_EXEC = 1 << 1;
  public static final long IOMMU_HW_CAP_PCI_PASID_PRIV = 1 << 2;

  private IommuHwInfo() {}
}
