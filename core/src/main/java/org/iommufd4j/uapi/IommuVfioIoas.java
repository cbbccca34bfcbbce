package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u16;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 *
 *
 * {@snippet lang=c :
 * struct iommu_vfio_ioas {
 *   __u32 size;
 *   __u32 ioas_id;
 *   __u16 op;             // IOMMU_VFIO_IOAS_GET = 0, _SET = 1, _CLEAR = 2
 *   __u16 __reserved;
 * };
 * }
 */
public final class IommuVfioIoas {
  public static final StructLayout LAYOUT =
      struct("iommu_vfio_ioas", u32("size"), u32("ioas_id"), u16("op"), u16("__reserved"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long IOAS_ID = offset(LAYOUT, "ioas_id");
  public static final long OP = offset(LAYOUT, "op");
  public static final long RESERVED = offset(LAYOUT, "__reserved");

  public static final int IOMMU_VFIO_IOAS_GET = 0;
  public static final int IOMMU_VFIO_IOAS_SET = 1;
  public static final int IOMMU_VFIO_IOAS_CLEAR = 2;

  private IommuVfioIoas() {}
}
