package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_iova_range {
 *   __aligned_u64 start;
 *   __aligned_u64 last;
 * };
 * }
 */
public final class IommuIovaRange {
  public static final int SIZE = 16;
  public static final long START = 0;
  public static final long LAST = 8;

  private IommuIovaRange() {}
}
