package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.array;
import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u16;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u8;
import static org.iommufd4j.uapi.CLayouts.union;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_GET_PCI_HOT_RESET_INFO}: the devices a hot reset of this one
 * would also reset. {@code count} entries follow; too small an {@code argsz} is ENOSPC with {@code
 * count} set. With {@code VFIO_PCI_HOT_RESET_FLAG_DEV_ID} (cdev-bound devices) an entry names a
 * DEVICE id, {@code VFIO_PCI_DEVID_OWNED} or {@code VFIO_PCI_DEVID_NOT_OWNED} instead of a group.
 *
 * {@snippet lang=c :
 * struct vfio_pci_dependent_device {
 *   union {
 *     __u32 group_id;
 *     __u32 devid;
 *   };
 *   __u16 segment;
 *   __u8  bus;
 *   __u8  devfn;
 * };
 *
 * struct vfio_pci_hot_reset_info {
 *   __u32 argsz;
 *   __u32 flags;          // out: VFIO_PCI_HOT_RESET_FLAG_DEV_ID | _DEV_ID_OWNED
 *   __u32 count;
 *   struct vfio_pci_dependent_device devices[];
 * };
 * }
 */
public final class VfioPciHotResetInfo {
  /** {@code struct vfio_pci_dependent_device}. */
  public static final StructLayout DEVICE_LAYOUT =
      struct(
          "vfio_pci_dependent_device",
          union(u32("group_id"), u32("devid")),
          u16("segment"),
          u8("bus"),
          u8("devfn"));

  public static final StructLayout LAYOUT =
      struct(
          "vfio_pci_hot_reset_info",
          u32("argsz"),
          u32("flags"),
          u32("count"),
          array("devices", 0, DEVICE_LAYOUT));

  /** Size without devices. */
  public static final int SIZE = size(LAYOUT);

  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long COUNT = offset(LAYOUT, "count");
  public static final long DEVICES = offset(LAYOUT, "devices");

  public static final int DEVICE_SIZE = size(DEVICE_LAYOUT);
  public static final long DEVICE_GROUP_ID = offset(DEVICE_LAYOUT, "group_id");
  public static final long DEVICE_DEVID = offset(DEVICE_LAYOUT, "devid");
  public static final long DEVICE_SEGMENT = offset(DEVICE_LAYOUT, "segment");
  public static final long DEVICE_BUS = offset(DEVICE_LAYOUT, "bus");
  public static final long DEVICE_DEVFN = offset(DEVICE_LAYOUT, "devfn");

  public static final int VFIO_PCI_HOT_RESET_FLAG_DEV_ID = 1;
  public static final int VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED = 1 << 1;
  public static final int VFIO_PCI_DEVID_OWNED = 0;
  public static final int VFIO_PCI_DEVID_NOT_OWNED = -1;

  private VfioPciHotResetInfo() {}
}
