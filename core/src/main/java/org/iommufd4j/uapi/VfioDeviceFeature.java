package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u8s;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_FEATURE}: the feature index in the low 16 bits of {@code
 * flags}, one of GET, SET or PROBE above them, and the feature's own struct in {@code data}.
 *
 * {@snippet lang=c :
 * struct vfio_device_feature {
 *   __u32 argsz;
 *   __u32 flags;          // feature index | VFIO_DEVICE_FEATURE_GET / _SET / _PROBE
 *   __u8  data[];
 * };
 * }
 */
public final class VfioDeviceFeature {
  public static final StructLayout LAYOUT =
      struct("vfio_device_feature", u32("argsz"), u32("flags"), u8s("data", 0));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long DATA = offset(LAYOUT, "data");

  public static final int VFIO_DEVICE_FEATURE_MASK = 0xffff;
  public static final int VFIO_DEVICE_FEATURE_GET = 1 << 16;
  public static final int VFIO_DEVICE_FEATURE_SET = 1 << 17;
  public static final int VFIO_DEVICE_FEATURE_PROBE = 1 << 18;

  /** Feature indexes. */
  public static final int VFIO_DEVICE_FEATURE_PCI_VF_TOKEN = 0;

  public static final int VFIO_DEVICE_FEATURE_MIGRATION = 1;
  public static final int VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE = 2;
  public static final int VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY = 3;
  public static final int VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP = 4;
  public static final int VFIO_DEVICE_FEATURE_LOW_POWER_EXIT = 5;
  public static final int VFIO_DEVICE_FEATURE_DMA_LOGGING_START = 6;
  public static final int VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP = 7;
  public static final int VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT = 8;
  public static final int VFIO_DEVICE_FEATURE_MIG_DATA_SIZE = 9;
  public static final int VFIO_DEVICE_FEATURE_BUS_MASTER = 10;

  private VfioDeviceFeature() {}
}
