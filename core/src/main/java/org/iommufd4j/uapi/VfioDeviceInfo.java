package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_GET_INFO}. Capabilities ({@link VfioInfoCapHeader} chains)
 * follow the struct within {@code argsz}, as for {@link VfioIommuType1Info}.
 *
 * {@snippet lang=c :
 * struct vfio_device_info {
 *   __u32 argsz;
 *   __u32 flags;          // VFIO_DEVICE_FLAGS_RESET | _PCI | ... | _CAPS
 *   __u32 num_regions;    // max region index + 1
 *   __u32 num_irqs;       // max IRQ index + 1
 *   __u32 cap_offset;     // first capability, from the struct's start; 0 = none
 *   __u32 pad;
 * };
 * }
 */
public final class VfioDeviceInfo {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_device_info",
          u32("argsz"),
          u32("flags"),
          u32("num_regions"),
          u32("num_irqs"),
          u32("cap_offset"),
          u32("pad"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long NUM_REGIONS = offset(LAYOUT, "num_regions");
  public static final long NUM_IRQS = offset(LAYOUT, "num_irqs");
  public static final long CAP_OFFSET = offset(LAYOUT, "cap_offset");
  public static final long PAD = offset(LAYOUT, "pad");

  public static final int VFIO_DEVICE_FLAGS_RESET = 1;
  public static final int VFIO_DEVICE_FLAGS_PCI = 1 << 1;
  public static final int VFIO_DEVICE_FLAGS_PLATFORM = 1 << 2;
  public static final int VFIO_DEVICE_FLAGS_AMBA = 1 << 3;
  public static final int VFIO_DEVICE_FLAGS_CCW = 1 << 4;
  public static final int VFIO_DEVICE_FLAGS_AP = 1 << 5;
  public static final int VFIO_DEVICE_FLAGS_FSL_MC = 1 << 6;
  public static final int VFIO_DEVICE_FLAGS_CAPS = 1 << 7;
  public static final int VFIO_DEVICE_FLAGS_CDX = 1 << 8;

  /** Capability ids of the device info chain. */
  public static final int VFIO_DEVICE_INFO_CAP_ZPCI_BASE = 1;

  public static final int VFIO_DEVICE_INFO_CAP_ZPCI_GROUP = 2;
  public static final int VFIO_DEVICE_INFO_CAP_ZPCI_UTIL = 3;
  public static final int VFIO_DEVICE_INFO_CAP_ZPCI_PFIP = 4;
  public static final int VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP = 5;

  private VfioDeviceInfo() {}
}
