package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import java.util.List;
import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code IOMMU_IOAS_ALLOC} (ioas.c: iommufd_ioas_alloc_ioctl()) and the id it reports (main.c:
 * _iommufd_object_alloc(), iommufd_object_finalize()).
 */
class IoasAllocTest extends ConformanceTest {

  @BothDoors
  void firstIoasGetsIdOneAndLaterOnesCountUp(FrontDoor front) {
    Door door = open(front);

    assertThat(new int[] {door.createIoas(), door.createIoas(), door.createIoas()})
        .containsExactly(1, 2, 3);
  }

  @BothDoors
  void freshIoasIsEmptyWithWholeAddressSpaceAlignmentOneAndHugePages(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();

    assertThat(door.iovaRanges(ioas)).isEqualTo(new IovaRanges(List.of(new IovaRange(0, -1L)), 1));
    assertThat(door.hugePages(ioas)).isTrue();
    assertThat(door.unmapAll(ioas)).isZero();
  }

  @BothDoors
  void eachContextHasItsOwnIdSpace(FrontDoor front) {
    Door first = open(front);
    Door second = open(front);
    first.createIoas();
    first.createIoas();

    assertThat(second.createIoas()).isEqualTo(1);
  }

  @ParameterizedTest(name = "flags=0x{0}")
  @ValueSource(strings = {"1", "2", "80000000", "ffffffff"})
  void nonZeroFlagsFailWithEopnotsuppAndConsumeNoId(String flags) {
    Iommufd iommufd = open();
    Struct s =
        struct(Command.IOMMU_IOAS_ALLOC)
            .u32(IommuIoasAlloc.FLAGS, Integer.parseUnsignedInt(flags, 16))
            .u32(IommuIoasAlloc.OUT_IOAS_ID, 0x5a5a5a5a);

    assertErrno(s.ioctl(iommufd), Errno.EOPNOTSUPP);
    assertThat(s.u32(IommuIoasAlloc.OUT_IOAS_ID)).as("nothing written").isEqualTo(0x5a5a5a5a);
    assertThat(new RawDoor(iommufd).createIoas()).isEqualTo(1);
  }

  @Test
  void outIoasIdIsWrittenWhateverItHeldBefore() {
    Iommufd iommufd = open();
    Struct s = struct(Command.IOMMU_IOAS_ALLOC).u32(IommuIoasAlloc.OUT_IOAS_ID, 77);

    assertOk(s.ioctl(iommufd));

    assertThat(s.u32(IommuIoasAlloc.OUT_IOAS_ID)).isEqualTo(1);
    assertThat(s.u32(0)).as("size written back unchanged").isEqualTo(12);
    assertThat(s.u32(IommuIoasAlloc.FLAGS)).isZero();
  }

  @Test
  void respondFaultFailsWithEfaultAndReleasesTheIdAgain() {
    Iommufd iommufd = open();
    try (NativePages pages = NativePages.map(2)) {
      pages.protect(1, NativePages.PROT_READ);
      // out_ioas_id (offset 8) lies on the read-only page.
      Struct s = Struct.over(NativePages.segment(pages.page(1) - 8, 8), Command.IOMMU_IOAS_ALLOC);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(objectCount(iommufd)).isZero();
    assertThat(new RawDoor(iommufd).createIoas()).as("id 1 is free again").isEqualTo(1);
  }
}
