package org.iommufd4j.engine;

import static org.iommufd4j.uapi.IommuTestCmd.MOCK_APERTURE_LAST;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_APERTURE_START;

import java.util.List;
import org.iommufd4j.IovaRange;

/**
 * What emulated IOMMU hardware a device sits behind: the format of its IO page tables, their
 * aperture and page sizes, and the device's reserved regions (e.g. an MSI window), which are
 * reserved in every IOAS the device attaches to (io_pagetable.c: iopt_reserve_iova(); device.c:
 * iommufd_device_attach_reserved_iova()).
 *
 * @param format {@link Format#SELFTEST_MOCK} or {@link Format#RADIX}
 * @param pageSizes bitmap of supported IO page sizes
 */
public record DomainSpec(
    Format format,
    long apertureStart,
    long apertureLast,
    long pageSizes,
    List<IovaRange> reservedRegions) {

  /** IO page table formats. */
  public enum Format {
    /** The selftest mock: 2 KiB granules (1 MiB pages for HUGE_IOVA devices). */
    SELFTEST_MOCK,
    /** A 4-level radix table as VT-d second-level tables: 4 KiB, 2 MiB, 1 GiB pages. */
    RADIX
  }

  /**
   * The mock device's hardware (selftest.c: mock_ops): aperture [2^24, 2^31 - 1], no reserved
   * regions.
   */
  public static final DomainSpec SELFTEST_MOCK =
      new DomainSpec(
          Format.SELFTEST_MOCK,
          MOCK_APERTURE_START,
          MOCK_APERTURE_LAST,
          MockDomain.GRANULE,
          List.of());

  public DomainSpec {
    reservedRegions = List.copyOf(reservedRegions);
    if (Long.compareUnsigned(apertureStart, apertureLast) > 0) {
      throw new IllegalArgumentException("aperture start above its last address");
    }
    if (pageSizes == 0) {
      throw new IllegalArgumentException("no page size");
    }
    if (format == Format.RADIX && (apertureLast >>> 48) != 0) {
      throw new IllegalArgumentException("a 4-level radix table covers 48 bits of IOVA");
    }
    if (format == Format.RADIX
        && (pageSizes & ~(RadixDomain.PAGE_4K | RadixDomain.PAGE_2M | RadixDomain.PAGE_1G)) != 0) {
      throw new IllegalArgumentException("radix page sizes are 4 KiB, 2 MiB and 1 GiB");
    }
  }

  /** A new empty domain of this hardware. */
  Domain newDomain(boolean hugeIova, boolean dirtyCapable) {
    return switch (format) {
      case SELFTEST_MOCK -> new MockDomain(hugeIova, dirtyCapable);
      case RADIX -> new RadixDomain(this);
    };
  }
}
