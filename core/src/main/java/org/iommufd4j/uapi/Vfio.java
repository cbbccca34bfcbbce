package org.iommufd4j.uapi;

/**
 * The VFIO ioctl numbers of Linux 6.12's {@code <linux/vfio.h>}: the type-1 container ioctls that
 * an iommufd file also answers (include/uapi/linux/iommufd.h: IOMMUFD_CMD_BASE; vfio_compat.c:
 * iommufd_vfio_ioctl()), with the extension and IOMMU-type numbers, and the group and device ioctls
 * of VFIO files (their structs are the {@code Vfio*} layout classes). They share the type byte
 * {@code ';'} ({@code VFIO_TYPE}) at {@code VFIO_BASE} = 100 and have no size word: on an iommufd
 * file they reach the VFIO compatibility handler because their {@code nr} lies below the iommufd
 * table (main.c: iommufd_fops_ioctl()).
 *
 * <p>VFIO_CHECK_EXTENSION and VFIO_SET_IOMMU take an <em>integer</em> argument, not a pointer. On
 * {@link org.iommufd4j.Iommufd#ioctl} pass it as the segment's address: {@code
 * iommufd.ioctl(Vfio.VFIO_CHECK_EXTENSION, MemorySegment.ofAddress(Vfio.VFIO_TYPE1v2_IOMMU))}.
 * VFIO_GET_API_VERSION ignores its argument.
 */
public final class Vfio {
  public static final int VFIO_TYPE = 0x3b;
  public static final int VFIO_BASE = 100;

  // _IO(VFIO_TYPE, VFIO_BASE + n): the container (and iommufd compat) ioctls ...
  public static final long VFIO_GET_API_VERSION = (VFIO_TYPE << 8) | (VFIO_BASE + 0);
  public static final long VFIO_CHECK_EXTENSION = (VFIO_TYPE << 8) | (VFIO_BASE + 1);
  public static final long VFIO_SET_IOMMU = (VFIO_TYPE << 8) | (VFIO_BASE + 2);
  public static final long VFIO_IOMMU_GET_INFO = (VFIO_TYPE << 8) | (VFIO_BASE + 12);
  public static final long VFIO_IOMMU_MAP_DMA = (VFIO_TYPE << 8) | (VFIO_BASE + 13);
  public static final long VFIO_IOMMU_UNMAP_DMA = (VFIO_TYPE << 8) | (VFIO_BASE + 14);

  /** Recognised by VFIO, refused by iommufd: ENOTTY. */
  public static final long VFIO_IOMMU_DIRTY_PAGES = (VFIO_TYPE << 8) | (VFIO_BASE + 17);

  // ... of a group file (/dev/vfio/N) ...
  public static final long VFIO_GROUP_GET_STATUS = (VFIO_TYPE << 8) | (VFIO_BASE + 3);
  public static final long VFIO_GROUP_SET_CONTAINER = (VFIO_TYPE << 8) | (VFIO_BASE + 4);
  public static final long VFIO_GROUP_UNSET_CONTAINER = (VFIO_TYPE << 8) | (VFIO_BASE + 5);
  public static final long VFIO_GROUP_GET_DEVICE_FD = (VFIO_TYPE << 8) | (VFIO_BASE + 6);
  // ... and of a device file (group fd or cdev /dev/vfio/devices/vfioN); numbers 12-20 are
  // reused, since a request only means something on its own kind of file.
  public static final long VFIO_DEVICE_GET_INFO = (VFIO_TYPE << 8) | (VFIO_BASE + 7);
  public static final long VFIO_DEVICE_GET_REGION_INFO = (VFIO_TYPE << 8) | (VFIO_BASE + 8);
  public static final long VFIO_DEVICE_GET_IRQ_INFO = (VFIO_TYPE << 8) | (VFIO_BASE + 9);
  public static final long VFIO_DEVICE_SET_IRQS = (VFIO_TYPE << 8) | (VFIO_BASE + 10);
  public static final long VFIO_DEVICE_RESET = (VFIO_TYPE << 8) | (VFIO_BASE + 11);
  public static final long VFIO_DEVICE_GET_PCI_HOT_RESET_INFO = (VFIO_TYPE << 8) | (VFIO_BASE + 12);
  public static final long VFIO_DEVICE_PCI_HOT_RESET = (VFIO_TYPE << 8) | (VFIO_BASE + 13);
  public static final long VFIO_DEVICE_FEATURE = (VFIO_TYPE << 8) | (VFIO_BASE + 17);
  public static final long VFIO_DEVICE_BIND_IOMMUFD = (VFIO_TYPE << 8) | (VFIO_BASE + 18);
  public static final long VFIO_DEVICE_ATTACH_IOMMUFD_PT = (VFIO_TYPE << 8) | (VFIO_BASE + 19);
  public static final long VFIO_DEVICE_DETACH_IOMMUFD_PT = (VFIO_TYPE << 8) | (VFIO_BASE + 20);

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
