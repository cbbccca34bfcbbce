package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u8s;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_SET_IRQS}: one data type and one action for interrupts {@code
 * start .. start + count - 1} of IRQ index {@code index}; {@code data} holds {@code count} u8
 * booleans or s32 eventfds (-1: none), or nothing.
 *
 * {@snippet lang=c :
 * struct vfio_irq_set {
 *   __u32 argsz;
 *   __u32 flags;          // one VFIO_IRQ_SET_DATA_*, one VFIO_IRQ_SET_ACTION_*
 *   __u32 index;
 *   __u32 start;
 *   __u32 count;
 *   __u8  data[];
 * };
 * }
 */
public final class VfioIrqSet {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_irq_set",
          u32("argsz"),
          u32("flags"),
          u32("index"),
          u32("start"),
          u32("count"),
          u8s("data", 0));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long INDEX = offset(LAYOUT, "index");
  public static final long START = offset(LAYOUT, "start");
  public static final long COUNT = offset(LAYOUT, "count");
  public static final long DATA = offset(LAYOUT, "data");

  public static final int VFIO_IRQ_SET_DATA_NONE = 1;
  public static final int VFIO_IRQ_SET_DATA_BOOL = 1 << 1;
  public static final int VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2;
  public static final int VFIO_IRQ_SET_ACTION_MASK = 1 << 3;
  public static final int VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4;
  public static final int VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5;
  public static final int VFIO_IRQ_SET_DATA_TYPE_MASK =
      VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_DATA_EVENTFD;
  public static final int VFIO_IRQ_SET_ACTION_TYPE_MASK =
      VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK | VFIO_IRQ_SET_ACTION_TRIGGER;

  private VfioIrqSet() {}
}
