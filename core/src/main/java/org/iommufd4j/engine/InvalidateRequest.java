package org.iommufd4j.engine;

/**
 * The fields of {@code struct iommu_hwpt_invalidate} (hw_pagetable.c: iommufd_hwpt_invalidate());
 * the requests themselves come through an {@link InvalidationReader}.
 */
public record InvalidateRequest(
    int hwptId, long dataUptr, int dataType, int entryLen, int entryNum, int reserved) {}
