package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/**
 * {@code IOMMU_DESTROY} (main.c: iommufd_destroy()) and the id rules it exposes (lowest free id
 * from 1, immediate reuse; main.c: _iommufd_object_alloc(), iommufd_object_finalize()). EBUSY needs
 * a second reference (HWPT, access), which no command of this engine can create yet.
 */
class DestroyTest extends ConformanceTest {

  @BothDoors
  void destroyOfIdZeroFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    door.createIoas();

    assertFails(Errno.ENOENT, () -> door.destroy(0));
    assertThat(objectCount(door.iommufd())).isEqualTo(1);
  }

  @BothDoors
  void destroyOfUnknownIdFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    door.createIoas();

    for (int id : new int[] {2, 99, Integer.MAX_VALUE, Integer.MIN_VALUE, -1}) {
      assertFails(Errno.ENOENT, () -> door.destroy(id));
    }
    assertThat(objectCount(door.iommufd())).isEqualTo(1);
  }

  @BothDoors
  void secondDestroyOfTheSameIdFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.destroy(ioas);

    assertFails(Errno.ENOENT, () -> door.destroy(ioas));
  }

  @BothDoors
  void destroyedIdIsReusedByTheNextCreation(FrontDoor front) {
    Door door = open(front);
    assertThat(new int[] {door.createIoas(), door.createIoas(), door.createIoas()})
        .containsExactly(1, 2, 3);

    door.destroy(2);

    assertThat(door.createIoas()).isEqualTo(2);
    assertThat(door.createIoas()).isEqualTo(4);
  }

  @BothDoors
  void lowestFreeIdIsAssignedFirst(FrontDoor front) {
    Door door = open(front);
    for (int i = 0; i < 5; i++) {
      door.createIoas();
    }
    door.destroy(4);
    door.destroy(1);
    door.destroy(3);

    assertThat(
            new int[] {door.createIoas(), door.createIoas(), door.createIoas(), door.createIoas()})
        .containsExactly(1, 3, 4, 6);
  }

  @BothDoors
  void destroyOfAnIoasRemovesItsMappingsAndItsId(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x4000, Protection.READ_WRITE);

    door.destroy(ioas);

    assertFails(Errno.ENOENT, () -> door.unmapAll(ioas));
    assertFails(Errno.ENOENT, () -> door.iovaRanges(ioas));
    int again = door.createIoas();
    assertThat(again).isEqualTo(ioas);
    assertThat(door.unmapAll(again)).as("the new IOAS under the old id is empty").isZero();
  }

  @BothDoors
  void destroyLeavesOtherIoasesAlone(FrontDoor front) {
    Door door = open(front);
    int first = door.createIoas();
    int second = door.createIoas();
    door.mapFixed(second, 0x10000, USER_VA, 0x2000, Protection.READ);

    door.destroy(first);

    assertThat(door.unmap(second, 0x10000, 0x2000)).isEqualTo(0x2000);
  }

  @Test
  void destroyWritesNothingBack() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    try (NativePages pages = NativePages.map(1)) {
      Struct s =
          Struct.over(NativePages.segment(pages.page(0), 8), Command.IOMMU_DESTROY)
              .u32(IommuDestroy.ID, ioas);
      pages.protect(0, NativePages.PROT_READ);
      // An empty segment: any write-back would go through memory to the read-only page.
      assertOk(iommufd.ioctl(Command.IOMMU_DESTROY.request(), NativePages.segment(s.address(), 0)));
      assertThat(objectCount(iommufd)).isZero();
    }
  }

  @Test
  void destroyOfIdZeroThroughTheByteAbiFailsWithEnoent() {
    Struct s = struct(Command.IOMMU_DESTROY);
    assertErrno(s.ioctl(open()), Errno.ENOENT);
  }
}
