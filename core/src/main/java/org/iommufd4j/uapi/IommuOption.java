package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u16;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 *
 *
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
  public static final StructLayout LAYOUT =
      struct(
          "iommu_option",
          u32("size"),
          u32("option_id"),
          u16("op"),
          u16("__reserved"),
          u32("object_id"),
          u64("val64"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long OPTION_ID = offset(LAYOUT, "option_id");
  public static final long OP = offset(LAYOUT, "op");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final long OBJECT_ID = offset(LAYOUT, "object_id");
  public static final long VAL64 = offset(LAYOUT, "val64");

  public static final int IOMMU_OPTION_RLIMIT_MODE = 0;
  public static final int IOMMU_OPTION_HUGE_PAGES = 1;
  public static final int IOMMU_OPTION_OP_SET = 0;
  public static final int IOMMU_OPTION_OP_GET = 1;

  /** An OPTION argument. */
  public static Struct of(
      SegmentAllocator allocator, int optionId, int op, int objectId, long val64) {
    return Struct.of(allocator, Command.IOMMU_OPTION)
        .u32(OPTION_ID, optionId)
        .u16(OP, op)
        .u32(OBJECT_ID, objectId)
        .u64(VAL64, val64);
  }

  private IommuOption() {}
}
