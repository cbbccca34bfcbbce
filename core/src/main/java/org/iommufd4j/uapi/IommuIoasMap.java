package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_ioas_map {
 *   __u32 size;
 *   __u32 flags;          // IOMMU_IOAS_MAP_FIXED_IOVA | _WRITEABLE | _READABLE
 *   __u32 ioas_id;
 *   __u32 __reserved;
 *   __aligned_u64 user_va;
 *   __aligned_u64 length;
 *   __aligned_u64 iova;   // in with FIXED_IOVA, out always
 * };
 * }
 */
public final class IommuIoasMap {
  public static final int SIZE = 40;
  public static final int MIN_SIZE = 40;
  public static final long FLAGS = 4;
  public static final long IOAS_ID = 8;
  public static final long RESERVED = 12;
  public static final long USER_VA = 16;
  public static final long LENGTH = 24;
  public static final long IOVA = 32;

  public static final int IOMMU_IOAS_MAP_FIXED_IOVA = 1;
  public static final int IOMMU_IOAS_MAP_WRITEABLE = 1 << 1;
  public static final int IOMMU_IOAS_MAP_READABLE = 1 << 2;

  private IommuIoasMap() {}
}
