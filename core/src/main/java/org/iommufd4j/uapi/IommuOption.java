package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_option {
 *   __u32 size;
 *   __u32 option_id;      // IOMMU_OPTION_RLIMIT_MODE = 0, IOMMU_OPTION_HUGE_PAGES = 1
 *   __u16 op;             // IOMMU_OPTION_OP_SET = 0, IOMMU_OPTION_OP_GET = 1
 *   __u16 __reserved;
 *   __u32 object_id;
 *   __aligned_u64 val64;
 * };
 * }
 */
public final class IommuOption {
  public static final int SIZE = 24;
  public static final int MIN_SIZE = 24;
  public static final long OPTION_ID = 4;
  public static final long OP = 8;
  public static final long RESERVED = 10;
  public static final long OBJECT_ID = 12;
  public static final long VAL64 = 16;

  public static final int IOMMU_OPTION_RLIMIT_MODE = 0;
  public static final int IOMMU_OPTION_HUGE_PAGES = 1;
  public static final int IOMMU_OPTION_OP_SET = 0;
  public static final int IOMMU_OPTION_OP_GET = 1;

  private IommuOption() {}
}
