package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_ATTACH_IOMMUFD_PT}: attaches a bound device to an IOAS or
 * HWPT; {@code pt_id} comes back as the HWPT actually attached.
 *
 * {@snippet lang=c :
 * struct vfio_device_attach_iommufd_pt {
 *   __u32 argsz;
 *   __u32 flags;          // must be 0
 *   __u32 pt_id;          // in: IOAS or HWPT id; out: the HWPT id
 * };
 * }
 */
public final class VfioDeviceAttachIommufdPt {
  public static final StructLayout LAYOUT =
      struct("vfio_device_attach_iommufd_pt", u32("argsz"), u32("flags"), u32("pt_id"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long PT_ID = offset(LAYOUT, "pt_id");

  private VfioDeviceAttachIommufdPt() {}
}
