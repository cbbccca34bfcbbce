package org.iommufd4j.uapi;

/**
 * {@code IOMMU_HWPT_INVALIDATE} (spec §7.5). The struct is written back on every path, with
 * {@code entry_num} = the number of requests handled.
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_invalidate {
 *   __u32 size;
 *   __u32 hwpt_id;        // nested HWPT
 *   __aligned_u64 data_uptr;
 *   __u32 data_type;      // IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, _SELFTEST
 *   __u32 entry_len;
 *   __u32 entry_num;      // in: requests; out: requests handled
 *   __u32 __reserved;     // must be 0
 * };
 * }
 */
public final class IommuHwptInvalidate {
  public static final int SIZE = 32;
  public static final int MIN_SIZE = 32;
  public static final long HWPT_ID = 4;
  public static final long DATA_UPTR = 8;
  public static final long DATA_TYPE = 16;
  public static final long ENTRY_LEN = 20;
  public static final long ENTRY_NUM = 24;
  public static final long RESERVED = 28;

  public static final int IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
  public static final int IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
  public static final int IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID = 0x0dadbeef;

  private IommuHwptInvalidate() {}
}
