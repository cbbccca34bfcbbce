package org.iommufd4j;

import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;

/**
 * What devices may do with a mapping: the {@code IOMMU_IOAS_MAP_READABLE} and {@code
 * IOMMU_IOAS_MAP_WRITEABLE} flags of MAP and COPY (ioas.c: conv_iommu_prot()).
 */
public enum Protection {
  READ(IOMMU_IOAS_MAP_READABLE),
  WRITE(IOMMU_IOAS_MAP_WRITEABLE),
  READ_WRITE(IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE);

  private final int mapFlags;

  Protection(int mapFlags) {
    this.mapFlags = mapFlags;
  }

  /** The READABLE/WRITEABLE bits of {@code iommu_ioas_map.flags}. */
  public int mapFlags() {
    return mapFlags;
  }
}
