package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuHwptGetDirtyBitmap.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;
import static org.iommufd4j.uapi.IommuHwptSetDirtyTracking.IOMMU_HWPT_DIRTY_TRACKING_ENABLE;

/**
 * Dirty tracking on paging HWPTs (hw_pagetable.c: iommufd_hwpt_set_dirty_tracking(),
 * iommufd_hwpt_get_dirty_bitmap(); selftest.c: mock_domain_read_and_clear_dirty()): switching it on
 * and off, and reading (and clearing) the dirty state of a range into the caller's bitmap.
 */
final class DirtyTracking {
  private final ObjectTable table;

  DirtyTracking(ObjectTable table) {
    this.table = table;
  }

  private HwPagetable paging(int hwptId) {
    return (HwPagetable) table.get(hwptId, ObjectType.HWPT_PAGING);
  }

  /** hw_pagetable.c: iommufd_hwpt_set_dirty_tracking(). */
  void set(int flags, int hwptId) {
    if ((flags & ~IOMMU_HWPT_DIRTY_TRACKING_ENABLE) != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    HwPagetable hwpt = paging(hwptId);
    Domain domain = hwpt.domain;
    if (!domain.supportsDirtyTracking()) {
      throw ErrnoException.of(EOPNOTSUPP, "hwpt " + hwptId + " has no dirty tracking");
    }
    boolean enable = (flags & IOMMU_HWPT_DIRTY_TRACKING_ENABLE) != 0;
    hwpt.ioas.lock.lock();
    try {
      if (enable) {
        // Every enable starts from a clean state, even when tracking was on already: the core
        // clears before asking the driver, which treats the unchanged state as a no-op.
        IoPagetable iopt = hwpt.ioas.iopt;
        for (Area a : iopt.areas) {
          if (a.isPopulated()) {
            domain.clearDirty(a.iova, a.length());
          }
        }
      }
      domain.setDirtyTracking(enable);
    } finally {
      hwpt.ioas.lock.unlock();
    }
  }

  /**
   * Returns normally once the checks pass, whatever the walk meets: 6.12 discards the walk's errors
   * (hw_pagetable.c: iommufd_hwpt_get_dirty_bitmap()).
   */
  void getBitmap(Caller caller, DirtyBitmapRequest r) {
    if ((r.flags() & ~IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) != 0 || r.reserved() != 0) {
      throw ErrnoException.of(
          EOPNOTSUPP,
          "flags=" + hex(r.flags()) + " __reserved=" + Integer.toUnsignedString(r.reserved()));
    }
    HwPagetable hwpt = paging(r.hwptId());
    long iova = r.iova();
    if (r.length() == 0) {
      throw ErrnoException.of(EINVAL, "length=0");
    }
    if (Unsigned.lastOverflows(iova, r.length())) {
      throw ErrnoException.of(EOVERFLOW, "iova=" + hex(iova) + " length=" + hex(r.length()));
    }
    long last = iova + r.length() - 1;
    DirtyBitmap bitmap;
    boolean covered = false;
    hwpt.ioas.lock.lock();
    try {
      long align = hwpt.ioas.iopt.align();
      if (((iova | (last + 1)) & (align - 1)) != 0) {
        throw ErrnoException.of(
            EINVAL,
            "iova=" + hex(iova) + " length=" + hex(r.length()) + " not aligned to " + hex(align));
      }
      long pageSize = r.pageSize();
      if (pageSize == 0 || ((iova | (last + 1)) & (pageSize - 1)) != 0) {
        throw ErrnoException.of(
            EINVAL,
            "page_size=" + hex(pageSize) + " for iova=" + hex(iova) + " length=" + hex(r.length()));
      }
      Domain domain = hwpt.domain;
      if (!domain.supportsDirtyTracking()) {
        throw ErrnoException.of(EOPNOTSUPP, "hwpt " + r.hwptId() + " has no dirty tracking");
      }
      bitmap = new DirtyBitmap(iova, last, Long.lowestOneBit(pageSize), r.data());
      boolean noClear = (r.flags() & IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) != 0;
      // The contiguous walk (io_pagetable.c: __iommu_read_and_clear_dirty()): the run of areas
      // from iova without gaps is read (and cleared); a range it does not cover to the end, a
      // hole included, is EINVAL after that (iopt_area_contig_done()).
      long pos = iova;
      for (Area a : hwpt.ioas.iopt.areas.contiguous(iova, last)) {
        long portionLast = Unsigned.min(a.last, last);
        domain.readAndClearDirty(pos, portionLast - pos + 1, noClear, bitmap::set);
        if (ge(a.last, last)) {
          covered = true;
          break;
        }
        pos = a.last + 1;
      }
    } finally {
      hwpt.ioas.lock.unlock();
    }
    bitmap.writeTo(caller.memory());
    if (!covered) {
      throw ErrnoException.of(
          EINVAL, "iova=" + hex(iova) + " last=" + hex(last) + " is not covered by areas");
    }
  }
}
