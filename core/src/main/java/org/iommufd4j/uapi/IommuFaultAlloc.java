package org.iommufd4j.uapi;

/**
 * {@code IOMMU_FAULT_QUEUE_ALLOC} (spec §7.6).
 *
 * {@snippet lang=c :
 * struct iommu_fault_alloc {
 *   __u32 size;
 *   __u32 flags;          // must be 0
 *   __u32 out_fault_id;
 *   __u32 out_fault_fd;
 * };
 * }
 */
public final class IommuFaultAlloc {
  public static final int SIZE = 16;
  public static final int MIN_SIZE = 16;
  public static final long FLAGS = 4;
  public static final long OUT_FAULT_ID = 8;
  public static final long OUT_FAULT_FD = 12;

  private IommuFaultAlloc() {}
}
