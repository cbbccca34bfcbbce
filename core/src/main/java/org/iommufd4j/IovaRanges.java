package org.iommufd4j;

import java.util.List;

/**
 * The answer of {@code IOMMU_IOAS_IOVA_RANGES}: the usable IOVA ranges in ascending order (the
 * holes of the reserved ranges, ioas.c: iommufd_ioas_iova_ranges()) and the IOVA alignment every
 * MAP must honour.
 */
public record IovaRanges(List<IovaRange> ranges, long alignment) {
  public IovaRanges {
    ranges = List.copyOf(ranges);
  }
}
