package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.array;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * Region info capability {@code VFIO_REGION_INFO_CAP_SPARSE_MMAP}: the parts of a region that may
 * be mmapped, when not all of it may. 16 + 16 n bytes.
 *
 * {@snippet lang=c :
 * struct vfio_region_sparse_mmap_area {
 *   __aligned_u64 offset; // within the region
 *   __aligned_u64 size;
 * };
 *
 * struct vfio_region_info_cap_sparse_mmap {
 *   struct vfio_info_cap_header header;   // id 1, version 1
 *   __u32 nr_areas;
 *   __u32 reserved;
 *   struct vfio_region_sparse_mmap_area areas[];
 * };
 * }
 */
public final class VfioRegionInfoCapSparseMmap {
  /** {@code struct vfio_region_sparse_mmap_area}. */
  public static final StructLayout AREA_LAYOUT =
      struct("vfio_region_sparse_mmap_area", u64("offset"), u64("size"));

  public static final StructLayout LAYOUT =
      struct(
          "vfio_region_info_cap_sparse_mmap",
          VfioInfoCapHeader.LAYOUT.withName("header"),
          u32("nr_areas"),
          u32("reserved"),
          array("areas", 0, AREA_LAYOUT));

  /** Size without areas. */
  public static final int SIZE = size(LAYOUT);

  public static final long HEADER = offset(LAYOUT, "header");
  public static final long NR_AREAS = offset(LAYOUT, "nr_areas");
  public static final long RESERVED = offset(LAYOUT, "reserved");
  public static final long AREAS = offset(LAYOUT, "areas");

  public static final int AREA_SIZE = size(AREA_LAYOUT);
  public static final long AREA_OFFSET = offset(AREA_LAYOUT, "offset");
  public static final long AREA_SIZE_FIELD = offset(AREA_LAYOUT, "size");

  public static final int VERSION = 1;

  private VfioRegionInfoCapSparseMmap() {}
}
