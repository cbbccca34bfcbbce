package org.iommufd4j.uapi;

/**
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
  public static final int SIZE = 12;
  public static final int MIN_SIZE = 12;
  public static final long IOAS_ID = 4;
  public static final long OP = 8;
  public static final long RESERVED = 10;

  public static final int IOMMU_VFIO_IOAS_GET = 0;
  public static final int IOMMU_VFIO_IOAS_SET = 1;
  public static final int IOMMU_VFIO_IOAS_CLEAR = 2;

  private IommuVfioIoas() {}
}
