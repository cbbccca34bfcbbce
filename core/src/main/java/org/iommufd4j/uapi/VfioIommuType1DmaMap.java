package org.iommufd4j.uapi;

/**
 * The argument of VFIO_IOMMU_MAP_DMA (spec §7.7). 32 bytes are read; nothing is written back.
 *
 * {@snippet lang=c :
 * struct vfio_iommu_type1_dma_map {
 *   __u32 argsz;          // >= 32
 *   __u32 flags;          // VFIO_DMA_MAP_FLAG_READ | _WRITE (or neither)
 *   __u64 vaddr;
 *   __u64 iova;
 *   __u64 size;
 * };
 * }
 */
public final class VfioIommuType1DmaMap {
  public static final int SIZE = 32;
  public static final int MIN_SIZE = 32;
  public static final long ARGSZ = 0;
  public static final long FLAGS = 4;
  public static final long VADDR = 8;
  public static final long IOVA = 16;
  /** Offset of the field {@code size} (the mapping's length). */
  public static final long SIZE_FIELD = 24;

  public static final int VFIO_DMA_MAP_FLAG_READ = 1;
  public static final int VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;
  /** Not supported by iommufd: EINVAL. */
  public static final int VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

  private VfioIommuType1DmaMap() {}
}
