package org.iommufd4j.uapi;

/**
 * The argument of VFIO_IOMMU_GET_INFO (spec §7.7). Capabilities follow the struct, each padded to
 * 8 bytes and chained by {@code next} offsets from the struct's start: {@link
 * VfioIommuType1InfoDmaAvail} at 24, then {@link VfioIommuType1InfoCapIovaRange} at 40.
 *
 * {@snippet lang=c :
 * struct vfio_iommu_type1_info {
 *   __u32 argsz;          // in: bytes the caller provides; out: bytes needed for every capability
 *   __u32 flags;          // out: VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS
 *   __aligned_u64 iova_pgsizes;
 *   __u32 cap_offset;     // out: 24 when every capability fitted, else 0
 *   __u32 pad;
 * };
 * }
 */
public final class VfioIommuType1Info {
  public static final int SIZE = 24;
  /** Bytes read, and the smallest {@code argsz} accepted (end of {@code iova_pgsizes}). */
  public static final int MIN_SIZE = 16;
  public static final long ARGSZ = 0;
  public static final long FLAGS = 4;
  public static final long IOVA_PGSIZES = 8;
  public static final long CAP_OFFSET = 16;
  public static final long PAD = 20;

  public static final int VFIO_IOMMU_INFO_PGSIZES = 1;
  public static final int VFIO_IOMMU_INFO_CAPS = 1 << 1;

  private VfioIommuType1Info() {}
}
