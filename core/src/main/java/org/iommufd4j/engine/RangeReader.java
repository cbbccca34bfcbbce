package org.iommufd4j.engine;

/**
 * Reads element {@code index} of a caller's {@code iommu_iova_range} array into {@code
 * startLast[0..1]}, throwing {@link ErrnoException} EFAULT when it cannot. The engine reads
 * elements one at a time, in order, because a later fault must not hide an earlier EINVAL (ioas.c:
 * iommufd_ioas_allow_iovas()).
 */
@FunctionalInterface
public interface RangeReader {
  void read(int index, long[] startLast);
}
