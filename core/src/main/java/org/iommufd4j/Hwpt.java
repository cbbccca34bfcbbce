package org.iommufd4j;

import java.util.BitSet;

/**
 * A paging HWPT ({@code IOMMU_HWPT_ALLOC}, hw_pagetable.c: iommufd_hwpt_alloc()): an IOMMU domain
 * of one device's IOMMU that maps what its IOAS maps. Attach devices to it ({@link
 * EmulatedDevice#attach(Hwpt)}, or VFIO's attach on a real kernel); with {@link
 * HwptFlag#DIRTY_TRACKING} it records which pages they wrote, as live migration reads them. Closing
 * it destroys it (EBUSY while devices use it).
 *
 * {@snippet :
 * try (Hwpt hwpt = iommufd.allocHwpt(device.id(), ioas.id(), HwptFlag.DIRTY_TRACKING)) {
 *   device.attach(hwpt);
 *   hwpt.setDirtyTracking(true);
 *   // ... the device writes ...
 *   BitSet dirty = hwpt.readDirtyBitmap(iova, length, 4096, true); // bit n: page iova + n * 4096
 * }
 * }
 */
public interface Hwpt extends AutoCloseable {
  /** The HWPT object id. */
  int id();

  /**
   * {@code IOMMU_HWPT_SET_DIRTY_TRACKING}: turning it on first forgets what was dirty.
   *
   * @throws IommufdException EOPNOTSUPP if the HWPT was not allocated with DIRTY_TRACKING
   */
  void setDirtyTracking(boolean enabled);

  /**
   * {@code IOMMU_HWPT_GET_DIRTY_BITMAP}: bit {@code n} is set if a device wrote the page at {@code
   * iova + n * pageSize} since the last read that cleared it; {@code clear} forgets what it
   * reports. Only the mapped run from {@code iova} on is reported (hw_pagetable.c:
   * iommufd_hwpt_get_dirty_bitmap()).
   *
   * @throws IommufdException EINVAL for an empty or misaligned range or page size, EOVERFLOW if the
   *     range wraps, EOPNOTSUPP without DIRTY_TRACKING
   */
  BitSet readDirtyBitmap(long iova, long length, long pageSize, boolean clear);

  /** Destroys the HWPT ({@code IOMMU_DESTROY}). */
  @Override
  void close();
}
