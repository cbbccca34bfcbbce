package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.array;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * VFIO_IOMMU_GET_INFO capability 1: the usable IOVA ranges, as IOMMU_IOAS_IOVA_RANGES lists them
 * (vfio_compat.c: iommufd_fill_cap_iova(); ioas.c: iommufd_ioas_iova_ranges()). 16 + 16 n bytes.
 *
 * {@snippet lang=c :
 * struct vfio_iova_range {
 *   __u64 start;
 *   __u64 end;            // inclusive
 * };
 *
 * struct vfio_iommu_type1_info_cap_iova_range {
 *   struct vfio_info_cap_header header;   // id 1, version 1
 *   __u32 nr_iovas;
 *   __u32 reserved;
 *   struct vfio_iova_range iova_ranges[];
 * };
 * }
 */
public final class VfioIommuType1InfoCapIovaRange {
  /** {@code struct vfio_iova_range}. */
  public static final StructLayout RANGE_LAYOUT =
      struct("vfio_iova_range", u64("start"), u64("end"));

  public static final StructLayout LAYOUT =
      struct(
          "vfio_iommu_type1_info_cap_iova_range",
          VfioInfoCapHeader.LAYOUT.withName("header"),
          u32("nr_iovas"),
          u32("reserved"),
          array("iova_ranges", 0, RANGE_LAYOUT));

  /** Size without ranges. */
  public static final int SIZE = size(LAYOUT);

  public static final long HEADER = offset(LAYOUT, "header");
  public static final long NR_IOVAS = offset(LAYOUT, "nr_iovas");
  public static final long RESERVED = offset(LAYOUT, "reserved");
  public static final long IOVA_RANGES = offset(LAYOUT, "iova_ranges");

  /** {@code struct vfio_iova_range}: size and field offsets. */
  public static final int RANGE_SIZE = size(RANGE_LAYOUT);

  public static final long RANGE_START = offset(RANGE_LAYOUT, "start");
  public static final long RANGE_END = offset(RANGE_LAYOUT, "end");

  public static final int VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
  public static final int VERSION = 1;

  private VfioIommuType1InfoCapIovaRange() {}
}
