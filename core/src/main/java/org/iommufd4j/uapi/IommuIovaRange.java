package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * {@snippet lang=c :
 * struct iommu_iova_range {
 *   __aligned_u64 start;
 *   __aligned_u64 last;
 * };
 * }
 */
public final class IommuIovaRange {
  public static final StructLayout LAYOUT = struct("iommu_iova_range",
      u64("start"), u64("last"));
  public static final int SIZE = size(LAYOUT);
  public static final long START = offset(LAYOUT, "start");
  public static final long LAST = offset(LAYOUT, "last");

  private IommuIovaRange() {}
}
