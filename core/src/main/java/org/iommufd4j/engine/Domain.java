package org.iommufd4j.engine;

/**
 * An emulated IOMMU domain: an IO page table translating IOVAs to emulated physical addresses
 * ({@link Host#physicalAddress}), with an aperture and a set of supported IO page sizes
 * (io_pagetable.c: iopt_table_add_domain(); pages.c: iopt_area_fill_domains()). Subclasses choose
 * the storage; all of them split a mapping into the largest supported pages that fit the remaining
 * length and to which both the IOVA and the physical address are aligned. Guarded by the lock of
 * the IOAS it is attached to.
 */
abstract class Domain {
  static final int PROT_READ = Area.PROT_READ;
  static final int PROT_WRITE = Area.PROT_WRITE;

  /** The hardware this domain belongs to: a device accepts only domains of its own. */
  final DomainSpec spec;

  final long apertureStart;
  final long apertureLast;

  /** Bitmap of supported IO page sizes (bit n set = 2^n bytes). */
  final long pageSizes;

  Domain(DomainSpec spec, long pageSizes) {
    this.spec = spec;
    this.apertureStart = spec.apertureStart();
    this.apertureLast = spec.apertureLast();
    this.pageSizes = pageSizes;
  }

  /**
   * Whether the domain can enforce cache coherency for every mapping (the kernel's {@code
   * enforce_cache_coherency}), which VFIO_CHECK_EXTENSION(DMA_CC_IOMMU) reports (vfio_compat.c:
   * iommufd_vfio_check_extension()). The mock domain cannot.
   */
  boolean enforcesCacheCoherency() {
    return false;
  }

  /**
   * The smallest IO page, which the IOAS alignment must honour (io_pagetable.c:
   * iopt_calculate_iova_alignment()).
   */
  final long minPageSize() {
    return Long.lowestOneBit(pageSizes);
  }

  /**
   * The largest supported page size for a chunk at {@code iova}/{@code pa} with {@code remaining}
   * bytes left, capped at {@code cap}.
   */
  final long pageSizeFor(long iova, long pa, long remaining, long cap) {
    long candidates = pageSizes & (cap | (cap - 1));
    while (candidates != 0) {
      long size = Long.highestOneBit(candidates);
      if (size <= remaining && ((iova | pa) & (size - 1)) == 0) {
        return size;
      }
      candidates &= ~size;
    }
    return minPageSize();
  }

  /**
   * Maps {@code [iova, iova + length)} to {@code [pa, pa + length)}. With {@code largePages} off no
   * page above 4 KiB is used (OPTION HUGE_PAGES 0, ioas.c: iommufd_ioas_option_huge_pages()).
   */
  abstract void map(long iova, long pa, long length, int prot, boolean largePages);

  /** Removes exactly what {@link #map} installed for {@code [iova, iova + length)}. */
  abstract void unmap(long iova, long length);

  /** The physical address {@code iova} translates to, or -1 if it is not mapped. */
  abstract long translate(long iova);

  /** The protection of the page holding {@code iova} (0 if not mapped). */
  abstract int protection(long iova);

  /** Number of IO page table entries in use; 0 once everything is unmapped. */
  abstract long entryCount();

  // ---- dirty tracking (selftest.c: mock_domain_read_and_clear_dirty()); default: none -------

  /** Receives the IOVA range of one dirty IO page table entry. */
  @FunctionalInterface
  interface DirtySink {
    void dirty(long iova, long length);
  }

  /**
   * Whether the domain can track dirty entries (HWPT_ALLOC DIRTY_TRACKING, hw_pagetable.c:
   * iommufd_hwpt_alloc()).
   */
  boolean supportsDirtyTracking() {
    return false;
  }

  /** Whether tracking is switched on; only for domains that support it. */
  boolean isDirtyTracking() {
    return false;
  }

  /** Switches tracking on or off; only for domains that support it. */
  void setDirtyTracking(boolean enable) {
    throw new UnsupportedOperationException("no dirty tracking");
  }

  /**
   * A device wrote {@code [iova, iova + length)} through this domain: with dirty tracking on, the
   * entries become dirty, as hardware sets the dirty bit of the IOPTEs it writes through.
   */
  void deviceWrote(long iova, long length) {}

  /** Forgets the dirty state of the entries in {@code [iova, iova + length)}, tracking or not. */
  void clearDirty(long iova, long length) {}

  /**
   * Reports every dirty entry found scanning {@code [iova, iova + length)} to {@code sink} and,
   * unless {@code noClear}, forgets its dirty state. EINVAL while tracking is off, as the kernel's
   * drivers answer (selftest.c, intel/iommu.c).
   */
  void readAndClearDirty(long iova, long length, boolean noClear, DirtySink sink) {}
}
