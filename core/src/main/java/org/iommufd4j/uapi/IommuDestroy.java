package org.iommufd4j.uapi;

/**
 * {@snippet lang=c :
 * struct iommu_destroy {
 *   __u32 size;
 *   __u32 id;
 * };
 * }
 */
public final class IommuDestroy {
  public static final int SIZE = 8;
  public static final int MIN_SIZE = 8;
  public static final long ID = 4;

  private IommuDestroy() {}
}
