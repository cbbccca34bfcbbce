package org.iommufd4j.uapi;

/**
 * VFIO_IOMMU_GET_INFO capability 3: how many more DMA mappings may be created. iommufd always
 * reports 0xFFFF_FFFF (spec §7.7). 12 bytes, padded to 16 in the chain.
 *
 * {@snippet lang=c :
 * struct vfio_iommu_type1_info_dma_avail {
 *   struct vfio_info_cap_header header;   // id 3, version 1
 *   __u32 avail;
 * };
 * }
 */
public final class VfioIommuType1InfoDmaAvail {
  public static final int SIZE = 12;
  public static final long HEADER = 0;
  public static final long AVAIL = 8;

  public static final int VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL = 3;
  public static final int VERSION = 1;

  private VfioIommuType1InfoDmaAvail() {}
}
