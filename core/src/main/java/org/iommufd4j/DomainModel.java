package org.iommufd4j;

import java.util.List;
import java.util.Objects;
import org.iommufd4j.engine.DomainSpec;

/**
 * The emulated IOMMU hardware in front of an {@link EmulatedDevice}: IO page-table format, aperture
 * (the IOVAs it can translate), supported IO page sizes and the device's reserved regions.
 * Attaching a device reserves everything outside the aperture and its reserved regions in the IOAS,
 * which is what {@link Ioas#iovaRanges()} then shows: narrow apertures and reserved windows are
 * what trips real programs, so both are configurable.
 */
public final class DomainModel {
  /** Intel's interrupt address window, reserved on x86 for MSI writes. */
  public static final IovaRange X86_MSI_WINDOW = new IovaRange(0xfee0_0000L, 0xfeef_ffffL);

  private final DomainSpec spec;

  private DomainModel(DomainSpec spec) {
    this.spec = spec;
  }

  /**
   * A VT-d-like IOMMU: a 4-level radix IO page table over a 48-bit aperture with 4 KiB, 2 MiB and 1
   * GiB pages (superpages whenever the memory and IOVA alignment allow), and the x86 MSI window
   * reserved.
   */
  public static DomainModel vtd() {
    return new DomainModel(
        new DomainSpec(
            DomainSpec.Format.RADIX,
            0,
            (1L << 48) - 1,
            (1L << 12) | (1L << 21) | (1L << 30),
            List.of(X86_MSI_WINDOW)));
  }

  /**
   * The kernel selftests' mock IOMMU (selftest.c: mock_ops): aperture {@code [2^24, 2^31 - 1]}, 2
   * KiB IO pages (so the IOAS alignment becomes 2048), no reserved regions.
   */
  public static DomainModel selftestMock() {
    return new DomainModel(DomainSpec.SELFTEST_MOCK);
  }

  /** The same hardware with aperture {@code [start, last]} (radix tables cover 48 bits). */
  public DomainModel withAperture(long start, long last) {
    requireRadix();
    return new DomainModel(
        new DomainSpec(spec.format(), start, last, spec.pageSizes(), spec.reservedRegions()));
  }

  /** The same hardware whose devices reserve {@code regions} (replacing the current ones). */
  public DomainModel withReservedRegions(List<IovaRange> regions) {
    requireRadix();
    return new DomainModel(
        new DomainSpec(
            spec.format(), spec.apertureStart(), spec.apertureLast(), spec.pageSizes(), regions));
  }

  /** The same hardware supporting only the page sizes in {@code bitmap} (4K, 2M and 1G bits). */
  public DomainModel withPageSizes(long bitmap) {
    requireRadix();
    return new DomainModel(
        new DomainSpec(
            spec.format(),
            spec.apertureStart(),
            spec.apertureLast(),
            bitmap,
            spec.reservedRegions()));
  }

  private void requireRadix() {
    if (spec.format() != DomainSpec.Format.RADIX) {
      throw new UnsupportedOperationException("the selftest mock's geometry is fixed");
    }
  }

  public IovaRange aperture() {
    return new IovaRange(spec.apertureStart(), spec.apertureLast());
  }

  public long pageSizes() {
    return spec.pageSizes();
  }

  public List<IovaRange> reservedRegions() {
    return spec.reservedRegions();
  }

  DomainSpec spec() {
    return spec;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DomainModel m && m.spec.equals(spec);
  }

  @Override
  public int hashCode() {
    return Objects.hash(spec);
  }

  @Override
  public String toString() {
    return "DomainModel["
        + spec.format()
        + ", aperture="
        + aperture()
        + ", pageSizes=0x"
        + Long.toHexString(spec.pageSizes())
        + ", reserved="
        + spec.reservedRegions()
        + "]";
  }
}
