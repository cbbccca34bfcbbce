package org.iommufd4j.engine;

/**
 * The fields of {@code struct iommu_hwpt_alloc} (hw_pagetable.c: iommufd_hwpt_alloc()) that the
 * engine checks. The driver data itself is read through a callback, only when the driver asks for
 * it.
 */
public record HwptAllocRequest(
    int flags, int devId, int ptId, int reserved, int dataType, int dataLen, int faultId) {}
