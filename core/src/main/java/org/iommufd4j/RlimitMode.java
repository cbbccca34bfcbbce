package org.iommufd4j;

/**
 * How pinned pages are charged against {@code RLIMIT_MEMLOCK} ({@code IOMMU_OPTION_RLIMIT_MODE},
 * ioas.c: iommufd_option_rlimit_mode(); pages.c: do_update_pinned()).
 */
public enum RlimitMode {
  /** Charged to the owner's user (per uid); the default of {@code /dev/iommu}. */
  USER,
  /** Charged to the owner process, as VFIO type 1 does; the default of {@code /dev/vfio/vfio}. */
  PROCESS
}
