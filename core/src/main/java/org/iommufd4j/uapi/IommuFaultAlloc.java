package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * {@code IOMMU_FAULT_QUEUE_ALLOC} (fault.c: iommufd_fault_alloc()).
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
  public static final StructLayout LAYOUT =
      struct(
          "iommu_fault_alloc", u32("size"), u32("flags"), u32("out_fault_id"), u32("out_fault_fd"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long OUT_FAULT_ID = offset(LAYOUT, "out_fault_id");
  public static final long OUT_FAULT_FD = offset(LAYOUT, "out_fault_fd");

  private IommuFaultAlloc() {}
}
