package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;
import static org.iommufd4j.uapi.CLayouts.u8s;

import java.lang.foreign.StructLayout;

/**
 * The argument of VFIO_IOMMU_UNMAP_DMA (vfio_compat.c: iommufd_vfio_unmap_dma()). 24 bytes are
 * read, and written back with {@code size} = bytes unmapped once the removal ran, also when it
 * failed part way.
 *
 * {@snippet lang=c :
 * struct vfio_iommu_type1_dma_unmap {
 *   __u32 argsz;          // >= 24
 *   __u32 flags;          // 0 or VFIO_DMA_UNMAP_FLAG_ALL
 *   __u64 iova;
 *   __u64 size;           // in: bytes to cover; out: bytes unmapped
 *   __u8  data[];         // only with GET_DIRTY_BITMAP, which iommufd refuses
 * };
 * }
 */
public final class VfioIommuType1DmaUnmap {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_iommu_type1_dma_unmap",
          u32("argsz"),
          u32("flags"),
          u64("iova"),
          u64("size"),
          u8s("data", 0));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long IOVA = offset(LAYOUT, "iova");

  /** Offset of the field {@code size}. */
  public static final long SIZE_FIELD = offset(LAYOUT, "size");

  /** Not supported by iommufd: EINVAL. */
  public static final int VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1;

  public static final int VFIO_DMA_UNMAP_FLAG_ALL = 1 << 1;

  /** Not supported by iommufd: EINVAL. */
  public static final int VFIO_DMA_UNMAP_FLAG_VADDR = 1 << 2;

  private VfioIommuType1DmaUnmap() {}
}
