package org.iommufd4j;

import org.iommufd4j.uapi.IommuHwptPgfault;

/**
 * One I/O page fault read from a {@link FaultQueue} ({@code struct iommu_hwpt_pgfault}, fault.c:
 * iommufd_fault_fops_read()): the faulting device, PASID, page request group, permissions asked
 * ({@code IOMMU_PGFAULT_PERM_*}: read 1, write 2, exec 4, priv 8) and address. Answer the group
 * with {@link FaultQueue#respond} and its {@code cookie}.
 */
public record PageFault(
    int flags, int deviceId, int pasid, int groupId, int permissions, long address, int cookie) {
  /** {@code IOMMU_PGFAULT_FLAGS_PASID_VALID}. */
  public static final int PASID_VALID = IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_PASID_VALID;

  /** {@code IOMMU_PGFAULT_FLAGS_LAST_PAGE}: the last fault of its group. */
  public static final int LAST_PAGE = IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_LAST_PAGE;
}
