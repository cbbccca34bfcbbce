package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_ioas_alloc {
 *   __u32 size;
 *   __u32 flags;
 *   __u32 out_ioas_id;
 * };
 * }
 */
public final class IommuIoasAlloc {
  public static final int SIZE = 12;
  public static final int MIN_SIZE = 12;
  public static final long FLAGS = 4;
  public static final long OUT_IOAS_ID = 8;

  private IommuIoasAlloc() {}
}
