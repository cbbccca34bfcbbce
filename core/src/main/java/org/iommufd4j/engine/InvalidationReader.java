package org.iommufd4j.engine;

/**
 * Reads the requests of an {@code IOMMU_HWPT_INVALIDATE} array for the mock driver (hw_pagetable.c:
 * iommufd_hwpt_invalidate()): the byte ABI reads {@code struct iommu_hwpt_invalidate_selftest}
 * number {@code index} at {@code data_uptr + index * entry_len}.
 */
@FunctionalInterface
public interface InvalidationReader {
  /** One request of the mock driver's type. */
  record Request(int flags, int iotlbId) {}

  /** Request {@code index}; ErrnoException EFAULT if it cannot be read. */
  Request read(int index);
}
