package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.engine.Host;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The container-level VFIO compatibility ioctls on an iommufd (vfio_compat.c: iommufd_vfio_ioctl(),
 * reached from main.c: iommufd_fops_ioctl()): VFIO_GET_API_VERSION, VFIO_CHECK_EXTENSION,
 * VFIO_SET_IOMMU, and ENOTTY for everything else on that path. Ports the selftests {@code
 * simple_ioctls}, {@code set_iommu_cmd} and {@code vfio_compat_mock_domain.option_huge_pages}.
 */
class VfioContainerCommandsTest extends ConformanceTest {

  private VfioCalls vfio() {
    return new VfioCalls(open(), arena);
  }

  private static boolean hugePages(Iommufd iommufd, int ioasId) {
    return iommufd.ioas(ioasId).hugePages();
  }

  @Test
  void getApiVersionReturnsZeroWithoutReadingItsArgument() {
    Iommufd iommufd = open();

    assertThat(iommufd.ioctl(Vfio.VFIO_GET_API_VERSION, MemorySegment.NULL)).isZero();
    assertThat(iommufd.ioctl(Vfio.VFIO_GET_API_VERSION, MemorySegment.ofAddress(0xdead_0000L)))
        .isZero();
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 3, 9})
  void checkExtensionReportsType1Type1v2AndUnmapAllWithoutACompatIoas(long extension) {
    assertThat(vfio().checkExtension(extension)).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(longs = {0, 2, 5, 6, 7, 8, 10, 11, 0x7fff_ffff, 0x1_0000_0001L, -1})
  void checkExtensionReportsZeroForEverythingElse(long extension) {
    // 8 (NOIOMMU): the emulated kernel has no VFIO no-IOMMU support. 0x1_0000_0001 is not TYPE1:
    // the argument is a full unsigned long.
    assertThat(vfio().checkExtension(extension)).isZero();
  }

  @Test
  void checkExtensionDmaCcIommuWithoutACompatIoasFailsWithEnodev() {
    VfioCalls vfio = vfio();
    vfio.iommufd().createIoas();

    assertErrno(vfio.checkExtension(Vfio.VFIO_DMA_CC_IOMMU), Errno.ENODEV);
  }

  @Test
  void checkExtensionDmaCcIommuIsOneWhileTheCompatIoasHasNoHwpt() {
    VfioCalls vfio = vfio();
    vfio.compatIoas();

    assertThat(vfio.checkExtension(Vfio.VFIO_DMA_CC_IOMMU)).isEqualTo(1);
  }

  @Test
  void checkExtensionDmaCcIommuIsZeroOnceAMockHwptIsThere() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    int[] ids = vfio.mockDomain(ioas, 0);

    assertThat(vfio.checkExtension(Vfio.VFIO_DMA_CC_IOMMU))
        .as("mock HWPTs do not enforce")
        .isZero();

    vfio.iommufd().destroy(ids[0]);
    assertThat(vfio.checkExtension(Vfio.VFIO_DMA_CC_IOMMU))
        .as("its HWPT went with the device")
        .isEqualTo(1);
  }

  @Test
  void checkExtensionOnlyLooksAtTheCompatIoas() {
    VfioCalls vfio = vfio();
    int other = vfio.iommufd().createIoas().id();
    vfio.mockDomain(other, 0);
    vfio.compatIoas();

    assertThat(vfio.checkExtension(Vfio.VFIO_DMA_CC_IOMMU)).isEqualTo(1);
  }

  @ParameterizedTest
  @ValueSource(longs = {0, 2, 4, 8, 9, 0x1_0000_0001L, -1})
  void setIommuOfAnotherTypeFailsWithEinvalBeforeLookingForTheCompatIoas(long type) {
    VfioCalls vfio = vfio();

    assertErrno(vfio.setIommu(type), Errno.EINVAL);
    vfio.compatIoas();
    assertErrno(vfio.setIommu(type), Errno.EINVAL);
  }

  @ParameterizedTest
  @ValueSource(longs = {1, 3})
  void setIommuWithoutACompatIoasFailsWithEnodev(long type) {
    VfioCalls vfio = vfio();
    vfio.iommufd().createIoas();

    assertErrno(vfio.setIommu(type), Errno.ENODEV);
  }

  @Test
  void setIommuAfterTheCompatIoasWasDestroyedFailsWithEnodev() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    vfio.iommufd().destroy(ioas);

    assertErrno(vfio.setIommu(Vfio.VFIO_TYPE1v2_IOMMU), Errno.ENODEV);
  }

  @Test
  void setIommuType1DisablesLargePagesOnTheCompatIoasOnly() {
    VfioCalls vfio = vfio();
    int other = vfio.iommufd().createIoas().id();
    int ioas = vfio.compatIoasWithMockDomain();

    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));

    assertThat(hugePages(vfio.iommufd(), ioas)).isFalse();
    assertThat(hugePages(vfio.iommufd(), other)).isTrue();
    assertThat(vfio.iommufd().ioas(ioas).iovaRanges().alignment()).isEqualTo(4096);
  }

  @Test
  void setIommuType1v2LeavesLargePagesAsTheyAre() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoasWithMockDomain();

    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1v2_IOMMU));
    assertThat(hugePages(vfio.iommufd(), ioas)).isTrue();

    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1v2_IOMMU));
    assertThat(hugePages(vfio.iommufd(), ioas)).as("TYPE1v2 does not turn them back on").isFalse();
  }

  @Test
  void setIommuType1WithADomainAndAnAreaFailsWithEinval() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoasWithMockDomain();
    MemorySegment buffer = arena.allocate(PAGE, PAGE);
    assertOk(vfio.mapDma(IommuTestCmd.MOCK_APERTURE_START, buffer));

    assertErrno(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU), Errno.EINVAL);
    assertThat(hugePages(vfio.iommufd(), ioas)).isTrue();
  }

  @Test
  void setIommuType1WithAnAreaOffTheFourKibGridFailsWithEaddrinuse() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.mapDma(VfioCalls.RW, USER_VA, 0x1800, PAGE));

    assertErrno(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU), Errno.EADDRINUSE);
    assertThat(hugePages(vfio.iommufd(), ioas)).isTrue();
    assertThat(vfio.iommufd().ioas(ioas).iovaRanges().alignment()).isEqualTo(1);
  }

  @Test
  void setIommuType1IsTheSameSwitchAsOptionHugePages() {
    VfioCalls vfio = vfio();
    int ioas = vfio.compatIoas();
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));

    vfio.iommufd().ioas(ioas).setHugePages(true);
    assertThat(vfio.iommufd().ioas(ioas).iovaRanges().alignment()).isEqualTo(1);
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    assertThat(vfio.iommufd().ioas(ioas).iovaRanges().alignment()).isEqualTo(4096);
  }

  @ParameterizedTest
  @ValueSource(
      longs = {
        Vfio.VFIO_IOMMU_DIRTY_PAGES,
        0x3b67,
        0x3b6f,
        0x3b73,
        0x3b74,
        0x3b7f,
        0x3b00,
        0x3b63,
        0x3bff,
        0x3ba1,
        0x3b64 | (2L << 30) | (4L << 16),
        0x3b71 | (1L << 30),
        0x5864,
        0x3c65
      })
  void otherRequestsOnTheCompatPathFailWithEnottyWithoutReadingTheArgument(long request) {
    VfioCalls vfio = vfio();
    vfio.compatIoas();

    assertErrno(vfio.iommufd().ioctl(request, MemorySegment.NULL), Errno.ENOTTY);
  }

  @Test
  void testCmdIsOnTheCompatPathOnAKernelWithoutTheTestAbi() {
    Iommufd iommufd = open(Configuration.builder().testAbi(false).build());

    assertErrno(iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), MemorySegment.NULL), Errno.ENOTTY);
    assertThat(
            iommufd.ioctl(
                Vfio.VFIO_CHECK_EXTENSION, MemorySegment.ofAddress(Vfio.VFIO_TYPE1v2_IOMMU)))
        .isEqualTo(1);
  }

  @Test
  void requestBitsAboveThirtyTwoNeverReachTheHandler() {
    Iommufd iommufd = open();

    assertThat(
            iommufd.ioctl(
                0xffff_ffff_0000_0000L | Vfio.VFIO_CHECK_EXTENSION,
                MemorySegment.ofAddress(Vfio.VFIO_TYPE1_IOMMU)))
        .isEqualTo(1);
  }

  @Test
  void vfioContainerStartsInProcessAccountingAndMapDmaChargesTheProcess() {
    Configuration config = Configuration.builder().vfioContainer(true).privateHost(true).build();
    Iommufd iommufd = open(config);
    VfioCalls vfio = new VfioCalls(iommufd, arena);
    Host host = ((EmulatedIommufd) iommufd).context().host();
    int pid = ((EmulatedIommufd) iommufd).caller().pid();
    int uid = ((EmulatedIommufd) iommufd).caller().uid();
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);

    assertThat(iommufd.rlimitMode()).isEqualTo(RlimitMode.PROCESS);
    vfio.compatIoasWithMockDomain();
    assertOk(vfio.mapDma(IommuTestCmd.MOCK_APERTURE_START, buffer));

    assertThat(host.lockedPagesOfProcess(pid)).isEqualTo(16);
    assertThat(host.lockedPagesOfUser(uid)).isZero();
  }

  @Test
  void devIommuMapDmaChargesTheUser() {
    Iommufd iommufd = open(Configuration.builder().privateHost(true).build());
    VfioCalls vfio = new VfioCalls(iommufd, arena);
    Host host = ((EmulatedIommufd) iommufd).context().host();
    int pid = ((EmulatedIommufd) iommufd).caller().pid();
    int uid = ((EmulatedIommufd) iommufd).caller().uid();
    MemorySegment buffer = arena.allocate(16 * PAGE, PAGE);

    assertThat(iommufd.rlimitMode()).isEqualTo(RlimitMode.USER);
    vfio.compatIoasWithMockDomain();
    assertOk(vfio.mapDma(IommuTestCmd.MOCK_APERTURE_START, buffer));

    assertThat(host.lockedPagesOfUser(uid)).isEqualTo(16);
    assertThat(host.lockedPagesOfProcess(pid)).isZero();
  }
}
