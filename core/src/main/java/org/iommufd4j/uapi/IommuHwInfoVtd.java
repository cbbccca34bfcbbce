package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * Intel VT-d's GET_HW_INFO data, type {@code IOMMU_HW_INFO_TYPE_INTEL_VTD} (iommufd.h: struct
 * iommu_hw_info_vtd): the unit's capability and extended capability registers.
 *
 * {@snippet lang=c :
 * struct iommu_hw_info_vtd {
 *   __u32 flags;        // IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17
 *   __u32 __reserved;
 *   __aligned_u64 cap_reg;
 *   __aligned_u64 ecap_reg;
 * };
 * }
 */
public final class IommuHwInfoVtd {
  public static final StructLayout LAYOUT =
      struct("iommu_hw_info_vtd", u32("flags"), u32("__reserved"), u64("cap_reg"), u64("ecap_reg"));
  public static final int SIZE = size(LAYOUT);
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long CAP_REG = offset(LAYOUT, "cap_reg");
  public static final long ECAP_REG = offset(LAYOUT, "ecap_reg");

  /** Set by intel-iommu on every unit (the erratum's workaround is the user's business). */
  public static final int IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17 = 1;

  private IommuHwInfoVtd() {}
}
