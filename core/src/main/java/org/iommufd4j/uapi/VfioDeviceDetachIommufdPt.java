package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_DETACH_IOMMUFD_PT}.
 *
 * {@snippet lang=c :
 * struct vfio_device_detach_iommufd_pt {
 *   __u32 argsz;
 *   __u32 flags;          // must be 0
 * };
 * }
 */
public final class VfioDeviceDetachIommufdPt {
  public static final StructLayout LAYOUT =
      struct("vfio_device_detach_iommufd_pt", u32("argsz"), u32("flags"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");

  private VfioDeviceDetachIommufdPt() {}
}
