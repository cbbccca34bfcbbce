package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;
import static org.iommufd4j.uapi.CLayouts.u64;

import java.lang.foreign.StructLayout;

/**
 * One record read from a fault fd (fault.c: iommufd_fault_fops_read()); a group of faults arrives
 * as consecutive records sharing a cookie.
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_pgfault {
 *   __u32 flags;        // IOMMU_PGFAULT_FLAGS_PASID_VALID | _LAST_PAGE
 *   __u32 dev_id;       // DEVICE id
 *   __u32 pasid;
 *   __u32 grpid;
 *   __u32 perm;         // IOMMU_PGFAULT_PERM_READ | _WRITE | _EXEC | _PRIV
 *   __u32 __reserved;
 *   __aligned_u64 addr;
 *   __u32 length;       // 0: no hint
 *   __u32 cookie;       // echo it in the response
 * };
 * }
 */
public final class IommuHwptPgfault {
  public static final StructLayout LAYOUT =
      struct(
          "iommu_hwpt_pgfault",
          u32("flags"),
          u32("dev_id"),
          u32("pasid"),
          u32("grpid"),
          u32("perm"),
          u32("__reserved"),
          u64("addr"),
          u32("length"),
          u32("cookie"));
  public static final int SIZE = size(LAYOUT);
  public static final long FLAGS = offset(LAYOUT, "flags");
  public static final long DEV_ID = offset(LAYOUT, "dev_id");
  public static final long PASID = offset(LAYOUT, "pasid");
  public static final long GRPID = offset(LAYOUT, "grpid");
  public static final long PERM = offset(LAYOUT, "perm");
  public static final long RESERVED = offset(LAYOUT, "__reserved");
  public static final long ADDR = offset(LAYOUT, "addr");
  public static final long LENGTH = offset(LAYOUT, "length");
  public static final long COOKIE = offset(LAYOUT, "cookie");

  public static final int IOMMU_PGFAULT_FLAGS_PASID_VALID = 1;
  public static final int IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1;
  public static final int IOMMU_PGFAULT_PERM_READ = 1;
  public static final int IOMMU_PGFAULT_PERM_WRITE = 1 << 1;
  public static final int IOMMU_PGFAULT_PERM_EXEC = 1 << 2;
  public static final int IOMMU_PGFAULT_PERM_PRIV = 1 << 3;

  private IommuHwptPgfault() {}
}
