package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.end;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * The argument of VFIO_IOMMU_GET_INFO (vfio_compat.c: iommufd_vfio_iommu_get_info()). Capabilities
 * follow the struct, each padded to 8 bytes and chained by {@code next} offsets from the struct's
 * start: {@link VfioIommuType1InfoDmaAvail} at 24, then {@link VfioIommuType1InfoCapIovaRange} at
 * 40.
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
  public static final StructLayout LAYOUT =
      struct(
          "vfio_iommu_type1_info",
          u32("argsz"),
          u32("flags"),
          u64("iova_pgsizes"),
          u32("cap_offset"),
          u32("pad"));
  public static final int SIZE = size(LAYOUT);

  /** Bytes read, and the smallest {@code argsz} accepted (end of {@code iova_pgsizes}). */
  public static final int MIN_SIZE = end(LAYOUT, "iova_pgsizes");

  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long IOVA_PGSIZES = offset(LAYOUT, "iova_pgsizes");
  public static final long CAP_OFFSET = offset(LAYOUT, "cap_offset");
  public static final long PAD = offset(LAYOUT, "pad");

  public static final int VFIO_IOMMU_INFO_PGSIZES = 1;
  public static final int VFIO_IOMMU_INFO_CAPS = 1 << 1;

  private VfioIommuType1Info() {}
}
