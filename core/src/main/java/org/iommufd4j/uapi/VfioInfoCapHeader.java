package org.iommufd4j.uapi;

/**
 * The header of every VFIO info capability.
 *
 * {@snippet lang=c :
 * struct vfio_info_cap_header {
 *   __u16 id;
 *   __u16 version;
 *   __u32 next;           // offset of the next capability from the start of the info struct; 0 = last
 * };
 * }
 */
public final class VfioInfoCapHeader {
  public static final int SIZE = 8;
  public static final long ID = 0;
  public static final long VERSION = 2;
  public static final long NEXT = 4;

  private VfioInfoCapHeader() {}
}
