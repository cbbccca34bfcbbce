package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_BIND_IOMMUFD} on a VFIO device cdev ({@code
 * /dev/vfio/devices/vfioN}): binds the device to an iommufd and returns its DEVICE id.
 *
 * {@snippet lang=c :
 * struct vfio_device_bind_iommufd {
 *   __u32 argsz;
 *   __u32 flags;          // must be 0
 *   __s32 iommufd;
 *   __u32 out_devid;
 * };
 * }
 */
public final class VfioDeviceBindIommufd {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_device_bind_iommufd", u32("argsz"), u32("flags"), u32("iommufd"), u32("out_devid"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long IOMMUFD = offset(LAYOUT, "iommufd");
  public static final long OUT_DEVID = offset(LAYOUT, "out_devid");

  private VfioDeviceBindIommufd() {}
}
