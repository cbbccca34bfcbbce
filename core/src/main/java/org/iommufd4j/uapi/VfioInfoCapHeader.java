package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u16;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

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
  public static final StructLayout LAYOUT =
      struct("vfio_info_cap_header", u16("id"), u16("version"), u32("next"));
  public static final int SIZE = size(LAYOUT);
  public static final long ID = offset(LAYOUT, "id");
  public static final long VERSION = offset(LAYOUT, "version");
  public static final long NEXT = offset(LAYOUT, "next");

  private VfioInfoCapHeader() {}
}
