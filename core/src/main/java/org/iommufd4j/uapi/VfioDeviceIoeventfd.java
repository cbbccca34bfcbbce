package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_IOEVENTFD}: when eventfd {@code fd} is signalled, write {@code
 * data} ({@code flags}' size bits say 1, 2, 4 or 8 bytes) at device-file {@code offset}; {@code fd}
 * -1 removes the matching one.
 *
 * {@snippet lang=c :
 * struct vfio_device_ioeventfd {
 *   __u32 argsz;
 *   __u32 flags;          // VFIO_DEVICE_IOEVENTFD_8/16/32/64
 *   __u64 offset;
 *   __u64 data;
 *   __s32 fd;
 *   __u32 reserved;
 * };
 * }
 */
public final class VfioDeviceIoeventfd {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_device_ioeventfd",
          u32("argsz"),
          u32("flags"),
          u64("offset"),
          u64("data"),
          u32("fd"),
          u32("reserved"));

  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long OFFSET = offset(LAYOUT, "offset");
  public static final long DATA = offset(LAYOUT, "data");
  public static final long FD = offset(LAYOUT, "fd");

  /** The access size in bytes, one bit of 1, 2, 4, 8. */
  public static final int VFIO_DEVICE_IOEVENTFD_SIZE_MASK = 0xf;

  private VfioDeviceIoeventfd() {}
}
