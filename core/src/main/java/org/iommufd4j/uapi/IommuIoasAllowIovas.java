package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_ioas_allow_iovas {
 *   __u32 size;
 *   __u32 ioas_id;
 *   __u32 num_iovas;
 *   __u32 __reserved;
 *   __aligned_u64 allowed_iovas;      // struct iommu_iova_range *
 * };
 * }
 */
public final class IommuIoasAllowIovas {
  public static final int SIZE = 24;
  public static final int MIN_SIZE = 24;
  public static final long IOAS_ID = 4;
  public static final long NUM_IOVAS = 8;
  public static final long RESERVED = 12;
  public static final long ALLOWED_IOVAS = 16;

  private IommuIoasAllowIovas() {}
}
