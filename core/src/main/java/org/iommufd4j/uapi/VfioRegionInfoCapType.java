package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * Region info capability {@code VFIO_REGION_INFO_CAP_TYPE}: the type of a device-specific region
 * (index {@code >= VFIO_PCI_NUM_REGIONS}).
 *
 * {@snippet lang=c :
 * struct vfio_region_info_cap_type {
 *   struct vfio_info_cap_header header;   // id 2, version 1
 *   __u32 type;           // global per bus driver
 *   __u32 subtype;        // type specific
 * };
 * }
 */
public final class VfioRegionInfoCapType {
  public static final StructLayout LAYOUT =
      struct(
          "vfio_region_info_cap_type",
          VfioInfoCapHeader.LAYOUT.withName("header"),
          u32("type"),
          u32("subtype"));
  public static final int SIZE = size(LAYOUT);
  public static final long HEADER = offset(LAYOUT, "header");
  public static final long TYPE = offset(LAYOUT, "type");
  public static final long SUBTYPE = offset(LAYOUT, "subtype");

  public static final int VERSION = 1;

  /** {@code type}: bit 31 marks a PCI vendor type, the vendor id in the low 16 bits. */
  public static final int VFIO_REGION_TYPE_PCI_VENDOR_TYPE = 1 << 31;

  public static final int VFIO_REGION_TYPE_PCI_VENDOR_MASK = 0xffff;
  public static final int VFIO_REGION_TYPE_GFX = 1;
  public static final int VFIO_REGION_TYPE_CCW = 2;
  public static final int VFIO_REGION_TYPE_MIGRATION_DEPRECATED = 3;

  private VfioRegionInfoCapType() {}
}
