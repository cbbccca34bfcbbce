package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/**
 * {@code IOMMU_IOAS_IOVA_RANGES} (ioas.c: iommufd_ioas_iova_ranges()): the holes of the reserved
 * ranges and the alignment, the capacity-0 probe, EMSGSIZE after the write-back, and the array
 * rules. Without domains or test reservations there is only ever one hole, {@code [0, 2^64 - 1]}.
 */
class IovaRangesTest extends ConformanceTest {
  private static final IovaRange EVERYTHING = new IovaRange(0, -1L);
  private static final long POISON = 0x5a5a_5a5a_5a5a_5a5aL;

  private Struct probe(int ioasId, int capacity, long array) {
    return struct(Command.IOMMU_IOAS_IOVA_RANGES)
        .u32(IommuIoasIovaRanges.IOAS_ID, ioasId)
        .u32(IommuIoasIovaRanges.NUM_IOVAS, capacity)
        .u64(IommuIoasIovaRanges.ALLOWED_IOVAS, array)
        .u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT, POISON);
  }

  @BothDoors
  void freshIoasReportsTheWholeAddressSpaceWithAlignmentOne(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.iovaRanges(ioas)).isEqualTo(new IovaRanges(List.of(EVERYTHING), 1));
  }

  @BothDoors
  void mappingsAndAllowedRangesDoNotChangeTheRanges(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0, USER_VA, 0x10000, Protection.READ);
    door.mapFixed(ioas, -0x1000L, USER_VA, 0x1000, Protection.READ);
    door.allowIovas(ioas, List.of(new IovaRange(0x100000, 0x1fffff)));

    assertThat(door.iovaRanges(ioas)).isEqualTo(new IovaRanges(List.of(EVERYTHING), 1));
  }

  @BothDoors
  void alignmentIs4096WhileHugePagesAreDisabled(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    door.setHugePages(ioas, false);
    assertThat(door.iovaRanges(ioas).alignment()).isEqualTo(4096);

    door.setHugePages(ioas, true);
    assertThat(door.iovaRanges(ioas).alignment()).isEqualTo(1);
  }

  @BothDoors
  void unknownIoasFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int destroyed = door.createIoas();
    door.destroy(destroyed);

    assertFails(Errno.ENOENT, () -> door.iovaRanges(destroyed));
    assertFails(Errno.ENOENT, () -> door.iovaRanges(99));
  }

  @Test
  void probeWithCapacityZeroAndNullArrayFailsWithEmsgsizeAfterWritingCountAndAlignment() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s = probe(ioas, 0, 0);

    assertErrno(s.ioctl(iommufd), Errno.EMSGSIZE);

    assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS)).isEqualTo(1);
    assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(1);
    assertThat(s.u32(IommuIoasIovaRanges.IOAS_ID)).isEqualTo(ioas);
    assertThat(s.u64(IommuIoasIovaRanges.ALLOWED_IOVAS)).isZero();
  }

  @Test
  void probeReportsTheCurrentAlignment() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.setHugePages(ioas, false);
    Struct s = probe(ioas, 0, 0);

    assertErrno(s.ioctl(iommufd), Errno.EMSGSIZE);
    assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(4096);
  }

  @Test
  void fetchWithEnoughCapacityFillsTheArrayAndSucceeds() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    MemorySegment array = rangeArray(new IovaRange(POISON, POISON));
    Struct s = probe(ioas, 1, array.address());

    assertOk(s.ioctl(iommufd));

    assertThat(RangeArray.get(array, 0)).isEqualTo(EVERYTHING);
    assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS)).isEqualTo(1);
    assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(1);
  }

  @Test
  void slotsBeyondTheCountAreLeftUntouched() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    IovaRange poison = new IovaRange(POISON, POISON);
    MemorySegment array = rangeArray(poison, poison, poison);
    Struct s = probe(ioas, 3, array.address());

    assertOk(s.ioctl(iommufd));

    assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS))
        .as("capacity replaced by the count")
        .isEqualTo(1);
    assertThat(RangeArray.get(array, 0)).isEqualTo(EVERYTHING);
    assertThat(RangeArray.get(array, 1)).isEqualTo(poison);
    assertThat(RangeArray.get(array, 2)).isEqualTo(poison);
  }

  @Test
  void capacityZeroNeverWritesTheArray() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    IovaRange poison = new IovaRange(POISON, POISON);
    MemorySegment array = rangeArray(poison);

    assertErrno(probe(ioas, 0, array.address()).ioctl(iommufd), Errno.EMSGSIZE);
    assertThat(RangeArray.get(array, 0)).isEqualTo(poison);
  }

  @Test
  void unwritableArrayFailsWithEfaultAndTheStructIsNotWrittenBack() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_READ);
      for (long array : new long[] {0, pages.page(0)}) {
        Struct s = probe(ioas, 1, array);

        assertErrno(s.ioctl(iommufd), Errno.EFAULT);

        assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS)).isEqualTo(1);
        assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(POISON);
      }
    }
  }

  @Test
  void respondFaultAfterFillingTheArrayFailsWithEfault() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    MemorySegment array = rangeArray(new IovaRange(POISON, POISON));
    try (NativePages pages = NativePages.map(2)) {
      // out_iova_alignment (offset 24) lies on a read-only page.
      Struct s =
          Struct.over(NativePages.segment(pages.page(1) - 24, 24), Command.IOMMU_IOAS_IOVA_RANGES)
              .u32(IommuIoasIovaRanges.IOAS_ID, ioas)
              .u32(IommuIoasIovaRanges.NUM_IOVAS, 1)
              .u64(IommuIoasIovaRanges.ALLOWED_IOVAS, array.address());
      pages.protect(1, NativePages.PROT_READ);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);

      assertThat(RangeArray.get(array, 0))
          .as("array written before the respond")
          .isEqualTo(EVERYTHING);
    }
  }

  @Test
  void respondFaultOfAProbeIsEfaultNotEmsgsize() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    try (NativePages pages = NativePages.map(2)) {
      Struct s =
          Struct.over(NativePages.segment(pages.page(1) - 24, 24), Command.IOMMU_IOAS_IOVA_RANGES)
              .u32(IommuIoasIovaRanges.IOAS_ID, ioas);
      pages.protect(1, NativePages.PROT_READ);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
    }
  }

  @Test
  void nonZeroReservedFieldFailsWithEopnotsuppBeforeTheIoasLookup() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();

    for (int id : new int[] {ioas, 99}) {
      Struct s = probe(id, 0, 0).u32(IommuIoasIovaRanges.RESERVED, 1);
      assertErrno(s.ioctl(iommufd), Errno.EOPNOTSUPP);
      assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS)).isZero();
      assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(POISON);
    }
  }

  @Test
  void unknownIoasFailsWithEnoentAndWritesNothing() {
    Iommufd iommufd = open();
    Struct s = probe(1, 0, 0);

    assertErrno(s.ioctl(iommufd), Errno.ENOENT);
    assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(POISON);
  }
}
