package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * {@code IOMMU_HWPT_INVALIDATE} (hw_pagetable.c: iommufd_hwpt_invalidate()). The struct is written
 * back on every path, with {@code entry_num} = the number of requests handled.
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
  public static final StructLayout LAYOUT =
      struct(
          "iommu_hwpt_invalidate",
          u32("size"),
          u32("hwpt_id"),
          u64("data_uptr"),
          u32("data_type"),
          u32("entry_len"),
          u32("entry_num"),
          u32("__reserved"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long HWPT_ID = offset(LAYOUT, "hwpt_id");
  public static final long DATA_UPTR = offset(LAYOUT, "data_uptr");
  public static final long DATA_TYPE = offset(LAYOUT, "data_type");
  public static final long ENTRY_LEN = offset(LAYOUT, "entry_len");
  public static final long ENTRY_NUM = offset(LAYOUT, "entry_num");
  public static final long RESERVED = offset(LAYOUT, "__reserved");

  public static final int IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 = 0;
  public static final int IOMMU_HWPT_INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
  public static final int IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID = 0x0dadbeef;

  private IommuHwptInvalidate() {}
}
