package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * The argument of {@code VFIO_DEVICE_GET_REGION_INFO}: where region {@code index} of a device lies
 * in the device file ({@code offset}, for pread/pwrite/mmap) and what it allows. Capabilities
 * follow the struct within {@code argsz}: {@link VfioRegionInfoCapSparseMmap}, {@link
 * VfioRegionInfoCapType}, and the bare header {@code VFIO_REGION_INFO_CAP_MSIX_MAPPABLE}.
 *
 * {@snippet lang=c :
 * struct vfio_region_info {
 *   __u32 argsz;
 *   __u32 flags;          // VFIO_REGION_INFO_FLAG_READ | _WRITE | _MMAP | _CAPS
 *   __u32 index;
 *   __u32 cap_offset;     // first capability, from the struct's start; 0 = none
 *   __aligned_u64 size;
 *   __aligned_u64 offset;
 * };
 * }
 */
public final class VfioRegionInfo {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_region_info",
          u32("argsz"),
          u32("flags"),
          u32("index"),
          u32("cap_offset"),
          u64("size"),
          u64("offset"));
  public static final int SIZE = size(LAYOUT);
  public static final long ARGSZ = offset(LAYOUT, "argsz");
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long INDEX = offset(LAYOUT, "index");
  public static final long CAP_OFFSET = offset(LAYOUT, "cap_offset");
  public static final long SIZE_FIELD = offset(LAYOUT, "size");
  public static final long OFFSET = offset(LAYOUT, "offset");

  public static final int VFIO_REGION_INFO_FLAG_READ = 1;
  public static final int VFIO_REGION_INFO_FLAG_WRITE = 1 << 1;
  public static final int VFIO_REGION_INFO_FLAG_MMAP = 1 << 2;
  public static final int VFIO_REGION_INFO_FLAG_CAPS = 1 << 3;

  /** Capability ids of the region info chain. */
  public static final int VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1;

  public static final int VFIO_REGION_INFO_CAP_TYPE = 2;

  /** A bare {@link VfioInfoCapHeader}: the MSI-X table's BAR may be mmapped whole. */
  public static final int VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3;

  /** Region indexes of a vfio-pci device. */
  public static final int VFIO_PCI_BAR0_REGION_INDEX = 0;

  public static final int VFIO_PCI_BAR1_REGION_INDEX = 1;
  public static final int VFIO_PCI_BAR2_REGION_INDEX = 2;
  public static final int VFIO_PCI_BAR3_REGION_INDEX = 3;
  public static final int VFIO_PCI_BAR4_REGION_INDEX = 4;
  public static final int VFIO_PCI_BAR5_REGION_INDEX = 5;
  public static final int VFIO_PCI_ROM_REGION_INDEX = 6;
  public static final int VFIO_PCI_CONFIG_REGION_INDEX = 7;
  public static final int VFIO_PCI_VGA_REGION_INDEX = 8;
  public static final int VFIO_PCI_NUM_REGIONS = 9;

  private VfioRegionInfo() {}
}
