package org.iommufd4j;

/**
 * What devices may do with a mapping: the {@code IOMMU_IOAS_MAP_READABLE} and
 * {@code IOMMU_IOAS_MAP_WRITEABLE} flags of MAP and COPY (spec §3.0).
 */
public enum Protection {
  READ(1 << 2),
  WRITE(1 << 1),
  READ_WRITE((1 << 2) | (1 << 1));

  private final int mapFlags;

  Protection(int mapFlags) {
    this.mapFlags = mapFlags;
  }

  /** The READABLE/WRITEABLE bits of {@code iommu_ioas_map.flags}. */
  public int mapFlags() {
    return mapFlags;
  }
}
