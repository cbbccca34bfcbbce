package org.iommufd4j;

import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_ALLOC_NEST_PARENT;

/**
 * Flags of {@link Iommufd#allocHwpt} ({@code IOMMU_HWPT_ALLOC_*}, hw_pagetable.c:
 * iommufd_hwpt_alloc()).
 */
public enum HwptFlag {
  /** The HWPT may be the parent of nested HWPTs. */
  NEST_PARENT(IOMMU_HWPT_ALLOC_NEST_PARENT),
  /** The HWPT can track which pages devices wrote ({@link Hwpt#setDirtyTracking}). */
  DIRTY_TRACKING(IOMMU_HWPT_ALLOC_DIRTY_TRACKING);

  final int bit;

  HwptFlag(int bit) {
    this.bit = bit;
  }
}
