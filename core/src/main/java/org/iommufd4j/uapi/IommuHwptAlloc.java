package org.iommufd4j.uapi;

/**
 * {@code IOMMU_HWPT_ALLOC} (spec §7.1). Sizes from 24 bytes are accepted; the fields after {@code
 * __reserved} then read as zero.
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_alloc {
 *   __u32 size;
 *   __u32 flags;          // NEST_PARENT | DIRTY_TRACKING | FAULT_ID_VALID
 *   __u32 dev_id;
 *   __u32 pt_id;          // IOAS id (paging HWPT) or paging HWPT id (nested HWPT)
 *   __u32 out_hwpt_id;
 *   __u32 __reserved;     // must be 0
 *   __u32 data_type;      // IOMMU_HWPT_DATA_NONE, _VTD_S1, _SELFTEST
 *   __u32 data_len;
 *   __aligned_u64 data_uptr;
 *   __u32 fault_id;       // with FAULT_ID_VALID
 *   __u32 __reserved2;    // not checked in 6.12
 * };
 * }
 */
public final class IommuHwptAlloc {
  public static final int SIZE = 48;
  public static final int MIN_SIZE = 24;
  public static final long FLAGS = 4;
  public static final long DEV_ID = 8;
  public static final long PT_ID = 12;
  public static final long OUT_HWPT_ID = 16;
  public static final long RESERVED = 20;
  public static final long DATA_TYPE = 24;
  public static final long DATA_LEN = 28;
  public static final long DATA_UPTR = 32;
  public static final long FAULT_ID = 40;
  public static final long RESERVED2 = 44;

  public static final int IOMMU_HWPT_ALLOC_NEST_PARENT = 1;
  public static final int IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
  public static final int IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;

  public static final int IOMMU_HWPT_DATA_NONE = 0;
  public static final int IOMMU_HWPT_DATA_VTD_S1 = 1;
  public static final int IOMMU_HWPT_DATA_SELFTEST = 0xdead;

  private IommuHwptAlloc() {}
}
