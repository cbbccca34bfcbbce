package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENODEV;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.engine.Unsigned.U64_MAX;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_CLEAR;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_GET;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_SET;
import static org.iommufd4j.uapi.Vfio.VFIO_API_VERSION;
import static org.iommufd4j.uapi.Vfio.VFIO_DMA_CC_IOMMU;
import static org.iommufd4j.uapi.Vfio.VFIO_TYPE1_IOMMU;
import static org.iommufd4j.uapi.Vfio.VFIO_TYPE1v2_IOMMU;
import static org.iommufd4j.uapi.Vfio.VFIO_UNMAP_ALL;
import static org.iommufd4j.uapi.VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_READ;
import static org.iommufd4j.uapi.VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE;
import static org.iommufd4j.uapi.VfioIommuType1DmaUnmap.VFIO_DMA_UNMAP_FLAG_ALL;

import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.IovaRange;

/**
 * The VFIO compatibility family (the kernel's {@code vfio_compat.c}): {@code IOMMU_VFIO_IOAS}
 * (vfio_compat.c: iommufd_vfio_ioas()), which chooses the compat IOAS, and the VFIO type-1
 * container commands that an iommufd context answers for old VFIO users on it (vfio_compat.c:
 * iommufd_vfio_ioctl()). "No compat IOAS" (none set, or it was destroyed) is ENODEV everywhere.
 *
 * <p>Every change goes through the IOAS engine paths: MAP_DMA is the second half of MAP with a
 * fixed IOVA ({@link IoasCommands#userSlices}, {@link IoasCommands#place}), SET_IOMMU(TYPE1) is
 * OPTION HUGE_PAGES 0 ({@link IoPagetable#setHugePages}), UNMAP_DMA is the range removal
 * (io_pagetable.c: iopt_unmap_iova_range()), preceded in TYPE1 mode by the cuts of iopt_cut_iova()
 * ({@link IoPagetable#split}).
 *
 * <p>The emulated kernel has no VFIO no-IOMMU support and never enters no-IOMMU mode (that takes a
 * real VFIO no-IOMMU group).
 */
public final class VfioCompat {
  private static final long PAGE_SIZE = PageSource.PAGE_SIZE;

  private final IoasCommands ioasCommands;

  /** The IOAS the VFIO compatibility commands use, or null; guarded by {@code this}. */
  private IoasObject compatIoas;

  VfioCompat(IoasCommands ioasCommands) {
    this.ioasCommands = ioasCommands;
  }

  /**
   * {@code IOMMU_VFIO_IOAS} (vfio_compat.c: iommufd_vfio_ioas()); returns the compat IOAS id for
   * GET, else 0.
   */
  public int vfioIoas(int op, int reserved, int ioasId) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    switch (op) {
      case IOMMU_VFIO_IOAS_GET:
        return compatIoas().id;
      case IOMMU_VFIO_IOAS_SET:
        IoasObject ioas = ioasCommands.lookup(ioasId);
        synchronized (this) {
          compatIoas = ioas;
        }
        return 0;
      case IOMMU_VFIO_IOAS_CLEAR:
        clearCompatIoas();
        return 0;
      default:
        throw ErrnoException.of(EOPNOTSUPP, "op=" + op);
    }
  }

  /**
   * A VFIO group joined this context as its container (vfio/group.c:
   * vfio_group_ioctl_set_container()): unless a compat IOAS is set, a new IOAS becomes it, an
   * object like one the user made (vfio_compat.c: iommufd_vfio_compat_ioas_create()).
   */
  public synchronized void createCompatIoas() {
    if (compatIoas == null) {
      compatIoas = ioasCommands.lookup(ioasCommands.alloc(0, id -> true));
    }
  }

  /**
   * The compat IOAS's id, which a device opened through a group attaches to (vfio_compat.c:
   * iommufd_vfio_compat_ioas_get_id()); ENODEV if there is none.
   */
  public int compatIoasId() {
    return compatIoas().id;
  }

  /**
   * The compat IOAS (vfio_compat.c: iommufd_vfio_ioctl()): ENODEV if none is set (or it was
   * destroyed).
   */
  private synchronized IoasObject compatIoas() {
    if (compatIoas == null) {
      throw ErrnoException.of(ENODEV, "no VFIO compatibility IOAS");
    }
    return compatIoas;
  }

  /** The descriptor was closed, or VFIO_IOAS CLEAR: no compat IOAS any more. */
  synchronized void clearCompatIoas() {
    compatIoas = null;
  }

  /** {@code destroyed} left the object table: if it was the compat IOAS, there is none now. */
  synchronized void forget(IommufdObject destroyed) {
    if (compatIoas == destroyed) {
      compatIoas = null;
    }
  }

  /** The compat IOAS, locked; ENODEV if there is none or it was destroyed meanwhile. */
  private IoasObject lockCompat() {
    IoasObject ioas = compatIoas();
    lockCompat(ioas);
    return ioas;
  }

  private static void lockCompat(IoasObject ioas) {
    ioas.lock.lock();
    if (ioas.isDestroyed()) {
      ioas.lock.unlock();
      throw ErrnoException.of(ENODEV, "the VFIO compatibility IOAS was destroyed");
    }
  }

  /** VFIO_GET_API_VERSION. */
  public int apiVersion() {
    return VFIO_API_VERSION;
  }

  /**
   * VFIO_CHECK_EXTENSION: 1 for TYPE1, TYPE1v2 and UNMAP_ALL; 0 for NOIOMMU (no no-IOMMU support);
   * for DMA_CC_IOMMU, 1 if every HWPT of the compat IOAS enforces cache coherency (ENODEV without a
   * compat IOAS); 0 for anything else.
   */
  public int checkExtension(long extension) {
    if (extension == VFIO_TYPE1_IOMMU
        || extension == VFIO_TYPE1v2_IOMMU
        || extension == VFIO_UNMAP_ALL) {
      return 1;
    }
    if (extension == VFIO_DMA_CC_IOMMU) {
      IoasObject ioas = lockCompat();
      try {
        for (HwPagetable hwpt : ioas.hwpts) {
          if (!hwpt.domain.enforcesCacheCoherency()) {
            return 0;
          }
        }
        return 1;
      } finally {
        ioas.lock.unlock();
      }
    }
    return 0; // NOIOMMU, NESTING, UPDATE_VADDR, unknown numbers
  }

  /**
   * VFIO_SET_IOMMU: EINVAL for a type other than TYPE1/TYPE1v2, ENODEV without a compat IOAS. TYPE1
   * disables large pages on the compat IOAS exactly as OPTION HUGE_PAGES 0 (EINVAL with domains and
   * areas, EADDRINUSE for a misaligned area; ioas.c: iommufd_ioas_option_huge_pages()); TYPE1v2
   * changes nothing.
   */
  public void setIommu(long type) {
    if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU) {
      throw ErrnoException.of(EINVAL, "IOMMU type " + Long.toUnsignedString(type));
    }
    IoasObject ioas = lockCompat();
    try {
      if (type == VFIO_TYPE1_IOMMU) {
        ioas.iopt.setHugePages(false);
      }
    } finally {
      ioas.lock.unlock();
    }
  }

  /**
   * What VFIO_IOMMU_GET_INFO reports.
   *
   * @param iovaPgsizes the page-size bitmap (vfio_compat.c: iommufd_get_pagesizes())
   * @param ranges the usable IOVA ranges, as IOMMU_IOAS_IOVA_RANGES lists them
   */
  public record Type1Info(long iovaPgsizes, List<IovaRange> ranges) {
    public Type1Info {
      ranges = List.copyOf(ranges);
    }
  }

  /** VFIO_IOMMU_GET_INFO (after the {@code argsz} check): ENODEV without a compat IOAS. */
  public Type1Info info() {
    IoasObject ioas = lockCompat();
    try {
      IoPagetable iopt = ioas.iopt;
      long pgsizes = U64_MAX;
      for (Domain d : iopt.domains) {
        pgsizes &= d.pageSizes;
      }
      // Hardware pages below PAGE_SIZE are not shown: they become one 4 KiB bit.
      if ((pgsizes & (PAGE_SIZE - 1)) != 0) {
        pgsizes = (pgsizes & -PAGE_SIZE) | PAGE_SIZE;
      }
      return new Type1Info(Unsigned.max(pgsizes, iopt.align()), iopt.usableRanges());
    } finally {
      ioas.lock.unlock();
    }
  }

  /**
   * VFIO_IOMMU_MAP_DMA (after the {@code argsz} check): flags outside READ|WRITE → EINVAL; no
   * compat IOAS → ENODEV; then what MAP does from the page source on, with FIXED_IOVA at {@code
   * iova} (EINVAL, EOVERFLOW, EEXIST, EFAULT, ENOMEM, ...). Neither READ nor WRITE is accepted: the
   * area allows no access.
   */
  public void mapDma(Caller caller, int flags, long vaddr, long iova, long size) {
    if ((flags & ~(VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE)) != 0) {
      throw ErrnoException.of(EINVAL, "flags=" + hex(flags));
    }
    IoasObject ioas = compatIoas();
    boolean write = (flags & VFIO_DMA_MAP_FLAG_WRITE) != 0;
    int mapFlags =
        IOMMU_IOAS_MAP_FIXED_IOVA
            | ((flags & VFIO_DMA_MAP_FLAG_READ) != 0 ? IOMMU_IOAS_MAP_READABLE : 0)
            | (write ? IOMMU_IOAS_MAP_WRITEABLE : 0);
    List<IoPagetable.Slice> slices = ioasCommands.userSlices(caller, vaddr, size, write);
    lockCompat(ioas);
    try {
      IoasCommands.place(ioas.iopt, mapFlags, size, vaddr, iova, slices);
    } finally {
      ioas.lock.unlock();
    }
  }

  /**
   * The outcome of a VFIO_IOMMU_UNMAP_DMA that reached its removal step: the struct is written back
   * with {@code size = unmapped} whether or not the removal failed.
   *
   * @param unmapped bytes of the areas removed
   * @param error the removal's error, or null on success
   */
  public record UnmapDmaResult(long unmapped, Errno error) {}

  /**
   * VFIO_IOMMU_UNMAP_DMA (after the {@code argsz} check). Thrown errors mean nothing is written
   * back: flags other than ALL → EINVAL; no compat IOAS → ENODEV; ALL with a non-zero iova or size
   * → EINVAL; a refused TYPE1 cut (EBUSY, EINVAL; io_pagetable.c: iopt_cut_iova()). Otherwise the
   * removal ran, and its error (EINVAL for size 0, EOVERFLOW, ENOENT for a partly covered area,
   * EBUSY) comes back in the result with the bytes removed before it. Removing nothing is success.
   */
  public UnmapDmaResult unmapDma(int flags, long iova, long size) {
    if ((flags & ~VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
      throw ErrnoException.of(EINVAL, "flags=" + hex(flags));
    }
    IoasObject ioas = lockCompat();
    try {
      IoPagetable iopt = ioas.iopt;
      long[] progress = {0};
      if ((flags & VFIO_DMA_UNMAP_FLAG_ALL) != 0) {
        if (iova != 0 || size != 0) {
          throw ErrnoException.of(
              EINVAL, "UNMAP ALL with iova=" + hex(iova) + " size=" + hex(size));
        }
        return remove(iopt, 0, U64_MAX, progress);
      }
      if (!iopt.hugePages()) {
        // TYPE1: cut at the range's last byte, then before its first; the unsigned arithmetic
        // wraps as the kernel's does. A cut that succeeded stays even if the next is refused.
        iopt.split(iova + size - 1);
        if (iova != 0) {
          iopt.split(iova - 1);
        }
      }
      if (size == 0) {
        return new UnmapDmaResult(0, EINVAL);
      }
      if (Unsigned.lastOverflows(iova, size)) {
        return new UnmapDmaResult(0, EOVERFLOW);
      }
      return remove(iopt, iova, iova + size - 1, progress);
    } finally {
      ioas.lock.unlock();
    }
  }

  private static UnmapDmaResult remove(IoPagetable iopt, long start, long last, long[] progress) {
    try {
      iopt.removeRange(start, last, progress);
      return new UnmapDmaResult(progress[0], null);
    } catch (ErrnoException e) {
      return new UnmapDmaResult(progress[0], e.errno());
    }
  }
}
