package org.iommufd4j.uapi;

/**
 * {@code struct iommu_test_cmd} (72 bytes) of kernels with {@code CONFIG_IOMMUFD_TEST} (spec
 * §6.2): a header, a 48-byte union of per-op arguments, and {@code last}.
 *
 * {@snippet lang=c :
 * struct iommu_test_cmd {
 *   __u32 size;
 *   __u32 op;
 *   __u32 id;
 *   __u32 __reserved;
 *   union { ... } ;       // offsets below are from the start of the struct
 *   __u32 last;
 * };
 * }
 */
public final class IommuTestCmd {
  public static final int SIZE = 72;
  public static final int MIN_SIZE = 68;
  public static final long OP = 4;
  public static final long ID = 8;
  public static final long RESERVED = 12;

  // add_reserved
  public static final long ADD_RESERVED_START = 16;
  public static final long ADD_RESERVED_LENGTH = 24;
  // mock_domain, mock_domain_flags
  public static final long MOCK_DOMAIN_OUT_STDEV_ID = 16;
  public static final long MOCK_DOMAIN_OUT_HWPT_ID = 20;
  public static final long MOCK_DOMAIN_OUT_IDEV_ID = 24;
  public static final long MOCK_DOMAIN_FLAGS_DEV_FLAGS = 28;
  // mock_domain_replace
  public static final long MOCK_DOMAIN_REPLACE_PT_ID = 16;
  // check_map
  public static final long CHECK_MAP_IOVA = 16;
  public static final long CHECK_MAP_LENGTH = 24;
  public static final long CHECK_MAP_UPTR = 32;
  // check_refs
  public static final long CHECK_REFS_LENGTH = 16;
  public static final long CHECK_REFS_UPTR = 24;
  public static final long CHECK_REFS_REFS = 32;
  // memory_limit
  public static final long MEMORY_LIMIT_LIMIT = 16;
  // create_access
  public static final long CREATE_ACCESS_OUT_ACCESS_FD = 16;
  public static final long CREATE_ACCESS_FLAGS = 20;
  // destroy_access_pages
  public static final long DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID = 16;
  // access_pages
  public static final long ACCESS_PAGES_FLAGS = 16;
  public static final long ACCESS_PAGES_OUT_ACCESS_PAGES_ID = 20;
  public static final long ACCESS_PAGES_IOVA = 24;
  public static final long ACCESS_PAGES_LENGTH = 32;
  public static final long ACCESS_PAGES_UPTR = 40;
  // access_rw
  public static final long ACCESS_RW_IOVA = 16;
  public static final long ACCESS_RW_LENGTH = 24;
  public static final long ACCESS_RW_UPTR = 32;
  public static final long ACCESS_RW_FLAGS = 40;
  // access_replace_ioas
  public static final long ACCESS_REPLACE_IOAS_IOAS_ID = 16;
  // dirty
  public static final long DIRTY_FLAGS = 16;
  public static final long DIRTY_IOVA = 24;
  public static final long DIRTY_LENGTH = 32;
  public static final long DIRTY_PAGE_SIZE = 40;
  public static final long DIRTY_UPTR = 48;
  public static final long DIRTY_OUT_NR_DIRTY = 56;
  // check_iotlb
  public static final long CHECK_IOTLB_ID = 16;
  public static final long CHECK_IOTLB_IOTLB = 20;
  // trigger_iopf
  public static final long TRIGGER_IOPF_DEV_ID = 16;
  public static final long TRIGGER_IOPF_PASID = 20;
  public static final long TRIGGER_IOPF_GRPID = 24;
  public static final long TRIGGER_IOPF_PERM = 28;
  public static final long TRIGGER_IOPF_ADDR = 32;

  public static final int IOMMU_TEST_OP_ADD_RESERVED = 1;
  public static final int IOMMU_TEST_OP_MOCK_DOMAIN = 2;
  public static final int IOMMU_TEST_OP_MD_CHECK_MAP = 3;
  public static final int IOMMU_TEST_OP_MD_CHECK_REFS = 4;
  public static final int IOMMU_TEST_OP_CREATE_ACCESS = 5;
  public static final int IOMMU_TEST_OP_DESTROY_ACCESS_PAGES = 6;
  public static final int IOMMU_TEST_OP_ACCESS_PAGES = 7;
  public static final int IOMMU_TEST_OP_ACCESS_RW = 8;
  public static final int IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT = 9;
  public static final int IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE = 10;
  public static final int IOMMU_TEST_OP_ACCESS_REPLACE_IOAS = 11;
  public static final int IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS = 12;
  public static final int IOMMU_TEST_OP_DIRTY = 13;
  public static final int IOMMU_TEST_OP_MD_CHECK_IOTLB = 14;
  public static final int IOMMU_TEST_OP_TRIGGER_IOPF = 15;

  public static final int MOCK_FLAGS_DEVICE_NO_DIRTY = 1;
  public static final int MOCK_FLAGS_DEVICE_HUGE_IOVA = 1 << 1;
  public static final int MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES = 1;
  public static final int MOCK_FLAGS_ACCESS_WRITE = 1;
  public static final int MOCK_FLAGS_ACCESS_SYZ = 1 << 16;
  public static final int MOCK_ACCESS_RW_WRITE = 1;
  public static final int MOCK_ACCESS_RW_SLOW_PATH = 1 << 2;
  /** A later kernel's flag, accepted only with the §6.7 selftest-compatibility extension. */
  public static final int MOCK_FLAGS_DEVICE_PASID = 1 << 2;
  /** {@code out_max_pasid_log2} of a {@link #MOCK_FLAGS_DEVICE_PASID} device (§6.7). */
  public static final int MOCK_PASID_WIDTH = 20;
  public static final long MOCK_APERTURE_START = 1L << 24;
  public static final long MOCK_APERTURE_LAST = (1L << 31) - 1;

  private IommuTestCmd() {}
}
