package org.iommufd4j.engine;

/**
 * The fields of {@code struct iommu_hwpt_get_dirty_bitmap} (hw_pagetable.c:
 * iommufd_hwpt_get_dirty_bitmap()).
 */
public record DirtyBitmapRequest(
    int hwptId, int flags, int reserved, long iova, long length, long pageSize, long data) {}
