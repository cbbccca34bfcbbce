package org.iommufd4j.uapi;

/**
 * VFIO_IOMMU_GET_INFO capability 1: the usable IOVA ranges, as IOMMU_IOAS_IOVA_RANGES lists them
 * (spec §7.7, §3.2). 16 + 16 n bytes.
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
  /** Size without ranges. */
  public static final int SIZE = 16;
  public static final long HEADER = 0;
  public static final long NR_IOVAS = 8;
  public static final long RESERVED = 12;
  public static final long IOVA_RANGES = 16;

  /** {@code struct vfio_iova_range}: size and field offsets. */
  public static final int RANGE_SIZE = 16;
  public static final long RANGE_START = 0;
  public static final long RANGE_END = 8;

  public static final int VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE = 1;
  public static final int VERSION = 1;

  private VfioIommuType1InfoCapIovaRange() {}
}
