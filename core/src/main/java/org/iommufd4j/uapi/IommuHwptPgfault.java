package org.iommufd4j.uapi;

/**
 * One record read from a fault fd (spec §7.6); a group of faults arrives as consecutive records
 * sharing a cookie.
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
  public static final int SIZE = 40;
  public static final long FLAGS = 0;
  public static final long DEV_ID = 4;
  public static final long PASID = 8;
  public static final long GRPID = 12;
  public static final long PERM = 16;
  public static final long RESERVED = 20;
  public static final long ADDR = 24;
  public static final long LENGTH = 32;
  public static final long COOKIE = 36;

  public static final int IOMMU_PGFAULT_FLAGS_PASID_VALID = 1;
  public static final int IOMMU_PGFAULT_FLAGS_LAST_PAGE = 1 << 1;
  public static final int IOMMU_PGFAULT_PERM_READ = 1;
  public static final int IOMMU_PGFAULT_PERM_WRITE = 1 << 1;
  public static final int IOMMU_PGFAULT_PERM_EXEC = 1 << 2;
  public static final int IOMMU_PGFAULT_PERM_PRIV = 1 << 3;

  private IommuHwptPgfault() {}
}
