package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.VfioCalls.ALL;
import static org.iommufd4j.VfioCalls.RW;
import static org.iommufd4j.VfioCalls.U32;
import static org.iommufd4j.VfioCalls.U64;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.iommufd4j.VfioCalls.Unmapped;
import org.iommufd4j.engine.IoasAreas;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaUnmap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VFIO_IOMMU_UNMAP_DMA (vfio_compat.c: iommufd_vfio_unmap_dma(); io_pagetable.c:
 * iopt_unmap_iova_range(), iopt_cut_iova()): argsz and flag checks, ALL, the range removal where
 * removing nothing succeeds, {@code size} written back even after a partial failure, and TYPE1
 * mode, which cuts areas at the range's edges first. Ports the selftests {@code unmap_cmd}, {@code
 * vfio_compat_mock_domain.map} and {@code .huge_map}.
 */
class VfioUnmapDmaTest extends ConformanceTest {
  private static final long BASE = IommuTestCmd.MOCK_APERTURE_START;
  private static final long U64_MAX = -1L;
  private static final long POISON = 0x5a5a_5a5a_5a5a_5a5aL;
  private static final long SEED = Long.getLong("seed", 20240607L);

  private VfioCalls vfio() {
    return new VfioCalls(open(), arena);
  }

  private static Unmapped ok(long size) {
    return new Unmapped(0, size);
  }

  private static Unmapped failed(Errno errno, long size) {
    return new Unmapped(-errno.number(), size);
  }

  private static List<long[]> ranges(List<IoasAreas.View> areas) {
    List<long[]> out = new ArrayList<>();
    for (IoasAreas.View a : areas) {
      out.add(new long[] {a.iova(), a.last()});
    }
    return out;
  }

  // ---- checks before the removal: nothing is written back -------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 23})
  void argszBelowTwentyFourFailsWithEinvalAndWritesNothing(int argsz) {
    VfioCalls vfio = vfio();
    vfio.compatIoas();
    MemorySegment s = vfio.unmapStruct(0, 0, POISON);
    s.set(U32, VfioIommuType1DmaUnmap.ARGSZ, argsz);
    byte[] before = s.toArray(ValueLayout.JAVA_BYTE);

    assertErrno(vfio.iommufd().ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, s), Errno.EINVAL);
    assertThat(s.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(before);
  }

  @ParameterizedTest
  @ValueSource(
      ints = {
        1 << 31,
        VfioIommuType1DmaUnmap.VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
        VfioIommuType1DmaUnmap.VFIO_DMA_UNMAP_FLAG_VADDR,
        ALL | 1,
        1 << 3
      })
  void flagsOtherThanAllFailWithEinvalEvenWithoutACompatIoas(int flags) {
    VfioCalls vfio = vfio();

    assertThat(vfio.unmapDma(flags, 0, POISON)).isEqualTo(failed(Errno.EINVAL, POISON));
    vfio.compatIoas();
    assertThat(vfio.unmapDma(flags, 0, POISON)).isEqualTo(failed(Errno.EINVAL, POISON));
  }

  @Test
  void withoutACompatIoasUnmapFailsWithEnodevAndWritesNothing() {
    VfioCalls vfio = vfio();

    assertThat(vfio.unmapDma(0, 0, POISON)).isEqualTo(failed(Errno.ENODEV, POISON));
    assertThat(vfio.unmapDma(ALL, 0, 0)).isEqualTo(failed(Errno.ENODEV, 0));
  }

  @Test
  void unreadableArgumentFailsWithEfault() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();

    assertErrno(vfio.iommufd().ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, MemorySegment.NULL), Errno.EFAULT);
  }

  @Test
  void allWithANonZeroIovaOrSizeFailsWithEinvalAndWritesNothing() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, PAGE));

    assertThat(vfio.unmapDma(ALL, PAGE, 0)).isEqualTo(failed(Errno.EINVAL, 0));
    assertThat(vfio.unmapDma(ALL, 0, POISON)).isEqualTo(failed(Errno.EINVAL, POISON));
    assertThat(vfio.areas(ioas)).hasSize(1);
  }

  // ---- ALL, and the removal -----------------------------------------------------------------

  @Test
  void allRemovesEveryAreaAndReturnsTheirBytes() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 16 * PAGE));
    assertOk(vfio.mapDma(RW, USER_VA, U64_MAX - PAGE + 1, PAGE));

    assertThat(vfio.unmapDma(ALL, 0, 0)).isEqualTo(ok(17 * PAGE));
    assertThat(vfio.areas(ioas)).isEmpty();
    assertThat(vfio.unmapDma(ALL, 0, 0)).as("on an empty IOAS").isEqualTo(ok(0));
  }

  @Test
  void unmapOfOneAreaReturnsItsSize() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoasWithMockDomain();
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);
    assertOk(vfio.mapDma(BASE, buffer));

    assertThat(vfio.unmapDma(0, BASE, buffer.byteSize())).isEqualTo(ok(buffer.byteSize()));

    assertThat(vfio.areas(ioas)).isEmpty();
    assertOk(vfio.checkRefs(buffer, 0));
  }

  @Test
  void unmapOfNothingSucceedsWithSizeZero() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, PAGE));

    assertThat(vfio.unmapDma(0, 0x20000, 16 * PAGE)).isEqualTo(ok(0));
    assertThat(vfio.unmapDma(0, U64_MAX, 1)).as("no special case for 2^64 - 1").isEqualTo(ok(0));
  }

  @Test
  void holesInTheRangeAreFineAndOnlyAreasCount() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();
    for (long page : new long[] {2, 14, 26, 40}) {
      assertOk(vfio.mapDma(RW, USER_VA, 0x100000 + page * PAGE, 8 * PAGE));
    }

    assertThat(vfio.unmapDma(0, 0x100000, 60 * PAGE)).isEqualTo(ok(32 * PAGE));
  }

  @Test
  void sizeZeroFailsWithEinvalButWritesSizeZeroBack() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();

    assertThat(vfio.unmapDma(0, 0x10000, 0)).isEqualTo(failed(Errno.EINVAL, 0));
  }

  @Test
  void aRangePastTwoToTheSixtyFourFailsWithEoverflowAndWritesSizeZeroBack() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();
    MemorySegment s = vfio.unmapStruct(0, 0x2000, U64_MAX);

    assertErrno(vfio.iommufd().ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, s), Errno.EOVERFLOW);
    assertThat(s.get(U64, VfioIommuType1DmaUnmap.SIZE_FIELD)).isZero();
  }

  @Test
  void zeroAndAllOnesIsAnOrdinaryRangeThatStopsBelowTheLastByte() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, PAGE));
    assertOk(vfio.mapDma(RW, USER_VA, U64_MAX, 1));

    assertThat(vfio.unmapDma(0, 0, U64_MAX)).isEqualTo(ok(PAGE));
    assertThat(vfio.areas(ioas)).extracting(IoasAreas.View::iova).containsExactly(U64_MAX);
  }

  @Test
  void type1v2PartlyCoveredAreaFailsWithEnoentAndReportsWhatWasRemovedBefore() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1v2_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 4 * PAGE));
    assertOk(vfio.mapDma(RW, USER_VA, 0x20000, 4 * PAGE));

    assertThat(vfio.unmapDma(0, 0x10000, 0x12000)).isEqualTo(failed(Errno.ENOENT, 4 * PAGE));

    assertThat(ranges(vfio.areas(ioas))).containsExactly(new long[] {0x20000, 0x23fff});
  }

  @Test
  void type1v2NeverSplitsAnArea() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1v2_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 16 * PAGE));

    assertThat(vfio.unmapDma(0, 0x15000, PAGE)).isEqualTo(failed(Errno.ENOENT, 0));
    assertThat(vfio.areas(ioas)).hasSize(1);
  }

  @Test
  void writeBackFaultFailsWithEfaultButTheAreaIsGone() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, PAGE));
    try (NativePages pages = NativePages.map(1)) {
      MemorySegment.copy(
          vfio.unmapStruct(0, 0x10000, PAGE), 0, NativePages.segment(pages.page(0), 24), 0, 24);
      pages.protect(0, NativePages.PROT_READ);

      assertErrno(
          vfio.iommufd().ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, MemorySegment.ofAddress(pages.page(0))),
          Errno.EFAULT);
    }
    assertThat(vfio.areas(ioas)).isEmpty();
  }

  @Test
  void onlyTwentyFourBytesAreWrittenBackWhateverTheArgsz() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, PAGE));
    MemorySegment s = arena.allocate(48, 8);
    s.fill((byte) 0xa5);
    MemorySegment.copy(vfio.unmapStruct(0, 0x10000, 2 * PAGE), 0, s, 0, 24);
    s.set(U32, VfioIommuType1DmaUnmap.ARGSZ, 48);

    assertOk(vfio.iommufd().ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, s));

    assertThat(s.get(U64, VfioIommuType1DmaUnmap.SIZE_FIELD)).isEqualTo(PAGE);
    assertThat(s.get(U32, VfioIommuType1DmaUnmap.ARGSZ)).isEqualTo(48);
    assertThat(s.asSlice(24).toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0xa5);
  }

  // ---- TYPE1: cuts ----------------------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void type1UnmapOfOnePageInsideAnAreaCutsItOut(boolean withDomain) {
    VfioCalls vfio = vfio();
    int ioas = withDomain ? vfio.compatIoasWithMockDomain() : vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);
    assertOk(vfio.mapDma(BASE, buffer));

    assertThat(vfio.unmapDma(0, BASE + 5 * PAGE, PAGE)).isEqualTo(ok(PAGE));

    assertThat(ranges(vfio.areas(ioas)))
        .containsExactly(
            new long[] {BASE, BASE + 5 * PAGE - 1},
            new long[] {BASE + 6 * PAGE, BASE + 16 * PAGE - 1});
    if (withDomain) {
      assertOk(vfio.checkRefs(buffer.asSlice(0, 5 * PAGE), 1));
      assertOk(vfio.checkRefs(buffer.asSlice(5 * PAGE, PAGE), 0));
      assertOk(vfio.checkRefs(buffer.asSlice(6 * PAGE), 1));
    }
    assertThat(vfio.unmapDma(0, BASE, 5 * PAGE)).isEqualTo(ok(5 * PAGE));
    assertThat(vfio.unmapDma(0, BASE + 6 * PAGE, 10 * PAGE)).isEqualTo(ok(10 * PAGE));
    if (withDomain) {
      assertOk(vfio.checkRefs(buffer, 0));
    }
  }

  @Test
  void type1PiecesStayMappedInTheDomain() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    int hwpt = vfio.mockDomain(ioas, 0)[1];
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    MemorySegment buffer = arena.allocate(8 * PAGE, PAGE);
    assertOk(vfio.mapDma(BASE, buffer));

    assertThat(vfio.unmapDma(0, BASE + 2 * PAGE, 3 * PAGE)).isEqualTo(ok(3 * PAGE));

    assertOk(vfio.checkMap(hwpt, BASE, buffer.asSlice(0, 2 * PAGE)));
    assertOk(vfio.checkMap(hwpt, BASE + 5 * PAGE, buffer.asSlice(5 * PAGE)));
    assertThat(vfio.checkMap(hwpt, BASE + 2 * PAGE, buffer.asSlice(2 * PAGE, PAGE)))
        .isEqualTo(-Errno.EINVAL.number());
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void type1SixteenOnePageUnmapsInAnyOrderAllSucceed(boolean withDomain) {
    VfioCalls vfio = vfio();
    int ioas = withDomain ? vfio.compatIoasWithMockDomain() : vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);
    assertOk(vfio.mapDma(BASE, buffer));
    List<Integer> order = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      order.add(i);
    }
    Collections.shuffle(order, new Random(SEED));

    for (int i : order) {
      assertThat(vfio.unmapDma(0, BASE + i * PAGE, PAGE))
          .as("page %d, seed %d", i, SEED)
          .isEqualTo(ok(PAGE));
    }
    assertThat(vfio.areas(ioas)).isEmpty();
  }

  @Test
  void type1CutAcrossTwoAreasRemovesTheMiddle() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 4 * PAGE));
    assertOk(vfio.mapDma(RW, USER_VA, 0x14000, 4 * PAGE));

    assertThat(vfio.unmapDma(0, 0x12000, 4 * PAGE)).isEqualTo(ok(4 * PAGE));

    assertThat(vfio.areas(ioas))
        .containsExactly(
            new IoasAreas.View(0x10000, 0x11fff, 3, 0),
            new IoasAreas.View(0x16000, 0x17fff, 3, 2 * PAGE));
  }

  @Test
  void type1AtIovaZeroCutsOnlyAtTheEnd() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0, 4 * PAGE));

    assertThat(vfio.unmapDma(0, 0, PAGE)).isEqualTo(ok(PAGE));
    assertThat(ranges(vfio.areas(ioas))).containsExactly(new long[] {PAGE, 4 * PAGE - 1});
  }

  @Test
  void type1CutOffTheFourKibGridFailsWithEinvalAndWritesNothing() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 4 * PAGE));

    assertThat(vfio.unmapDma(0, 0x10000, 0x1800)).isEqualTo(failed(Errno.EINVAL, 0x1800));
    assertThat(vfio.areas(ioas)).hasSize(1);
  }

  @Test
  void type1CutThatSucceededSurvivesALaterRefusal() {
    VfioCalls vfio = vfio();
    int ioasId = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 16 * PAGE));

    // The end cut at 0x10fff is fine; the start cut at 0x107ff is off the grid.
    assertThat(vfio.unmapDma(0, 0x10800, 0x800)).isEqualTo(failed(Errno.EINVAL, 0x800));

    assertThat(ranges(vfio.areas(ioasId)))
        .containsExactly(new long[] {0x10000, 0x10fff}, new long[] {0x11000, 0x1ffff});
    Ioas ioas = vfio.iommufd().ioas(ioasId);
    assertThat(ioas.unmap(0x11000, 15 * PAGE)).as("IOAS UNMAP sees the cut").isEqualTo(15 * PAGE);
  }

  @Test
  void type1SizeZeroCutsBeforeTheSizeCheck() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 4 * PAGE));

    assertThat(vfio.unmapDma(0, 0x12000, 0)).isEqualTo(failed(Errno.EINVAL, 0));
    assertThat(ranges(vfio.areas(ioas)))
        .containsExactly(new long[] {0x10000, 0x11fff}, new long[] {0x12000, 0x13fff});
  }

  @Test
  void type1AfterTheRangeLeavesAreasAloneWhenTheCutsLandOnTheirEdges() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 4 * PAGE));
    assertOk(vfio.mapDma(RW, USER_VA, 0x14000, 4 * PAGE));

    assertThat(vfio.unmapDma(0, 0x14000, 4 * PAGE)).isEqualTo(ok(4 * PAGE));
    assertThat(ranges(vfio.areas(ioas))).containsExactly(new long[] {0x10000, 0x13fff});
  }
}
