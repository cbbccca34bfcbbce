package org.iommufd4j.uapi;

/**
 * The VFIO type-1 container ioctls that an iommufd file also answers (spec §1.3, §7.7), with the
 * extension and IOMMU-type numbers of {@code <linux/vfio.h>}. They share the type byte {@code ';'}
 * ({@code VFIO_TYPE}) at {@code VFIO_BASE} = 100 and have no size word: they reach the VFIO
 * compatibility handler because their {@code nr} lies below the iommufd table (§1.4 step 1).
 *
 * <p>VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU take an <em>integer</em> argument, not a pointer. On
 * {@link org.iommufd4j.Iommufd#ioctl} pass it as the segment's address:
 * {@code iommufd.ioctl(Vfio.VFIO_CHECK_EXTENSION, MemorySegment.ofAddress(Vfio.VFIO_TYPE1v2_IOMMU))}.
 * VFIO_GET_API_VERSION ignores its argument.
 */
public final class Vfio {
  public static final int VFIO_TYPE = 0x3b;
  public static final int VFIO_BASE = 100;

  public static final long VFIO_GET_API_VERSION = 0x3b64;
  public static final long VFIO_CHECK_EXTENSION = 0x3b65;
  public static final long VFIO_SET_IOMMU = 0x3b66;
  public static final long VFIO_IOMMU_GET_INFO = 0x3b70;
  public static final long VFIO_IOMMU_MAP_DMA = 0x3b71;
  public static final long VFIO_IOMMU_UNMAP_DMA = 0x3b72;
  /** Recognised by VFIO, refused by iommufd: ENOTTY. */
  public static final long VFIO_IOMMU_DIRTY_PAGES = 0x3b75;

  /** What VFIO_GET_API_VERSION returns. */
  public static final int VFIO_API_VERSION = 0;

  // Extensions (VFIO_CHECK_EXTENSION) and IOMMU types (VFIO_SET_IOMMU).
  public static final long VFIO_TYPE1_IOMMU = 1;
  public static final long VFIO_SPAPR_TCE_IOMMU = 2;
  public static final long VFIO_TYPE1v2_IOMMU = 3;
  public static final long VFIO_DMA_CC_IOMMU = 4;
  public static final long VFIO_EEH = 5;
  public static final long VFIO_TYPE1_NESTING_IOMMU = 6;
  public static final long VFIO_SPAPR_TCE_v2_IOMMU = 7;
  public static final long VFIO_NOIOMMU_IOMMU = 8;
  public static final long VFIO_UNMAP_ALL = 9;
  public static final long VFIO_UPDATE_VADDR = 10;

  private Vfio() {}
}
