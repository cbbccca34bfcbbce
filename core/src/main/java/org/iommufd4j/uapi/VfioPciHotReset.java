package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.array;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_PCI_HOT_RESET}: {@code count} group fds proving ownership of
 * every affected device, or none (count 0) when the devices are bound to one iommufd.
 *
 * {@snippet lang=c :
 * struct vfio_pci_hot_reset {
 *   __u32 argsz;
 *   __u32 flags;          // must be 0
 *   __u32 count;
 *   __s32 group_fds[];
 * };
 * }
 */
public final class VfioPciHotReset {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_pci_hot_reset",
          u32("argsz"),
          u32("flags"),
          u32("count"),
          array("group_fds", 0, CLayouts.U32));

  /** Size without fds. */
  public static final int SIZE = size(LAYOUT);

  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long COUNT = offset(LAYOUT, "count");
  public static final long GROUP_FDS = offset(LAYOUT, "group_fds");

  private VfioPciHotReset() {}
}
