package org.iommufd4j.engine;

/**
 * The fields of {@code struct iommu_ioas_map} (ioas.c: iommufd_ioas_map()) that the engine checks.
 */
public record MapRequest(
    int flags, int ioasId, int reserved, long userVa, long length, long iova) {}
