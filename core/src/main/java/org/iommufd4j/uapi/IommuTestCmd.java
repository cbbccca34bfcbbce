package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.end;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;
import static org.iommufd4j.uapi.CLayouts.union;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 * {@code struct iommu_test_cmd} (72 bytes) of kernels with {@code CONFIG_IOMMUFD_TEST}
 * (iommufd_test.h): a header, a 48-byte union of per-op arguments, and {@code last}.
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
  public static final StructLayout LAYOUT =
      struct(
          "iommu_test_cmd",
          u32("size"),
          u32("op"),
          u32("id"),
          u32("__reserved"),
          union(
              struct("add_reserved", u64("start"), u64("length")),
              struct("mock_domain", u32("out_stdev_id"), u32("out_hwpt_id"), u32("out_idev_id")),
              struct(
                  "mock_domain_flags",
                  u32("out_stdev_id"),
                  u32("out_hwpt_id"),
                  u32("out_idev_id"),
                  u32("dev_flags")),
              struct("mock_domain_replace", u32("pt_id")),
              struct("check_map", u64("iova"), u64("length"), u64("uptr")),
              struct("check_refs", u64("length"), u64("uptr"), u32("refs")),
              struct("create_access", u32("out_access_fd"), u32("flags")),
              struct("destroy_access_pages", u32("access_pages_id")),
              struct(
                  "access_pages",
                  u32("flags"),
                  u32("out_access_pages_id"),
                  u64("iova"),
                  u64("length"),
                  u64("uptr")),
              struct("access_rw", u64("iova"), u64("length"), u64("uptr"), u32("flags")),
              struct("memory_limit", u32("limit")),
              struct("access_replace_ioas", u32("ioas_id")),
              struct(
                  "dirty",
                  u32("flags"),
                  MemoryLayout.paddingLayout(4),
                  u64("iova"),
                  u64("length"),
                  u64("page_size"),
                  u64("uptr"),
                  u64("out_nr_dirty")),
              struct("check_iotlb", u32("id"), u32("iotlb")),
              struct(
                  "trigger_iopf",
                  u32("dev_id"),
                  u32("pasid"),
                  u32("grpid"),
                  u32("perm"),
                  u64("addr"))),
          u32("last"));
  public static final int SIZE = size(LAYOUT);

  /** {@code offsetofend(last)}: the struct's tail padding is optional. */
  public static final int MIN_SIZE = end(LAYOUT, "last");

  public static final long OP = offset(LAYOUT, "op");
  public static final long ID = offset(LAYOUT, "id");
  public static final long RESERVED = offset(LAYOUT, "__reserved");

  /** {@code last}, just past the union of the ops' fields. */
  public static final long LAST = offset(LAYOUT, "last");

  // add_reserved
  public static final long ADD_RESERVED_START = offset(LAYOUT, "add_reserved.start");
  public static final long ADD_RESERVED_LENGTH = offset(LAYOUT, "add_reserved.length");
  // mock_domain, mock_domain_flags
  public static final long MOCK_DOMAIN_OUT_STDEV_ID = offset(LAYOUT, "mock_domain.out_stdev_id");
  public static final long MOCK_DOMAIN_OUT_HWPT_ID = offset(LAYOUT, "mock_domain.out_hwpt_id");
  public static final long MOCK_DOMAIN_OUT_IDEV_ID = offset(LAYOUT, "mock_domain.out_idev_id");
  public static final long MOCK_DOMAIN_FLAGS_DEV_FLAGS =
      offset(LAYOUT, "mock_domain_flags.dev_flags");
  // mock_domain_replace
  public static final long MOCK_DOMAIN_REPLACE_PT_ID = offset(LAYOUT, "mock_domain_replace.pt_id");
  // check_map
  public static final long CHECK_MAP_IOVA = offset(LAYOUT, "check_map.iova");
  public static final long CHECK_MAP_LENGTH = offset(LAYOUT, "check_map.length");
  public static final long CHECK_MAP_UPTR = offset(LAYOUT, "check_map.uptr");
  // check_refs
  public static final long CHECK_REFS_LENGTH = offset(LAYOUT, "check_refs.length");
  public static final long CHECK_REFS_UPTR = offset(LAYOUT, "check_refs.uptr");
  public static final long CHECK_REFS_REFS = offset(LAYOUT, "check_refs.refs");
  // memory_limit
  public static final long MEMORY_LIMIT_LIMIT = offset(LAYOUT, "memory_limit.limit");
  // create_access
  public static final long CREATE_ACCESS_OUT_ACCESS_FD =
      offset(LAYOUT, "create_access.out_access_fd");
  public static final long CREATE_ACCESS_FLAGS = offset(LAYOUT, "create_access.flags");
  // destroy_access_pages
  public static final long DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID =
      offset(LAYOUT, "destroy_access_pages.access_pages_id");
  // access_pages
  public static final long ACCESS_PAGES_FLAGS = offset(LAYOUT, "access_pages.flags");
  public static final long ACCESS_PAGES_OUT_ACCESS_PAGES_ID =
      offset(LAYOUT, "access_pages.out_access_pages_id");
  public static final long ACCESS_PAGES_IOVA = offset(LAYOUT, "access_pages.iova");
  public static final long ACCESS_PAGES_LENGTH = offset(LAYOUT, "access_pages.length");
  public static final long ACCESS_PAGES_UPTR = offset(LAYOUT, "access_pages.uptr");
  // access_rw
  public static final long ACCESS_RW_IOVA = offset(LAYOUT, "access_rw.iova");
  public static final long ACCESS_RW_LENGTH = offset(LAYOUT, "access_rw.length");
  public static final long ACCESS_RW_UPTR = offset(LAYOUT, "access_rw.uptr");
  public static final long ACCESS_RW_FLAGS = offset(LAYOUT, "access_rw.flags");
  // access_replace_ioas
  public static final long ACCESS_REPLACE_IOAS_IOAS_ID =
      offset(LAYOUT, "access_replace_ioas.ioas_id");
  // dirty
  public static final long DIRTY_FLAGS = offset(LAYOUT, "dirty.flags");
  public static final long DIRTY_IOVA = offset(LAYOUT, "dirty.iova");
  public static final long DIRTY_LENGTH = offset(LAYOUT, "dirty.length");
  public static final long DIRTY_PAGE_SIZE = offset(LAYOUT, "dirty.page_size");
  public static final long DIRTY_UPTR = offset(LAYOUT, "dirty.uptr");
  public static final long DIRTY_OUT_NR_DIRTY = offset(LAYOUT, "dirty.out_nr_dirty");
  // check_iotlb
  public static final long CHECK_IOTLB_ID = offset(LAYOUT, "check_iotlb.id");
  public static final long CHECK_IOTLB_IOTLB = offset(LAYOUT, "check_iotlb.iotlb");
  // trigger_iopf
  public static final long TRIGGER_IOPF_DEV_ID = offset(LAYOUT, "trigger_iopf.dev_id");
  public static final long TRIGGER_IOPF_PASID = offset(LAYOUT, "trigger_iopf.pasid");
  public static final long TRIGGER_IOPF_GRPID = offset(LAYOUT, "trigger_iopf.grpid");
  public static final long TRIGGER_IOPF_PERM = offset(LAYOUT, "trigger_iopf.perm");
  public static final long TRIGGER_IOPF_ADDR = offset(LAYOUT, "trigger_iopf.addr");

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

  /** A later kernel's flag, accepted only with the selftest-compatibility extension. */
  public static final int MOCK_FLAGS_DEVICE_PASID = 1 << 2;

  /**
   * {@code out_max_pasid_log2} of a {@link #MOCK_FLAGS_DEVICE_PASID} device (used by the selftests
   * shipped with 6.12.117).
   */
  public static final int MOCK_PASID_WIDTH = 20;

  public static final long MOCK_APERTURE_START = 1L << 24;
  public static final long MOCK_APERTURE_LAST = (1L << 31) - 1;

  /** A TEST_CMD argument for {@code op} on {@code id}; the op's own fields are still 0. */
  public static Struct of(SegmentAllocator allocator, int op, int id) {
    return Struct.of(allocator, Command.IOMMU_TEST_CMD).u32(OP, op).u32(ID, id);
  }

  private IommuTestCmd() {}
}
