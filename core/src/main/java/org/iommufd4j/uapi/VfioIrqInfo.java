package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_GET_IRQ_INFO}: how many interrupts IRQ index {@code index} has
 * and how they can be signalled.
 *
 * {@snippet lang=c :
 * struct vfio_irq_info {
 *   __u32 argsz;
 *   __u32 flags;          // VFIO_IRQ_INFO_EVENTFD | _MASKABLE | _AUTOMASKED | _NORESIZE
 *   __u32 index;
 *   __u32 count;          // interrupts within this index
 * };
 * }
 */
public final class VfioIrqInfo {
  public static final StructLayout LAYOUT =
      struct("vfio_irq_info", u32("argsz"), u32("flags"), u32("index"), u32("count"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long INDEX = offset(LAYOUT, "index");
  public static final long COUNT = offset(LAYOUT, "count");

  public static final int VFIO_IRQ_INFO_EVENTFD = 1;
  public static final int VFIO_IRQ_INFO_MASKABLE = 1 << 1;
  public static final int VFIO_IRQ_INFO_AUTOMASKED = 1 << 2;
  public static final int VFIO_IRQ_INFO_NORESIZE = 1 << 3;

  /** IRQ indexes of a vfio-pci device. */
  public static final int VFIO_PCI_INTX_IRQ_INDEX = 0;

  public static final int VFIO_PCI_MSI_IRQ_INDEX = 1;
  public static final int VFIO_PCI_MSIX_IRQ_INDEX = 2;
  public static final int VFIO_PCI_ERR_IRQ_INDEX = 3;
  public static final int VFIO_PCI_REQ_IRQ_INDEX = 4;
  public static final int VFIO_PCI_NUM_IRQS = 5;

  private VfioIrqInfo() {}
}
