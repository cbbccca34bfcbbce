package org.iommufd4j.engine;

/** The fields of {@code struct iommu_hwpt_get_dirty_bitmap} (spec §7.4). */
public record DirtyBitmapRequest(
    int hwptId, int flags, int reserved, long iova, long length, long pageSize, long data) {
}
