package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * The argument of VFIO_IOMMU_MAP_DMA (vfio_compat.c: iommufd_vfio_map_dma()). 32 bytes are read;
 * nothing is written back.
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
  public static final StructLayout LAYOUT =
      struct(
          "vfio_iommu_type1_dma_map",
          u32("argsz"),
          u32("flags"),
          u64("vaddr"),
          u64("iova"),
          u64("size"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long VADDR = offset(LAYOUT, "vaddr");
  public static final long IOVA = offset(LAYOUT, "iova");

  /** Offset of the field {@code size} (the mapping's length). */
  public static final long SIZE_FIELD = offset(LAYOUT, "size");

  public static final int VFIO_DMA_MAP_FLAG_READ = 1;
  public static final int VFIO_DMA_MAP_FLAG_WRITE = 1 << 1;

  /** Not supported by iommufd: EINVAL. */
  public static final int VFIO_DMA_MAP_FLAG_VADDR = 1 << 2;

  private VfioIommuType1DmaMap() {}
}
