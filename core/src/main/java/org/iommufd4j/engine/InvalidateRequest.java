package org.iommufd4j.engine;

/**
 * The fields of {@code struct iommu_hwpt_invalidate} (spec §7.5); the requests themselves come
 * through an {@link InvalidationReader}.
 */
public record InvalidateRequest(
    int hwptId, long dataUptr, int dataType, int entryLen, int entryNum, int reserved) {}
