package org.iommufd4j;

/** Flags of {@link Iommufd#allocHwpt} ({@code IOMMU_HWPT_ALLOC_*}, spec §7.1). */
public enum HwptFlag {
  /** The HWPT may be the parent of nested HWPTs. */
  NEST_PARENT(1),
  /** The HWPT can track which pages devices wrote ({@link Hwpt#setDirtyTracking}). */
  DIRTY_TRACKING(1 << 1);

  final int bit;

  HwptFlag(int bit) {
    this.bit = bit;
  }
}
