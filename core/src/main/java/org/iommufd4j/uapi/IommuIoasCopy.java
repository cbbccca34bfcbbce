package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_ioas_copy {
 *   __u32 size;
 *   __u32 flags;          // map flags of the new mapping
 *   __u32 dst_ioas_id;
 *   __u32 src_ioas_id;
 *   __aligned_u64 length;
 *   __aligned_u64 dst_iova;
 *   __aligned_u64 src_iova;
 * };
 * }
 */
public final class IommuIoasCopy {
  public static final int SIZE = 40;
  public static final int MIN_SIZE = 40;
  public static final long FLAGS = 4;
  public static final long DST_IOAS_ID = 8;
  public static final long SRC_IOAS_ID = 12;
  public static final long LENGTH = 16;
  public static final long DST_IOVA = 24;
  public static final long SRC_IOVA = 32;

  private IommuIoasCopy() {}
}
