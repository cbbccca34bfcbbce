package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;

import java.util.List;
import java.util.stream.Stream;
import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code IOMMU_IOAS_MAP} (ioas.c: iommufd_ioas_map()) with automatic placement (io_pagetable.c:
 * iopt_alloc_iova()) and fixed IOVAs (io_pagetable.c: iopt_check_iova()), including the order of
 * its checks. Without domains nothing is pinned, so EFAULT and ENOMEM from pinning, and EINVAL for
 * reserved ranges, cannot be reached yet.
 */
class IoasMapTest extends ConformanceTest {
  private static final int R = IOMMU_IOAS_MAP_READABLE;
  private static final int W = IOMMU_IOAS_MAP_WRITEABLE;
  private static final int FIXED = IOMMU_IOAS_MAP_FIXED_IOVA;
  private static final long POISON = 0x5a5a_5a5a_5a5a_5a5aL;

  private Struct mapStruct(int flags, int ioasId, long userVa, long length, long iova) {
    return struct(Command.IOMMU_IOAS_MAP)
        .u32(IommuIoasMap.FLAGS, flags)
        .u32(IommuIoasMap.IOAS_ID, ioasId)
        .u64(IommuIoasMap.USER_VA, userVa)
        .u64(IommuIoasMap.LENGTH, length)
        .u64(IommuIoasMap.IOVA, iova);
  }

  /**
   * An IOAS with huge pages disabled: {@code align} = 4096 (io_pagetable.c:
   * iopt_calculate_iova_alignment()).
   */
  private static int pageAlignedIoas(Door door) {
    int ioas = door.createIoas();
    door.setHugePages(ioas, false);
    return ioas;
  }

  private static int destroyedIoas(Door door) {
    int ioas = door.createIoas();
    door.destroy(ioas);
    return ioas;
  }

  // ---- automatic IOVA: the worked examples (io_pagetable.c: iopt_alloc_iova()) --------------

  @BothDoors
  void onePageLandsAt0x1000AndTheNextAt0x2000(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.map(ioas, USER_VA, 4096, Protection.READ_WRITE)).isEqualTo(0x1000);
    assertThat(door.map(ioas, USER_VA, 4096, Protection.READ_WRITE)).isEqualTo(0x2000);
  }

  @BothDoors
  void threePagesAreAlignedTo16KiB(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.map(ioas, USER_VA, 3 * 4096, Protection.READ_WRITE)).isEqualTo(0x4000);
  }

  @BothDoors
  void oneByteAtBufferPlus0x10KeepsItsInPageOffset(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.map(ioas, USER_VA + 0x10, 1, Protection.READ)).isEqualTo(0x1010);
  }

  @BothDoors
  void oneByteAtAPageAlignedAddressLandsAt4096(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.map(ioas, USER_VA, 1, Protection.READ)).isEqualTo(4096);
  }

  @BothDoors
  void alignmentIsCappedByTheHintsLowestSetBit(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    // A = min(0x2000, 0x400); the candidate is ORed with the in-page offset 0x400.
    assertThat(door.map(ioas, USER_VA + 0x400, 0x2000, Protection.READ)).isEqualTo(0x1400);
  }

  @BothDoors
  void alignmentNeverExceeds2MiB(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.map(ioas, 0x4000_0000L, 4L << 20, Protection.READ)).isEqualTo(0x20_0000);
    assertThat(door.map(ioas, 0, 8L << 20, Protection.READ))
        .as("hint 0: A = 8 MiB from the length, capped at 2 MiB")
        .isEqualTo(0x60_0000);
  }

  @BothDoors
  void automaticPlacementSkipsExistingAreas(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x1000, USER_VA, 0x2000, Protection.READ);

    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x3000);
  }

  @BothDoors
  void candidateAtTheLastByteOfAHoleIsRejectedEvenForOneByte(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(new IovaRange(0x1000, 0x1fff)));
    door.mapFixed(ioas, 0x1000, USER_VA, 0xfff, Protection.READ);

    assertFails(Errno.ENOSPC, () -> door.map(ioas, USER_VA, 1, Protection.READ));
  }

  @BothDoors
  void automaticMapOfHalfTheAddressSpaceFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EOVERFLOW, () -> door.map(ioas, 0, Long.MIN_VALUE, Protection.READ));
    assertFails(Errno.EOVERFLOW, () -> door.map(ioas, 0, Long.MAX_VALUE, Protection.READ));
  }

  @BothDoors
  void automaticAlignmentBelowTheIoasAlignmentFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);

    assertFails(Errno.EINVAL, () -> door.map(ioas, USER_VA + 0x400, 4096, Protection.READ));
    assertThat(door.map(ioas, USER_VA, 4096, Protection.READ)).isEqualTo(0x1000);
  }

  // ---- fixed IOVA (io_pagetable.c: iopt_check_iova()) -------------------------------------

  @BothDoors
  void fixedMapAtIovaZeroSucceeds(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.mapFixed(ioas, 0, USER_VA, 0x1000, Protection.READ)).isZero();
    assertThat(door.unmap(ioas, 0, 0x1000)).isEqualTo(0x1000);
  }

  @BothDoors
  void fixedMapEndingAtTheLastIovaSucceeds(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.mapFixed(ioas, -0x1000L, USER_VA, 0x1000, Protection.READ)).isEqualTo(-0x1000L);
  }

  @BothDoors
  void mapOverExistingAreaFailsWithEexist(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x4000, Protection.READ_WRITE);

    for (long[] iovaLength :
        new long[][] {
          {0x10000, 0x4000}, {0xf000, 0x2000}, {0x13fff, 1}, {0x11000, 0x1000}, {0x8000, 0x10000}
        }) {
      assertFails(
          Errno.EEXIST,
          () -> door.mapFixed(ioas, iovaLength[0], USER_VA, iovaLength[1], Protection.READ));
    }
  }

  @BothDoors
  void fixedMapTouchingAnAreaSucceeds(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x4000, Protection.READ);

    door.mapFixed(ioas, 0xf000, USER_VA, 0x1000, Protection.READ);
    door.mapFixed(ioas, 0x14000, USER_VA, 0x1000, Protection.READ);

    assertThat(door.unmap(ioas, 0xf000, 0x6000)).isEqualTo(0x6000);
  }

  @BothDoors
  void fixedMapWhoseLastIovaWrapsFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(
        Errno.EOVERFLOW, () -> door.mapFixed(ioas, -0x1000L, USER_VA, 0x2000, Protection.READ));
  }

  @BothDoors
  void fixedIovaNeedNotShareTheUserAddressInPageOffset(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.mapFixed(ioas, 0x1000, USER_VA + 0x123, 0x10, Protection.READ))
        .isEqualTo(0x1000);
  }

  @BothDoors
  void misalignedFixedIovaFailsWithEinvalWhileHugePagesAreOff(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);

    assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, 0x1800, USER_VA, 0x1000, Protection.READ));
  }

  @BothDoors
  void userAddressOffsetMisalignedToTheIoasFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);

    assertFails(
        Errno.EINVAL, () -> door.mapFixed(ioas, 0x1000, USER_VA + 0x10, 0x1000, Protection.READ));
  }

  @BothDoors
  void lengthMisalignedToTheIoasFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);

    assertFails(Errno.EINVAL, () -> door.map(ioas, USER_VA, 0x1800, Protection.READ));
    assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, 0x1000, USER_VA, 0x800, Protection.READ));
  }

  // ---- length and user address (ioas.c: iommufd_ioas_map()) -----------------------------

  @BothDoors
  void lengthOfAllOnesFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EOVERFLOW, () -> door.map(ioas, USER_VA, -1L, Protection.READ));
    assertFails(Errno.EOVERFLOW, () -> door.mapFixed(ioas, 0x1000, USER_VA, -1L, Protection.READ));
  }

  @BothDoors
  void fixedIovaOfAllOnesFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EOVERFLOW, () -> door.mapFixed(ioas, -1L, USER_VA, 1, Protection.READ));
  }

  @BothDoors
  void zeroLengthFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EINVAL, () -> door.map(ioas, USER_VA, 0, Protection.READ));
    assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, 0x1000, USER_VA, 0, Protection.READ));
  }

  @BothDoors
  void lengthAboveTheLastPageFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    for (long length : new long[] {-4096L, -2L}) {
      assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, 0, 0, length, Protection.READ));
    }
  }

  @BothDoors
  void userRangeEndingAtOrBeyond2To64FailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EOVERFLOW, () -> door.map(ioas, -0x1000L, 0x1000, Protection.READ));
    assertFails(
        Errno.EOVERFLOW, () -> door.mapFixed(ioas, 0x1000, -0x1000L, 0x2000, Protection.READ));
    assertThat(door.map(ioas, -0x1001L, 0x1000, Protection.READ))
        .as("ends at 2^64 - 2")
        .isNotZero();
  }

  @BothDoors
  void missingIoasFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int destroyed = destroyedIoas(door);

    assertFails(Errno.ENOENT, () -> door.map(destroyed, USER_VA, 0x1000, Protection.READ));
    assertFails(Errno.ENOENT, () -> door.map(99, USER_VA, 0x1000, Protection.READ));
  }

  // ---- what a MAP creates -------------------------------------------------------------------

  @BothDoors
  void unmappedUserMemorySucceedsWhileNoDomainIsAttached(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    long hole;
    try (NativePages pages = NativePages.map(1)) {
      hole = pages.page(0);
    }

    assertThat(door.mapFixed(ioas, 0x10000, hole, 0x1000, Protection.READ_WRITE))
        .isEqualTo(0x10000);
    assertThat(door.map(ioas, 0x10000, 0x1000, Protection.READ)).isNotZero();
  }

  @ParameterizedTest
  @EnumSource(Protection.class)
  void everyProtectionIsAccepted(Protection protection) {
    for (FrontDoor front : FrontDoor.values()) {
      Door door = open(front);
      int ioas = door.createIoas();
      assertThat(door.map(ioas, USER_VA, 0x1000, protection)).isEqualTo(0x1000);
    }
  }

  @BothDoors
  void eachMapCreatesOneAreaThatUnmapCannotSplit(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x3000, Protection.READ);

    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x10000, 0x1000));
    assertThat(door.unmap(ioas, 0x10000, 0x3000)).isEqualTo(0x3000);
  }

  @BothDoors
  void mappingTheSameMemoryTwiceCreatesTwoIndependentAreas(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    long first = door.map(ioas, USER_VA, 0x2000, Protection.READ);
    long second = door.map(ioas, USER_VA, 0x2000, Protection.READ);

    assertThat(second).isNotEqualTo(first);
    assertThat(door.unmap(ioas, first, 0x2000)).isEqualTo(0x2000);
    assertThat(door.unmap(ioas, second, 0x2000)).isEqualTo(0x2000);
  }

  // ---- check order (ioas.c: iommufd_ioas_map()) ------------------------------------------

  @BothDoors
  void lengthOfAllOnesIsReportedBeforeAMissingIoas(FrontDoor front) {
    Door door = open(front);
    int destroyed = destroyedIoas(door);

    assertFails(Errno.EOVERFLOW, () -> door.map(destroyed, USER_VA, -1L, Protection.READ));
    assertFails(Errno.EOVERFLOW, () -> door.mapFixed(destroyed, -1L, USER_VA, 1, Protection.READ));
  }

  @BothDoors
  void missingIoasIsReportedBeforeAZeroLength(FrontDoor front) {
    Door door = open(front);
    int destroyed = destroyedIoas(door);

    assertFails(Errno.ENOENT, () -> door.map(destroyed, USER_VA, 0, Protection.READ));
  }

  @BothDoors
  void tooLongIsReportedBeforeTheUserRangeWraps(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EINVAL, () -> door.map(ioas, USER_VA, -4096L, Protection.READ));
  }

  @BothDoors
  void userRangeWrapIsReportedBeforeLengthAlignment(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);

    assertFails(Errno.EOVERFLOW, () -> door.map(ioas, -0x100L, 0x200, Protection.READ));
  }

  @BothDoors
  void lengthAlignmentIsReportedBeforeFixedPlacement(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, 0x10000, USER_VA, 0x800, Protection.READ));
    assertFails(
        Errno.EINVAL, () -> door.mapFixed(ioas, -0x1000L, USER_VA, 0x2800, Protection.READ));
  }

  @BothDoors
  void iovaAlignmentIsReportedBeforeOverflowAndOverlap(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, 0xf800, USER_VA, 0x1000, Protection.READ));
    assertFails(Errno.EINVAL, () -> door.mapFixed(ioas, -0x800L, USER_VA, 0x1000, Protection.READ));
  }

  @BothDoors
  void iovaOverflowIsReportedBeforeOverlap(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, -0x1000L, USER_VA, 0x1000, Protection.READ);

    assertFails(
        Errno.EOVERFLOW, () -> door.mapFixed(ioas, -0x1000L, USER_VA, 0x2000, Protection.READ));
  }

  @BothDoors
  void overlapIsReportedBeforeAMisalignedUserAddress(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(
        Errno.EEXIST, () -> door.mapFixed(ioas, 0x10000, USER_VA + 0x10, 0x1000, Protection.READ));
  }

  @BothDoors
  void automaticAlignmentIsReportedBeforeLackOfSpace(FrontDoor front) {
    Door door = open(front);
    int ioas = pageAlignedIoas(door);
    door.allowIovas(ioas, List.of(new IovaRange(0x1000, 0x1fff)));
    door.map(ioas, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EINVAL, () -> door.map(ioas, USER_VA + 0x400, 0x1000, Protection.READ));
    assertFails(Errno.ENOSPC, () -> door.map(ioas, USER_VA, 0x1000, Protection.READ));
  }

  /**
   * Combinations only the byte ABI can express (unknown flags, {@code __reserved}, no R/W, an input
   * {@code iova} without FIXED_IOVA); each reports its first failing check.
   */
  static Stream<Arguments> rawCheckOrder() {
    long va = USER_VA;
    return Stream.of(
        Arguments.of(
            "unknown flag, reserved, length -1, no R/W",
            1 << 3,
            1,
            true,
            va,
            -1L,
            0L,
            Errno.EOPNOTSUPP),
        Arguments.of(
            "flag bit 31 on a missing IOAS",
            R | (1 << 31),
            0,
            false,
            va,
            0x1000L,
            0L,
            Errno.EOPNOTSUPP),
        Arguments.of(
            "reserved with good flags on a missing IOAS",
            R,
            1,
            false,
            va,
            0x1000L,
            0L,
            Errno.EOPNOTSUPP),
        Arguments.of("reserved, then length -1", R | FIXED, 7, true, va, -1L, 0L, Errno.EOPNOTSUPP),
        Arguments.of("no R/W, length -1", FIXED, 0, true, va, -1L, 0x1000L, Errno.EOVERFLOW),
        Arguments.of(
            "no R/W, iova -1 without FIXED_IOVA", 0, 0, true, va, 0x1000L, -1L, Errno.EOVERFLOW),
        Arguments.of("iova -1 without FIXED_IOVA", R, 0, true, va, 0x1000L, -1L, Errno.EOVERFLOW),
        Arguments.of(
            "iova -1 without FIXED_IOVA on a missing IOAS",
            R,
            0,
            false,
            va,
            0x1000L,
            -1L,
            Errno.EOVERFLOW),
        Arguments.of(
            "no R/W on a missing IOAS", FIXED, 0, false, va, 0x1000L, 0x1000L, Errno.EINVAL),
        Arguments.of("no R/W, zero length", 0, 0, true, va, 0L, 0L, Errno.EINVAL),
        Arguments.of("missing IOAS, zero length", W, 0, false, va, 0L, 0L, Errno.ENOENT),
        Arguments.of("missing IOAS, user range wraps", W, 0, false, -1L, 2L, 0L, Errno.ENOENT),
        Arguments.of("WRITEABLE only is enough", W | FIXED, 0, true, va, 0x1000L, 0x1000L, null));
  }

  @ParameterizedTest(name = "{0} -> {7}")
  @MethodSource("rawCheckOrder")
  void firstFailingCheckIsReported(
      String description,
      int flags,
      int reserved,
      boolean ioasExists,
      long userVa,
      long length,
      long iova,
      Errno expected) {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s =
        mapStruct(flags, ioasExists ? ioas : ioas + 1, userVa, length, iova)
            .u32(IommuIoasMap.RESERVED, reserved);

    int rc = s.ioctl(iommufd);

    if (expected == null) {
      assertOk(rc);
    } else {
      assertErrno(rc, expected);
    }
  }

  // ---- respond (iommufd_private.h: iommufd_ucmd_respond(); ioas.c: iommufd_ioas_map()) ----

  @Test
  void automaticIovaIsWrittenBackAndTheOtherFieldsAreUnchanged() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s = mapStruct(R | W, ioas, USER_VA + 0x10, 1, POISON);

    assertOk(s.ioctl(iommufd));

    assertThat(s.u64(IommuIoasMap.IOVA)).isEqualTo(0x1010);
    assertThat(s.u32(IommuIoasMap.FLAGS)).isEqualTo(R | W);
    assertThat(s.u32(IommuIoasMap.IOAS_ID)).isEqualTo(ioas);
    assertThat(s.u64(IommuIoasMap.USER_VA)).isEqualTo(USER_VA + 0x10);
    assertThat(s.u64(IommuIoasMap.LENGTH)).isEqualTo(1);
  }

  @Test
  void failedMapWritesNothingBack() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    new RawDoor(iommufd).mapFixed(ioas, 0x1000, USER_VA, 0x1000, Protection.READ);
    Struct s = mapStruct(R | FIXED, ioas, USER_VA, 0x1000, 0x1000);
    byte[] before = s.bytes();

    assertErrno(s.ioctl(iommufd), Errno.EEXIST);
    assertThat(s.bytes()).isEqualTo(before);
  }

  @Test
  void respondFaultFailsWithEfaultButTheMappingStays() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    try (NativePages pages = NativePages.map(2)) {
      // iova (offset 32) lies on a read-only page.
      Struct s =
          Struct.over(NativePages.segment(pages.page(1) - 32, 32), Command.IOMMU_IOAS_MAP)
              .u32(IommuIoasMap.FLAGS, R)
              .u32(IommuIoasMap.IOAS_ID, ioas)
              .u64(IommuIoasMap.USER_VA, USER_VA)
              .u64(IommuIoasMap.LENGTH, 0x1000);
      pages.protect(1, NativePages.PROT_READ);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(door.unmap(ioas, 0x1000, 0x1000)).isEqualTo(0x1000);
  }
}
