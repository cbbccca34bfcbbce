package org.iommufd4j.engine;

/** The fields of {@code struct iommu_ioas_map} (spec §3.4) that the engine checks. */
public record MapRequest(int flags, int ioasId, int reserved, long userVa, long length, long iova) {}
