package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/**
 * {@code IOMMU_IOAS_UNMAP} (ioas.c: iommufd_ioas_unmap(); io_pagetable.c: iopt_unmap_iova_range()):
 * the superset rule, holes, the returned length, partial progress, and both forms of "unmap
 * everything".
 */
class IoasUnmapTest extends ConformanceTest {
  private static final long HALF = Long.MIN_VALUE; // 2^63

  private Struct unmapStruct(int ioasId, long iova, long length) {
    return struct(Command.IOMMU_IOAS_UNMAP)
        .u32(IommuIoasUnmap.IOAS_ID, ioasId)
        .u64(IommuIoasUnmap.IOVA, iova)
        .u64(IommuIoasUnmap.LENGTH, length);
  }

  private static void mapPages(Door door, int ioas, long iova, long pages) {
    door.mapFixed(ioas, iova, USER_VA, pages * PAGE, Protection.READ_WRITE);
  }

  @BothDoors
  void unmapOfExactlyOneAreaReturnsItsLength(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 3);

    assertThat(door.unmap(ioas, 0x10000, 3 * PAGE)).isEqualTo(3 * PAGE);
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x10000, 3 * PAGE));
  }

  @BothDoors
  void fourEightPageAreasInASixtyPageWindowReturnThirtyTwoPages(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    long window = 0x100000;
    for (long page : new long[] {2, 14, 26, 40}) {
      mapPages(door, ioas, window + page * PAGE, 8);
    }
    mapPages(door, ioas, window + 60 * PAGE, 1); // just outside the window

    assertThat(door.unmap(ioas, window, 60 * PAGE)).isEqualTo(32 * PAGE);
    assertThat(door.unmapAll(ioas)).as("only the area outside is left").isEqualTo(PAGE);
  }

  @BothDoors
  void areaOnlyPartlyInsideTheRangeFailsWithEnoentAndStays(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 4);

    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x10000, 3 * PAGE));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x11000, 3 * PAGE));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0xf000, 2 * PAGE));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x13fff, 1));
    assertThat(door.unmap(ioas, 0x10000, 4 * PAGE)).isEqualTo(4 * PAGE);
  }

  @BothDoors
  void areasBeforeAPartlyCoveredOneStayRemoved(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 1);
    mapPages(door, ioas, 0x12000, 2);

    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x10000, 3 * PAGE));

    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x10000, PAGE));
    assertThat(door.unmap(ioas, 0x12000, 2 * PAGE)).isEqualTo(2 * PAGE);
  }

  @BothDoors
  void partlyCoveredFirstAreaStopsTheRemovalBeforeAnythingGoes(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 2);
    mapPages(door, ioas, 0x12000, 1);

    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x11000, 2 * PAGE));

    assertThat(door.unmapAll(ioas)).isEqualTo(3 * PAGE);
  }

  @BothDoors
  void nothingMappedInTheRangeFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0, HALF));

    mapPages(door, ioas, 0x10000, 1);
    mapPages(door, ioas, 0x12000, 1);
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x11000, PAGE));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0x0f000, PAGE));
  }

  @BothDoors
  void unmapAllRemovesEveryAreaAndReturnsTheirTotal(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0, 1);
    mapPages(door, ioas, 0x10000, 2);
    mapPages(door, ioas, -PAGE, 1);
    door.map(ioas, USER_VA + 0x10, 1, Protection.READ);

    assertThat(door.unmapAll(ioas)).isEqualTo(4 * PAGE + 1);
    assertThat(door.unmapAll(ioas)).isZero();
  }

  @BothDoors
  void unmapAllOnAnEmptyIoasReturnsZero(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.unmapAll(ioas)).isZero();
    assertThat(door.unmap(ioas, 0, -1L)).isZero();
  }

  @BothDoors
  void twoHalvesRemoveEverythingAndAnEmptyHalfFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 2);
    mapPages(door, ioas, HALF + 0x10000, 3);
    mapPages(door, ioas, -PAGE, 1);

    assertThat(door.unmap(ioas, 0, HALF)).isEqualTo(2 * PAGE);
    assertThat(door.unmap(ioas, HALF, HALF)).isEqualTo(4 * PAGE);
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0, HALF));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, HALF, HALF));
  }

  @BothDoors
  void areaAcrossTheMiddleDefeatsTheHalvesButNotUnmapAll(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, HALF - PAGE, 2);

    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0, HALF));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, HALF, HALF));
    assertThat(door.unmapAll(ioas)).isEqualTo(2 * PAGE);
  }

  @BothDoors
  void onlyIovaZeroWithAllOnesLengthMeansEverything(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, -PAGE, 1);

    assertFails(Errno.EOVERFLOW, () -> door.unmap(ioas, 1, -1L));
    assertFails(Errno.EOVERFLOW, () -> door.unmap(ioas, PAGE, -1L));
    assertFails(Errno.ENOENT, () -> door.unmap(ioas, 0, -2L));
    assertThat(door.unmap(ioas, -PAGE, PAGE)).as("a range ending at 2^64 - 1").isEqualTo(PAGE);
  }

  @BothDoors
  void iovaOfAllOnesFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EOVERFLOW, () -> door.unmap(ioas, -1L, 1));
    assertFails(Errno.EOVERFLOW, () -> door.unmap(ioas, -1L, 0));
  }

  @BothDoors
  void rangeWrappingPast2To64FailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, -PAGE, 1);

    assertFails(Errno.EOVERFLOW, () -> door.unmap(ioas, -PAGE, 2 * PAGE));
    assertFails(Errno.EOVERFLOW, () -> door.unmap(ioas, HALF, HALF + 1));
  }

  @BothDoors
  void zeroLengthFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 1);

    assertFails(Errno.EINVAL, () -> door.unmap(ioas, 0x10000, 0));
    assertFails(Errno.EINVAL, () -> door.unmap(ioas, 0, 0));
  }

  @BothDoors
  void missingIoasIsReportedBeforeAnyOtherCheck(FrontDoor front) {
    Door door = open(front);
    int destroyed = door.createIoas();
    door.destroy(destroyed);

    assertFails(Errno.ENOENT, () -> door.unmap(destroyed, 0x10000, 0));
    assertFails(Errno.ENOENT, () -> door.unmap(destroyed, -1L, 1));
    assertFails(Errno.ENOENT, () -> door.unmapAll(destroyed));
    assertFails(Errno.ENOENT, () -> door.unmapAll(99));
  }

  // ---- respond (iommufd_private.h: iommufd_ucmd_respond(); ioas.c: iommufd_ioas_unmap()) ----

  @Test
  void removedLengthIsWrittenBackAndTheOtherFieldsAreUnchanged() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 2);
    mapPages(door, ioas, 0x20000, 1);
    Struct s = unmapStruct(ioas, 0x8000, 0x100000);

    assertOk(s.ioctl(iommufd));

    assertThat(s.u64(IommuIoasUnmap.LENGTH)).isEqualTo(3 * PAGE);
    assertThat(s.u64(IommuIoasUnmap.IOVA)).isEqualTo(0x8000);
    assertThat(s.u32(IommuIoasUnmap.IOAS_ID)).isEqualTo(ioas);
  }

  @Test
  void unmapAllOnAnEmptyIoasWritesLengthZero() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s = unmapStruct(ioas, 0, -1L);

    assertOk(s.ioctl(iommufd));
    assertThat(s.u64(IommuIoasUnmap.LENGTH)).isZero();
  }

  @Test
  void partialProgressDoesNotWriteTheLengthBack() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 1);
    mapPages(door, ioas, 0x12000, 2);
    Struct s = unmapStruct(ioas, 0x10000, 3 * PAGE);

    assertErrno(s.ioctl(iommufd), Errno.ENOENT);

    assertThat(s.u64(IommuIoasUnmap.LENGTH)).isEqualTo(3 * PAGE);
    assertThat(door.unmapAll(ioas)).as("the first area is gone").isEqualTo(2 * PAGE);
  }

  @Test
  void respondFaultFailsWithEfaultButTheAreasStayRemoved() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    mapPages(door, ioas, 0x10000, 2);
    try (NativePages pages = NativePages.map(2)) {
      long at = pages.page(1) - 16;
      Struct.over(NativePages.segment(at, 24), Command.IOMMU_IOAS_UNMAP)
          .u32(IommuIoasUnmap.IOAS_ID, ioas)
          .u64(IommuIoasUnmap.IOVA, 0x10000)
          .u64(IommuIoasUnmap.LENGTH, 2 * PAGE);
      pages.protect(1, NativePages.PROT_READ); // length (offset 16) becomes read-only
      Struct writable = Struct.over(NativePages.segment(at, 16), Command.IOMMU_IOAS_UNMAP);

      assertErrno(writable.ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(door.unmapAll(ioas)).isZero();
  }
}
