package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_HUGE_PAGES;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_GET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_SET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_RLIMIT_MODE;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code IOMMU_OPTION} (main.c: iommufd_option(); ioas.c: iommufd_option_rlimit_mode(),
 * iommufd_ioas_option_huge_pages()): RLIMIT_MODE and HUGE_PAGES, the order reserved → option id →
 * (RLIMIT) object id → op, EPERM → EBUSY → EINVAL for SET, and the write-back of {@code val64}
 * alone. EINVAL for disabling huge pages on an IOAS with a domain and an area needs domains, which
 * this engine cannot create yet.
 */
class OptionTest extends ConformanceTest {
  private static final long POISON = 0x5a5a_5a5a_5a5a_5a5aL;
  private static final Configuration NO_CAP_SYS_RESOURCE =
      Configuration.builder().capSysResource(false).build();

  private Struct option(int optionId, int op, int objectId, long val64) {
    return struct(Command.IOMMU_OPTION)
        .u32(IommuOption.OPTION_ID, optionId)
        .u16(IommuOption.OP, op)
        .u32(IommuOption.OBJECT_ID, objectId)
        .u64(IommuOption.VAL64, val64);
  }

  // ---- RLIMIT_MODE ------------------------------------------------------------------------

  @BothDoors
  void rlimitModeIsUserOnDevIommu(FrontDoor front) {
    assertThat(open(front).rlimitMode()).isEqualTo(RlimitMode.USER);
  }

  @BothDoors
  void rlimitModeIsProcessOnAVfioContainer(FrontDoor front) {
    Door door = open(front, Configuration.builder().vfioContainer(true).build());
    assertThat(door.rlimitMode()).isEqualTo(RlimitMode.PROCESS);
  }

  @BothDoors
  void rlimitModeSetOnAnEmptyContextSticks(FrontDoor front) {
    Door door = open(front);

    door.setRlimitMode(RlimitMode.PROCESS);
    assertThat(door.rlimitMode()).isEqualTo(RlimitMode.PROCESS);
    door.setRlimitMode(RlimitMode.USER);
    assertThat(door.rlimitMode()).isEqualTo(RlimitMode.USER);
  }

  @BothDoors
  void rlimitModeSetWithoutCapSysResourceFailsWithEperm(FrontDoor front) {
    Door door = open(front, NO_CAP_SYS_RESOURCE);
    assertFails(Errno.EPERM, () -> door.setRlimitMode(RlimitMode.PROCESS));

    door.createIoas();
    assertFails(Errno.EPERM, () -> door.setRlimitMode(RlimitMode.PROCESS));
    assertThat(door.rlimitMode()).as("GET needs no capability").isEqualTo(RlimitMode.USER);
  }

  @BothDoors
  void rlimitModeSetOnceAnObjectExistsFailsWithEbusy(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EBUSY, () -> door.setRlimitMode(RlimitMode.PROCESS));
    assertFails(Errno.EBUSY, () -> door.setRlimitMode(RlimitMode.USER));
    assertThat(door.rlimitMode()).isEqualTo(RlimitMode.USER);

    door.destroy(ioas);
    door.setRlimitMode(RlimitMode.PROCESS);
    assertThat(door.rlimitMode()).isEqualTo(RlimitMode.PROCESS);
  }

  @Test
  void rlimitModeSetChecksEpermThenEbusyThenTheValue() {
    Iommufd noCap = open(NO_CAP_SYS_RESOURCE);
    new RawDoor(noCap).createIoas();
    assertErrno(
        option(IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, 2).ioctl(noCap), Errno.EPERM);

    Iommufd busy = open();
    new RawDoor(busy).createIoas();
    assertErrno(
        option(IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, 2).ioctl(busy), Errno.EBUSY);

    Iommufd empty = open();
    for (long value : new long[] {2, -1L, 0x1_0000_0001L}) {
      assertErrno(
          option(IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, value).ioctl(empty),
          Errno.EINVAL);
    }
    assertThat(new RawDoor(empty).rlimitMode()).isEqualTo(RlimitMode.USER);
  }

  @Test
  void rlimitModeWithANonZeroObjectIdFailsWithEopnotsuppBeforeTheOpIsLooked() {
    Iommufd noCap = open(NO_CAP_SYS_RESOURCE);
    for (int op : new int[] {IOMMU_OPTION_OP_SET, IOMMU_OPTION_OP_GET, 7}) {
      assertErrno(option(IOMMU_OPTION_RLIMIT_MODE, op, 1, 1).ioctl(noCap), Errno.EOPNOTSUPP);
    }
  }

  @Test
  void rlimitModeWithAnUnknownOpFailsWithEopnotsupp() {
    assertErrno(
        option(IOMMU_OPTION_RLIMIT_MODE, 2, 0, 0).ioctl(open(NO_CAP_SYS_RESOURCE)),
        Errno.EOPNOTSUPP);
  }

  // ---- HUGE_PAGES ---------------------------------------------------------------------------

  @BothDoors
  void hugePagesAreEnabledOnAFreshIoas(FrontDoor front) {
    Door door = open(front);
    assertThat(door.hugePages(door.createIoas())).isTrue();
  }

  @BothDoors
  void disablingHugePagesRaisesTheAlignmentTo4096(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x3000, Protection.READ);

    door.setHugePages(ioas, false);

    assertThat(door.hugePages(ioas)).isFalse();
    assertThat(door.iovaRanges(ioas).alignment()).isEqualTo(4096);
    assertFails(Errno.EINVAL, () -> door.map(ioas, USER_VA, 0x800, Protection.READ));
  }

  @BothDoors
  void disablingHugePagesOverANonconformingAreaFailsWithEaddrinuse(FrontDoor front) {
    long[][] areas = {
      {0x1000, USER_VA, 0x10}, {0x1010, USER_VA, 0x1000}, {0x1000, USER_VA + 0x10, 0x1000}
    };
    for (long[] area : areas) {
      Door door = open(front);
      int ioas = door.createIoas();
      door.mapFixed(ioas, area[0], area[1], area[2], Protection.READ);

      assertFails(Errno.EADDRINUSE, () -> door.setHugePages(ioas, false));

      assertThat(door.hugePages(ioas)).isTrue();
      assertThat(door.iovaRanges(ioas).alignment()).isEqualTo(1);
    }
  }

  @BothDoors
  void disablingTwiceAndEnablingAlwaysSucceed(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    door.setHugePages(ioas, true);
    door.setHugePages(ioas, false);
    door.setHugePages(ioas, false);
    assertThat(door.hugePages(ioas)).isFalse();

    door.setHugePages(ioas, true);
    door.map(ioas, USER_VA + 0x10, 0x10, Protection.READ);
    door.setHugePages(ioas, true);
    assertThat(door.hugePages(ioas)).isTrue();
    assertThat(door.iovaRanges(ioas).alignment()).isEqualTo(1);
  }

  @BothDoors
  void hugePagesOfAMissingIoasFailWithEnoent(FrontDoor front) {
    Door door = open(front);
    int destroyed = door.createIoas();
    door.destroy(destroyed);

    for (int id : new int[] {destroyed, 99}) {
      assertFails(Errno.ENOENT, () -> door.hugePages(id));
      assertFails(Errno.ENOENT, () -> door.setHugePages(id, true));
    }
  }

  @Test
  void hugePagesIoasLookupComesBeforeTheOpCheck() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();

    assertErrno(option(IOMMU_OPTION_HUGE_PAGES, 9, 0, 0).ioctl(iommufd), Errno.ENOENT);
    assertErrno(option(IOMMU_OPTION_HUGE_PAGES, 9, ioas + 1, 0).ioctl(iommufd), Errno.ENOENT);
    assertErrno(option(IOMMU_OPTION_HUGE_PAGES, 9, ioas, 0).ioctl(iommufd), Errno.EOPNOTSUPP);
  }

  @Test
  void hugePagesSetWithAnotherValueFailsWithEinval() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();

    for (long value : new long[] {2, -1L, 0x1_0000_0000L, 0x1_0000_0001L}) {
      assertErrno(
          option(IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, ioas, value).ioctl(iommufd),
          Errno.EINVAL);
    }
    assertThat(door.hugePages(ioas)).isTrue();
  }

  // ---- generic order and write-back -----------------------------------------------------

  @ParameterizedTest(name = "option_id={0}")
  @ValueSource(ints = {0, 1, 2, -1})
  void nonZeroReservedFieldFailsWithEopnotsuppBeforeAnythingElse(int optionId) {
    Iommufd iommufd = open(NO_CAP_SYS_RESOURCE);
    Struct s = option(optionId, 5, 99, 2).u16(IommuOption.RESERVED, 1);

    assertErrno(s.ioctl(iommufd), Errno.EOPNOTSUPP);
  }

  @ParameterizedTest(name = "option_id={0}")
  @ValueSource(ints = {2, 3, -1})
  void unknownOptionFailsWithEopnotsupp(int optionId) {
    assertErrno(option(optionId, IOMMU_OPTION_OP_GET, 0, 0).ioctl(open()), Errno.EOPNOTSUPP);
  }

  @Test
  void getWritesOnlyVal64AndLeavesTheOtherFieldsAsTheyWere() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s = option(IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, ioas, POISON);
    byte[] before = s.bytes();

    assertOk(s.ioctl(iommufd));

    assertThat(s.u64(IommuOption.VAL64)).isEqualTo(1);
    assertThat(Arrays.copyOf(s.bytes(), 16)).isEqualTo(Arrays.copyOf(before, 16));
  }

  @Test
  void respondTouchesNoByteOutsideVal64() {
    Iommufd iommufd = open();
    try (NativePages pages = NativePages.map(2)) {
      long at = pages.page(1) - 16;
      Struct.over(NativePages.segment(at, 24), Command.IOMMU_OPTION)
          .u32(IommuOption.OPTION_ID, IOMMU_OPTION_RLIMIT_MODE)
          .u16(IommuOption.OP, IOMMU_OPTION_OP_GET)
          .u64(IommuOption.VAL64, POISON);
      pages.protect(0, NativePages.PROT_READ); // the first 16 bytes become read-only

      // An empty segment: the whole struct travels through the caller's memory.
      assertOk(iommufd.ioctl(Command.IOMMU_OPTION.request(), NativePages.segment(at, 0)));

      assertThat(NativePages.segment(at + 16, 8).get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).isZero();
    }
  }

  @Test
  void setWritesTheValueBack() {
    Iommufd iommufd = open();
    Struct s = option(IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, 1);

    assertOk(s.ioctl(iommufd));
    assertThat(s.u64(IommuOption.VAL64)).isEqualTo(1);
  }

  @Test
  void failedOptionWritesNothing() {
    Iommufd iommufd = open();
    new RawDoor(iommufd).createIoas();
    Struct[] failing = {
      option(IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 2, POISON),
      option(IOMMU_OPTION_RLIMIT_MODE, IOMMU_OPTION_OP_SET, 0, 0),
      option(IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_SET, 1, POISON)
    };
    Errno[] errnos = {Errno.ENOENT, Errno.EBUSY, Errno.EINVAL};
    for (int i = 0; i < failing.length; i++) {
      byte[] before = failing[i].bytes();
      assertErrno(failing[i].ioctl(iommufd), errnos[i]);
      assertThat(failing[i].bytes()).isEqualTo(before);
    }
  }

  @Test
  void setWhoseWriteBackFaultsFailsWithEfaultButStaysApplied() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    try (NativePages pages = NativePages.map(2)) {
      long at = pages.page(1) - 16;
      Struct.over(NativePages.segment(at, 24), Command.IOMMU_OPTION)
          .u32(IommuOption.OPTION_ID, IOMMU_OPTION_RLIMIT_MODE)
          .u16(IommuOption.OP, IOMMU_OPTION_OP_SET)
          .u64(IommuOption.VAL64, 1);
      pages.protect(1, NativePages.PROT_READ); // val64 becomes read-only
      Struct writable = Struct.over(NativePages.segment(at, 16), Command.IOMMU_OPTION);

      assertErrno(writable.ioctl(iommufd), Errno.EFAULT);
      assertThat(door.rlimitMode()).isEqualTo(RlimitMode.PROCESS);

      int ioas = door.createIoas();
      NativePages.segment(at, 16).fill((byte) 0);
      Struct.over(NativePages.segment(at, 16), Command.IOMMU_OPTION)
          .u32(IommuOption.OPTION_ID, IOMMU_OPTION_HUGE_PAGES)
          .u16(IommuOption.OP, IOMMU_OPTION_OP_SET)
          .u32(IommuOption.OBJECT_ID, ioas);
      // val64 on the read-only page still holds 1: SET 1 is applied, then the write-back faults.
      door.setHugePages(ioas, false);
      assertErrno(writable.ioctl(iommufd), Errno.EFAULT);
      assertThat(door.hugePages(ioas)).isTrue();
    }
  }
}
