package org.iommufd4j.engine;

/** The fields of {@code struct iommu_hwpt_get_dirty_bitmap} (spec §7.4). */
public record DirtyBitmapRequest(
    int hwptId, int flags, int reserved, long iova, long length, long pageSize, long data) {
  /** {@code IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR}. */
  public static final int NO_CLEAR = 1;
}
