package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.VfioCalls.READ;
import static org.iommufd4j.VfioCalls.RW;
import static org.iommufd4j.VfioCalls.U32;
import static org.iommufd4j.VfioCalls.WRITE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.engine.IoasAreas;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * VFIO_IOMMU_MAP_DMA (vfio_compat.c: iommufd_vfio_map_dma()): its own argsz and flag checks, then
 * exactly what IOMMU_IOAS_MAP does from the page source on, with a fixed IOVA on the compat IOAS.
 * Ports the selftest {@code map_cmd} and the map half of {@code vfio_compat_mock_domain.map}.
 */
class VfioMapDmaTest extends ConformanceTest {
  private static final long BASE = IommuTestCmd.MOCK_APERTURE_START;
  private static final long U64_MAX = -1L;

  private VfioCalls vfio() {
    return new VfioCalls(open(), arena);
  }

  private static int mapDma(Iommufd iommufd, MemorySegment s) {
    return iommufd.ioctl(Vfio.VFIO_IOMMU_MAP_DMA, s);
  }

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 31})
  void argszBelowThirtyTwoFailsWithEinvalEvenWithoutACompatIoas(int argsz) {
    VfioCalls vfio = vfio();
    MemorySegment s = vfio.mapStruct(RW, USER_VA, 0, PAGE);
    s.set(U32, VfioIommuType1DmaMap.ARGSZ, argsz);

    assertErrno(mapDma(vfio.iommufd(), s), Errno.EINVAL);
  }

  @ParameterizedTest
  @ValueSource(ints = {1 << 31, VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_VADDR, 1 << 3, RW | 1 << 8})
  void flagsOutsideReadAndWriteFailWithEinvalEvenWithoutACompatIoas(int flags) {
    VfioCalls vfio = vfio();

    assertErrno(vfio.mapDma(flags, USER_VA, 0, PAGE), Errno.EINVAL);
    vfio.compatIoas();
    assertErrno(vfio.mapDma(flags, USER_VA, 0, PAGE), Errno.EINVAL);
  }

  @Test
  void withoutACompatIoasMapFailsWithEnodev() {
    VfioCalls vfio = vfio();
    vfio.iommufd().createIoas();

    assertErrno(vfio.mapDma(RW, USER_VA, 0, PAGE), Errno.ENODEV);
    assertErrno(vfio.mapDma(RW, USER_VA, 0, 0), Errno.ENODEV);
  }

  @Test
  void afterTheCompatIoasWasClearedMapFailsWithEnodev() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    vfio.iommufd().destroy(ioas);

    assertErrno(vfio.mapDma(RW, USER_VA, 0, PAGE), Errno.ENODEV);
  }

  @Test
  void unreadableArgumentFailsWithEfault() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();

    assertErrno(mapDma(vfio.iommufd(), MemorySegment.NULL), Errno.EFAULT);
  }

  @Test
  void allThirtyTwoBytesAreReadEvenWhenTheStructEndsEarlier() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    try (NativePages pages = NativePages.map(2)) {
      long address = pages.page(1) - 24;
      MemorySegment.copy(
          vfio.mapStruct(RW, USER_VA, 0, PAGE), 0, NativePages.segment(address, 24), 0, 24);
      pages.protect(1, NativePages.PROT_NONE);

      assertErrno(mapDma(vfio.iommufd(), MemorySegment.ofAddress(address)), Errno.EFAULT);
    }
    assertThat(vfio.areas(ioas)).isEmpty();
  }

  @Test
  void mapCreatesOneAreaAtTheGivenIovaAndWritesNothingBack() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    MemorySegment s = vfio.mapStruct(RW, USER_VA + 0x123, 0x40_0000, 3 * PAGE);
    byte[] before = s.toArray(ValueLayout.JAVA_BYTE);

    assertOk(mapDma(vfio.iommufd(), s));

    assertThat(s.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(before);
    assertThat(vfio.areas(ioas))
        .containsExactly(new IoasAreas.View(0x40_0000, 0x40_0000 + 3 * PAGE - 1, 3, 0x123));
  }

  @Test
  void mapOfAReadOnlyArgumentSucceedsBecauseNothingIsWrittenBack() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    try (NativePages pages = NativePages.map(1)) {
      MemorySegment.copy(
          vfio.mapStruct(RW, USER_VA, 0x1000, PAGE),
          0,
          NativePages.segment(pages.page(0), 32),
          0,
          32);
      pages.protect(0, NativePages.PROT_READ);

      assertOk(mapDma(vfio.iommufd(), MemorySegment.ofAddress(pages.page(0))));
    }
    assertThat(vfio.areas(ioas)).hasSize(1);
  }

  @Test
  void readWriteAndNeitherGiveTheMatchingProtection() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();

    assertOk(vfio.mapDma(READ, USER_VA, 0x1000, PAGE));
    assertOk(vfio.mapDma(WRITE, USER_VA, 0x2000, PAGE));
    assertOk(vfio.mapDma(0, USER_VA, 0x3000, PAGE));

    assertThat(vfio.areas(ioas)).extracting(IoasAreas.View::prot).containsExactly(1, 2, 0);
  }

  @Test
  void iovaZeroIsAcceptedWithoutADomain() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();

    assertOk(vfio.mapDma(RW, USER_VA, 0, PAGE));
    assertThat(vfio.areas(ioas)).extracting(IoasAreas.View::iova).containsExactly(0L);
  }

  @Test
  void errorsAreThoseOfIoasMapStepsFiveToNine() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 4 * PAGE));

    assertErrno(vfio.mapDma(RW, USER_VA, 0x40000, 0), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, USER_VA, 0x40000, U64_MAX), Errno.EINVAL); // IOAS MAP: EOVERFLOW
    assertErrno(vfio.mapDma(RW, USER_VA, 0x40000, U64_MAX - PAGE + 1), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, U64_MAX - PAGE + 1, 0x40000, PAGE), Errno.EOVERFLOW);
    assertErrno(vfio.mapDma(RW, USER_VA, U64_MAX - PAGE + 2, PAGE), Errno.EOVERFLOW);
    assertErrno(vfio.mapDma(RW, USER_VA, 0x13000, 2 * PAGE), Errno.EEXIST);
    assertErrno(vfio.mapDma(RW, USER_VA, 0xf000, 2 * PAGE), Errno.EEXIST);
    assertThat(vfio.areas(ioas)).hasSize(1);
  }

  @Test
  void iovaAllOnesIsAnOrdinaryFixedIova() {
    // IOAS MAP refuses iova 2^64 - 1 with EOVERFLOW up front; MAP_DMA has no such check, so a
    // one-byte map there is valid.
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();

    assertOk(vfio.mapDma(RW, USER_VA, U64_MAX, 1));
    assertThat(vfio.areas(ioas)).extracting(IoasAreas.View::last).containsExactly(U64_MAX);
  }

  @Test
  void withAMockDomainTheAlignmentAndApertureApply() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoasWithMockDomain();
    MemorySegment buffer = arena.allocate(4 * PAGE, PAGE);

    assertErrno(vfio.mapDma(RW, buffer.address(), 0, PAGE), Errno.EINVAL);
    assertErrno(
        vfio.mapDma(RW, buffer.address(), IommuTestCmd.MOCK_APERTURE_LAST + 1, PAGE), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, buffer.address(), BASE + 0x400, PAGE), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, buffer.address(), BASE, 0x400), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, buffer.address() + 0x400, BASE, 0x800), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, U64_MAX - 0x100, BASE, 0x400), Errno.EOVERFLOW);
    assertThat(vfio.areas(ioas)).isEmpty();

    assertOk(vfio.mapDma(RW, buffer.address() + 0x800, BASE + 0x800, 0x800));
  }

  @Test
  void withAMockDomainTheMemoryIsPinnedAndMapped() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    int hwpt = vfio.mockDomain(ioas, 0)[1];
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);

    assertOk(vfio.mapDma(BASE, buffer));

    assertOk(vfio.checkMap(hwpt, BASE, buffer));
    assertOk(vfio.checkRefs(buffer, 1));
  }

  @Test
  void withAMockDomainUnmappedMemoryFailsWithEfaultAndLeavesNothing() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoasWithMockDomain();
    try (NativePages pages = NativePages.map(2)) {
      pages.unmap(1);

      assertErrno(vfio.mapDma(RW, pages.page(0), BASE, 2 * PAGE), Errno.EFAULT);
      assertThat(vfio.areas(ioas)).isEmpty();
      assertOk(vfio.checkRefs(NativePages.segment(pages.page(0), PAGE), 0));
    }
  }

  @Test
  void withAMockDomainWriteOnReadOnlyMemoryFailsWithEfaultButReadWorks() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoasWithMockDomain();
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_READ);

      assertErrno(vfio.mapDma(RW, pages.page(0), BASE, PAGE), Errno.EFAULT);
      assertOk(vfio.mapDma(READ, pages.page(0), BASE, PAGE));
      assertThat(vfio.unmapDma(0, BASE, PAGE)).isEqualTo(new VfioCalls.Unmapped(0, PAGE));
    }
    assertThat(vfio.areas(ioas)).isEmpty();
  }

  @Test
  void overTheMemoryLockLimitMapFailsWithEnomemAndChargesNothing() {
    Iommufd iommufd =
        open(Configuration.builder().privateHost(true).memlockLimit(8 * PAGE).build());
    VfioCalls vfio = new VfioCalls(iommufd, arena);
    int ioas = vfio.compatIoasWithMockDomain();
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);

    assertErrno(vfio.mapDma(BASE, buffer), Errno.ENOMEM);

    assertThat(vfio.areas(ioas)).isEmpty();
    assertOk(vfio.checkRefs(buffer, 0));
    assertOk(vfio.mapDma(BASE, buffer.asSlice(0, 8 * PAGE)));
  }

  @Test
  void inType1ModeTheAlignmentIsFourKib() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));

    assertErrno(vfio.mapDma(RW, USER_VA, 0x800, PAGE), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, USER_VA, 0x1000, 0x800), Errno.EINVAL);
    assertErrno(vfio.mapDma(RW, USER_VA + 0x800, 0x1000, PAGE), Errno.EINVAL);
    assertOk(vfio.mapDma(RW, USER_VA, 0x1000, PAGE));
    assertThat(vfio.areas(ioas)).hasSize(1);
  }

  @Test
  void mapDmaAreasAreOrdinaryAreasForTheIoasCommands() {
    VfioCalls vfio = vfio();
    int ioasId = vfio.compatIoas();
    Ioas ioas = vfio.iommufd().ioas(ioasId);
    assertOk(vfio.mapDma(RW, USER_VA, 0x10000, 2 * PAGE));

    assertThat(ioas.unmap(0x10000, 2 * PAGE)).isEqualTo(2 * PAGE);
    assertThat(vfio.areas(ioasId)).isEmpty();
  }
}
