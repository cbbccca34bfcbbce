package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_ioas_unmap {
 *   __u32 size;
 *   __u32 ioas_id;
 *   __aligned_u64 iova;
 *   __aligned_u64 length;  // in: bytes to cover; out: bytes unmapped
 * };
 * }
 */
public final class IommuIoasUnmap {
  public static final int SIZE = 24;
  public static final int MIN_SIZE = 24;
  public static final long IOAS_ID = 4;
  public static final long IOVA = 8;
  public static final long LENGTH = 16;

  private IommuIoasUnmap() {}
}
