package org.iommufd4j.engine;

/** The fields of {@code struct iommu_ioas_copy} (ioas.c: iommufd_ioas_copy()). */
public record CopyRequest(
    int flags, int dstIoasId, int srcIoasId, long length, long dstIova, long srcIova) {}
