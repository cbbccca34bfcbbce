package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/**
 * {@code IOMMU_IOAS_ALLOW_IOVAS} (ioas.c: iommufd_ioas_allow_iovas()) and its effect on automatic
 * IOVA allocation (io_pagetable.c: iopt_alloc_iova()). The list is observed through where automatic
 * MAPs land. EADDRINUSE (an allowed range against a reserved range) needs domains or test
 * reservations, which this engine cannot create yet.
 */
class AllowIovasTest extends ConformanceTest {
  private static final IovaRange LOW = new IovaRange(0x10_0000, 0x1f_ffff);
  private static final IovaRange HIGH = new IovaRange(0x30_0000, 0x3f_ffff);

  private Struct allow(int ioasId, int count, long array) {
    return struct(Command.IOMMU_IOAS_ALLOW_IOVAS)
        .u32(IommuIoasAllowIovas.IOAS_ID, ioasId)
        .u32(IommuIoasAllowIovas.NUM_IOVAS, count)
        .u64(IommuIoasAllowIovas.ALLOWED_IOVAS, array);
  }

  @BothDoors
  void automaticAllocationStaysInsideTheAllowedRanges(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    door.allowIovas(ioas, List.of(HIGH, LOW));

    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x10_0000);
    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x10_1000);
    assertThat(door.map(ioas, USER_VA, 0x10_0000, Protection.READ))
        .as("LOW is too full")
        .isEqualTo(0x30_0000);
  }

  @BothDoors
  void allocationFailsWithEnospcOnceTheAllowedRangesAreFull(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(new IovaRange(0x10_0000, 0x10_1fff)));
    door.map(ioas, USER_VA, 0x2000, Protection.READ);

    assertFails(Errno.ENOSPC, () -> door.map(ioas, USER_VA, 0x1000, Protection.READ));
  }

  @BothDoors
  void allowedAddressesBelow4096AreNeverAllocated(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(new IovaRange(0, 0xfff)));

    assertFails(Errno.ENOSPC, () -> door.map(ioas, USER_VA, 1, Protection.READ));
  }

  @BothDoors
  void touchingRangesAreAcceptedAndAllocatedAcross(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    door.allowIovas(
        ioas, List.of(new IovaRange(0x10_1000, 0x10_1fff), new IovaRange(0x10_0000, 0x10_0fff)));

    assertThat(door.map(ioas, USER_VA, 0x2000, Protection.READ)).isEqualTo(0x10_0000);
  }

  @BothDoors
  void singleAddressOrReversedRangeFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(Errno.EINVAL, () -> door.allowIovas(ioas, List.of(new IovaRange(0x1000, 0x1000))));
    assertFails(Errno.EINVAL, () -> door.allowIovas(ioas, List.of(LOW, new IovaRange(-1L, 0))));
  }

  @BothDoors
  void overlappingRangesFailWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertFails(
        Errno.EINVAL,
        () ->
            door.allowIovas(
                ioas, List.of(new IovaRange(0x1000, 0x2000), new IovaRange(0x2000, 0x3000))));
    assertFails(
        Errno.EINVAL, () -> door.allowIovas(ioas, List.of(HIGH, LOW, new IovaRange(0, -1L))));
  }

  @BothDoors
  void failedCallLeavesThePreviousListInPlace(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(HIGH));

    assertFails(Errno.EINVAL, () -> door.allowIovas(ioas, List.of(LOW, LOW)));

    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x30_0000);
  }

  @BothDoors
  void emptyListLiftsTheRestriction(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(HIGH));

    door.allowIovas(ioas, List.of());

    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x1000);
  }

  @BothDoors
  void newListReplacesTheOldOneAsAWhole(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(LOW));

    door.allowIovas(ioas, List.of(HIGH));

    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x30_0000);
  }

  @BothDoors
  void fixedMapsAndExistingMappingsAreNotRestricted(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10_0000, USER_VA, 0x1000, Protection.READ);

    door.allowIovas(ioas, List.of(LOW));

    assertThat(door.mapFixed(ioas, 0, USER_VA, 0x1000, Protection.READ)).isZero();
    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x10_1000);
  }

  @BothDoors
  void unknownIoasFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int destroyed = door.createIoas();
    door.destroy(destroyed);

    assertFails(Errno.ENOENT, () -> door.allowIovas(destroyed, List.of(LOW)));
  }

  @Test
  void nonZeroReservedFieldFailsWithEopnotsuppBeforeTheIoasLookup() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();

    for (int id : new int[] {ioas, 99}) {
      Struct s = allow(id, 0, 0).u32(IommuIoasAllowIovas.RESERVED, 1);
      assertErrno(s.ioctl(iommufd), Errno.EOPNOTSUPP);
    }
  }

  @Test
  void unknownIoasIsEnoentBeforeTheArrayIsRead() {
    assertErrno(allow(1, 1, 0).ioctl(open()), Errno.ENOENT);
  }

  @Test
  void zeroCountDoesNotReadThePointer() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();

    assertOk(allow(ioas, 0, 0xdead_0000_0000L).ioctl(iommufd));
  }

  @Test
  void nullArrayWithElementsFailsWithEfault() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();

    assertErrno(allow(ioas, 1, 0).ioctl(iommufd), Errno.EFAULT);
  }

  /** Element 0 in the last 16 bytes of a page, element 1 in the unmapped page after it. */
  private static MemorySegment arrayBeforeAHole(NativePages pages, IovaRange first) {
    pages.unmap(1);
    MemorySegment element0 = NativePages.segment(pages.page(1) - 16, 16);
    RangeArray.set(element0, 0, first);
    return element0;
  }

  @Test
  void unreadableElementFailsWithEfaultAndKeepsTheOldList() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.allowIovas(ioas, List.of(HIGH));
    try (NativePages pages = NativePages.map(2)) {
      MemorySegment array = arrayBeforeAHole(pages, LOW);

      assertErrno(allow(ioas, 2, array.address()).ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(door.map(ioas, USER_VA, 0x1000, Protection.READ)).isEqualTo(0x30_0000);
  }

  @Test
  void invalidElementBeforeAnUnreadableOneFailsWithEinval() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    try (NativePages pages = NativePages.map(2)) {
      MemorySegment array = arrayBeforeAHole(pages, new IovaRange(0x2000, 0x1000));

      assertErrno(allow(ioas, 2, array.address()).ioctl(iommufd), Errno.EINVAL);
    }
  }

  @Test
  void overlapIsDetectedBeforeALaterUnreadableElement() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    try (NativePages pages = NativePages.map(3)) {
      pages.unmap(2);
      MemorySegment elements = NativePages.segment(pages.page(2) - 32, 32);
      RangeArray.set(elements, 0, LOW);
      RangeArray.set(elements, 1, LOW);

      assertErrno(allow(ioas, 3, elements.address()).ioctl(iommufd), Errno.EINVAL);
    }
  }

  @Test
  void nothingIsWrittenBack() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    MemorySegment array = rangeArray(LOW, HIGH);
    Struct s = allow(ioas, 2, array.address());
    byte[] before = s.bytes();

    assertOk(s.ioctl(iommufd));

    assertThat(s.bytes()).isEqualTo(before);
    assertThat(RangeArray.get(array, 0)).isEqualTo(LOW);
    assertThat(RangeArray.get(array, 1)).isEqualTo(HIGH);
  }
}
