package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_GROUP_GET_STATUS} on a VFIO group file ({@code /dev/vfio/N}).
 *
 * {@snippet lang=c :
 * struct vfio_group_status {
 *   __u32 argsz;
 *   __u32 flags;          // out: VFIO_GROUP_FLAGS_VIABLE | _CONTAINER_SET
 * };
 * }
 */
public final class VfioGroupStatus {
  public static final StructLayout LAYOUT = struct("vfio_group_status", u32("argsz"), u32("flags"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");

  public static final int VFIO_GROUP_FLAGS_VIABLE = 1;
  public static final int VFIO_GROUP_FLAGS_CONTAINER_SET = 1 << 1;

  private VfioGroupStatus() {}
}
