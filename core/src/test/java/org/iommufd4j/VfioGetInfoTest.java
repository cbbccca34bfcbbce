package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.VfioCalls.U16;
import static org.iommufd4j.VfioCalls.U32;
import static org.iommufd4j.VfioCalls.U64;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToIntFunction;
import java.util.stream.Stream;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioInfoCapHeader;
import org.iommufd4j.uapi.VfioIommuType1Info;
import org.iommufd4j.uapi.VfioIommuType1InfoCapIovaRange;
import org.iommufd4j.uapi.VfioIommuType1InfoDmaAvail;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VFIO_IOMMU_GET_INFO (vfio_compat.c: iommufd_vfio_iommu_get_info()): the page-size bitmap, the
 * capability chain and the exact bytes written for every {@code argsz}. Ports the selftests {@code
 * info_cmd} and {@code vfio_compat_mock_domain.get_info}.
 */
class VfioGetInfoTest extends ConformanceTest {
  private static final byte POISON = (byte) 0xa5;
  private static final int BLOCK = 256;
  private static final long U64_MAX = -1L;
  private static final long BASE = IommuTestCmd.MOCK_APERTURE_START;
  private static final long APERTURE_LAST = IommuTestCmd.MOCK_APERTURE_LAST;

  /** A block of {@code BLOCK} poisoned bytes with {@code argsz} set. */
  private MemorySegment infoBlock(long argsz) {
    MemorySegment s = arena.allocate(BLOCK, 8);
    s.fill(POISON);
    s.set(U32, VfioIommuType1Info.ARGSZ, (int) argsz);
    return s;
  }

  private static int getInfo(Iommufd iommufd, MemorySegment s) {
    return iommufd.ioctl(Vfio.VFIO_IOMMU_GET_INFO, s);
  }

  /**
   * The block GET_INFO must leave behind, built from the rules (vfio_compat.c:
   * iommufd_vfio_iommu_get_info()) as written: every write happens only where it fits inside {@code
   * argsz}.
   */
  private static byte[] expected(
      MemorySegment before, long argsz, long pgsizes, List<IovaRange> ranges) {
    MemorySegment e = MemorySegment.ofArray(before.toArray(ValueLayout.JAVA_BYTE));
    int n = ranges.size();
    long total = 24 + 16 + 16 + 16L * n;
    if (argsz >= 24 + 12) {
      e.set(U16, 24, (short) 3);
      e.set(U16, 26, (short) 1);
      e.set(U32, 28, 0);
      e.set(U32, 32, 0xffff_ffff);
    }
    for (int k = 0; k < n; k++) {
      if (argsz >= 40 + 32 + 16L * k) {
        e.set(U64, 56 + 16L * k, ranges.get(k).start());
        e.set(U64, 64 + 16L * k, ranges.get(k).last());
      }
    }
    if (argsz >= 40 + 16 + 16L * n) {
      e.set(U16, 40, (short) 1);
      e.set(U16, 42, (short) 1);
      e.set(U32, 44, 0);
      e.set(U32, 48, n);
      e.set(U32, 52, 0);
    }
    if (argsz >= 40) {
      e.set(U32, 28, 40);
    }
    MemorySegment header = MemorySegment.ofArray(new byte[24]);
    header.set(U32, 0, (int) total);
    header.set(U32, 4, 3);
    header.set(U64, 8, pgsizes);
    header.set(U32, 16, argsz >= total ? 24 : 0);
    MemorySegment.copy(header, 0, e, 0, Math.min(argsz, 24));
    return e.toArray(ValueLayout.JAVA_BYTE);
  }

  /** A compat IOAS set up by {@code setup} (which returns nothing useful) on a fresh context. */
  record Fixture(
      String name, long pgsizes, List<IovaRange> ranges, ToIntFunction<VfioCalls> setup) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Arguments> fixtures() {
    List<Fixture> f = new ArrayList<>();
    f.add(
        new Fixture(
            "no domain",
            0xffff_ffff_ffff_f000L,
            List.of(new IovaRange(0, U64_MAX)),
            VfioCalls::compatIoas));
    f.add(
        new Fixture(
            "mock domain",
            0x1000,
            List.of(new IovaRange(BASE, APERTURE_LAST)),
            VfioCalls::compatIoasWithMockDomain));
    f.add(
        new Fixture(
            "huge-IOVA mock domain",
            0x10_1000,
            List.of(new IovaRange(BASE, APERTURE_LAST)),
            v -> {
              int ioas = v.compatIoas();
              v.mockDomain(ioas, IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA);
              return ioas;
            }));
    f.add(
        new Fixture(
            "VT-d domain",
            (1L << 12) | (1L << 21) | (1L << 30),
            List.of(new IovaRange(0, 0xfedf_ffffL), new IovaRange(0xfef0_0000L, (1L << 48) - 1)),
            v -> {
              int ioas = v.compatIoas();
              v.iommufd().createDevice(DomainModel.vtd()).attach(v.iommufd().ioas(ioas));
              return ioas;
            }));
    f.add(
        new Fixture(
            "three holes",
            0xffff_ffff_ffff_f000L,
            List.of(
                new IovaRange(0, 0xfff),
                new IovaRange(0x3000, 0x7fff),
                new IovaRange(0x9000, U64_MAX)),
            v -> {
              int ioas = v.compatIoas();
              v.addReserved(ioas, 0x1000, 0x2000);
              v.addReserved(ioas, 0x8000, 0x1000);
              return ioas;
            }));
    f.add(
        new Fixture(
            "TYPE1 on a bare IOAS",
            0xffff_ffff_ffff_f000L,
            List.of(new IovaRange(0, U64_MAX)),
            v -> {
              int ioas = v.compatIoas();
              assertOk(v.setIommu(Vfio.VFIO_TYPE1_IOMMU));
              return ioas;
            }));
    return f.stream().map(Arguments::of);
  }

  @ParameterizedTest
  @MethodSource("fixtures")
  void everyArgszWritesExactlyTheBytesThatFit(Fixture fixture) {
    VfioCalls vfio = new VfioCalls(open(), arena);
    fixture.setup().applyAsInt(vfio);
    long total = 56 + 16L * fixture.ranges().size();

    for (long argsz = 16; argsz <= total + 40; argsz++) {
      MemorySegment s = infoBlock(argsz);
      byte[] want = expected(s, argsz, fixture.pgsizes(), fixture.ranges());

      assertOk(getInfo(vfio.iommufd(), s));

      assertThat(s.toArray(ValueLayout.JAVA_BYTE)).as("argsz=%d", argsz).isEqualTo(want);
    }
  }

  @Test
  void argszBelowSixteenFailsWithEinvalAndWritesNothing() {
    VfioCalls vfio = new VfioCalls(open(), arena);
    vfio.compatIoas();
    for (long argsz : new long[] {0, 1, 15}) {
      MemorySegment s = infoBlock(argsz);
      byte[] before = s.toArray(ValueLayout.JAVA_BYTE);

      assertErrno(getInfo(vfio.iommufd(), s), Errno.EINVAL);
      assertThat(s.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(before);
    }
  }

  @Test
  void argszIsCheckedBeforeTheCompatIoas() {
    Iommufd iommufd = open();

    assertErrno(getInfo(iommufd, infoBlock(1)), Errno.EINVAL);
    assertErrno(getInfo(iommufd, infoBlock(16)), Errno.ENODEV);
  }

  @Test
  void withoutACompatIoasGetInfoFailsWithEnodevAndWritesNothing() {
    VfioCalls vfio = new VfioCalls(open(), arena);
    int ioas = vfio.compatIoas();
    vfio.iommufd().destroy(ioas);
    MemorySegment s = infoBlock(BLOCK);
    byte[] before = s.toArray(ValueLayout.JAVA_BYTE);

    assertErrno(getInfo(vfio.iommufd(), s), Errno.ENODEV);
    assertThat(s.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(before);
  }

  @Test
  void unreadableArgumentFailsWithEfault() {
    VfioCalls vfio = new VfioCalls(open(), arena);
    vfio.compatIoas();

    assertErrno(getInfo(vfio.iommufd(), MemorySegment.NULL), Errno.EFAULT);
  }

  @Test
  void fullArgszGivesAChainThatACallerCanWalk() {
    VfioCalls vfio = new VfioCalls(open(), arena);
    vfio.compatIoasWithMockDomain();
    MemorySegment probe = infoBlock(24);
    assertOk(getInfo(vfio.iommufd(), probe));
    int total = probe.get(U32, VfioIommuType1Info.ARGSZ);
    assertThat(probe.get(U32, VfioIommuType1Info.CAP_OFFSET)).as("not everything fitted").isZero();

    MemorySegment s = infoBlock(total);
    assertOk(getInfo(vfio.iommufd(), s));

    assertThat(s.get(U32, VfioIommuType1Info.FLAGS))
        .isEqualTo(
            VfioIommuType1Info.VFIO_IOMMU_INFO_PGSIZES | VfioIommuType1Info.VFIO_IOMMU_INFO_CAPS);
    assertThat(s.get(U64, VfioIommuType1Info.IOVA_PGSIZES)).isEqualTo(0x1000);
    List<Integer> ids = new ArrayList<>();
    long at = s.get(U32, VfioIommuType1Info.CAP_OFFSET);
    while (at != 0) {
      int id = s.get(U16, at + VfioInfoCapHeader.ID);
      ids.add(id);
      assertThat((int) s.get(U16, at + VfioInfoCapHeader.VERSION)).isEqualTo(1);
      if (id == VfioIommuType1InfoDmaAvail.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
        assertThat(s.get(U32, at + VfioIommuType1InfoDmaAvail.AVAIL)).isEqualTo(0xffff_ffff);
      } else {
        assertThat(s.get(U32, at + VfioIommuType1InfoCapIovaRange.NR_IOVAS)).isEqualTo(1);
        long range = at + VfioIommuType1InfoCapIovaRange.IOVA_RANGES;
        assertThat(s.get(U64, range)).isEqualTo(BASE);
        assertThat(s.get(U64, range + 8)).isEqualTo(APERTURE_LAST);
      }
      at = s.get(U32, at + VfioInfoCapHeader.NEXT);
    }
    assertThat(ids).containsExactly(3, 1);
    assertThat(s.get(ValueLayout.JAVA_BYTE, 36))
        .as("padding of the 12-byte capability")
        .isEqualTo(POISON);
    assertThat(s.get(ValueLayout.JAVA_BYTE, total)).isEqualTo(POISON);
  }

  @ParameterizedTest
  @ValueSource(longs = {4096, 0xffff_ffffL})
  void argszFarBeyondTheChainWritesOnlyTheChain(long argsz) {
    VfioCalls vfio = new VfioCalls(open(), arena);
    vfio.compatIoas();
    MemorySegment s = infoBlock(argsz);

    assertOk(getInfo(vfio.iommufd(), s));

    assertThat(s.get(U32, VfioIommuType1Info.ARGSZ)).isEqualTo(72);
    assertThat(s.get(U32, VfioIommuType1Info.CAP_OFFSET)).isEqualTo(24);
    assertThat(s.asSlice(72).toArray(ValueLayout.JAVA_BYTE)).containsOnly(POISON);
  }

  @Test
  void aFaultWhileWritingACapabilityFailsWithEfaultBeforeTheStructIsWritten() {
    VfioCalls vfio = new VfioCalls(open(), arena);
    vfio.compatIoas();
    try (NativePages pages = NativePages.map(2)) {
      long address = pages.page(1) - 48; // the IOVA range entry (offset 56) is on page 1
      MemorySegment readable = NativePages.segment(address, 48);
      readable.fill(POISON);
      readable.set(U32, 0, 72);
      pages.protect(1, NativePages.PROT_NONE);

      assertErrno(getInfo(vfio.iommufd(), MemorySegment.ofAddress(address)), Errno.EFAULT);

      assertThat(readable.get(U32, 0)).as("argsz not written back").isEqualTo(72);
      assertThat(readable.asSlice(4, 20).toArray(ValueLayout.JAVA_BYTE)).containsOnly(POISON);
      assertThat(readable.get(U16, 24)).as("DMA-available written first").isEqualTo((short) 3);
      assertThat(readable.get(U32, 28)).as("its next not yet").isZero();
    }
  }

  @Test
  void aFaultWhileWritingTheStructFailsWithEfault() {
    VfioCalls vfio = new VfioCalls(open(), arena);
    vfio.compatIoas();
    try (NativePages pages = NativePages.map(1)) {
      MemorySegment page = NativePages.segment(pages.page(0), NativePages.PAGE);
      page.fill(POISON);
      page.set(U32, 0, 16);
      pages.protect(0, NativePages.PROT_READ);

      assertErrno(getInfo(vfio.iommufd(), MemorySegment.ofAddress(pages.page(0))), Errno.EFAULT);
      assertThat(page.get(U32, 0)).isEqualTo(16);
    }
  }
}
