package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * VFIO_IOMMU_GET_INFO capability 3: how many more DMA mappings may be created. iommufd always
 * reports 0xFFFF_FFFF (vfio_compat.c: iommufd_fill_cap_dma_avail()). 12 bytes, padded to 16 in the
 * chain.
 *
 * {@snippet lang=c :
 * struct vfio_iommu_type1_info_dma_avail {
 *   struct vfio_info_cap_header header;   // id 3, version 1
 *   __u32 avail;
 * };
 * }
 */
public final class VfioIommuType1InfoDmaAvail {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_iommu_type1_info_dma_avail",
          VfioInfoCapHeader.LAYOUT.withName("header"),
          u32("avail"));
  public static final int SIZE = size(LAYOUT);
  public static final long HEADER = offset(LAYOUT, "header");
  public static final long AVAIL = offset(LAYOUT, "avail");

  public static final int VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
  public static final int VERSION = 1;

  private VfioIommuType1InfoDmaAvail() {}
}
