package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.end;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 * {@code IOMMU_HWPT_ALLOC} (hw_pagetable.c: iommufd_hwpt_alloc()). Sizes from 24 bytes are
 * accepted; the fields after {@code __reserved} then read as zero.
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
  public static final StructLayout LAYOUT =
      struct(
          "iommu_hwpt_alloc",
          u32("size"),
          u32("flags"),
          u32("dev_id"),
          u32("pt_id"),
          u32("out_hwpt_id"),
          u32("__reserved"),
          u32("data_type"),
          u32("data_len"),
          u64("data_uptr"),
          u32("fault_id"),
          u32("__reserved2"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = end(LAYOUT, "__reserved");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long DEV_ID = offset(LAYOUT, "dev_id");
  public static final long PT_ID = offset(LAYOUT, "pt_id");
  public static final long OUT_HWPT_ID = offset(LAYOUT, "out_hwpt_id");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final long DATA_TYPE = offset(LAYOUT, "data_type");
  public static final long DATA_LEN = offset(LAYOUT, "data_len");
  public static final long DATA_UPTR = offset(LAYOUT, "data_uptr");
  public static final long FAULT_ID = offset(LAYOUT, "fault_id");
  public static final long RESERVED2 = offset(LAYOUT, "__reserved2");

  public static final int IOMMU_HWPT_ALLOC_NEST_PARENT = 1;
  public static final int IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1;
  public static final int IOMMU_HWPT_FAULT_ID_VALID = 1 << 2;

  public static final int IOMMU_HWPT_DATA_NONE = 0;
  public static final int IOMMU_HWPT_DATA_VTD_S1 = 1;
  public static final int IOMMU_HWPT_DATA_SELFTEST = 0xdead;

  /** A HWPT_ALLOC argument of a paging HWPT (no driver data). */
  public static Struct of(SegmentAllocator allocator, int flags, int devId, int ptId) {
    return Struct.of(allocator, Command.IOMMU_HWPT_ALLOC)
        .u32(FLAGS, flags)
        .u32(DEV_ID, devId)
        .u32(PT_ID, ptId);
  }

  private IommuHwptAlloc() {}
}
