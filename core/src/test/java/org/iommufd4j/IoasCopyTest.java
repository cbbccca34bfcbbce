package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;

import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code IOMMU_IOAS_COPY} (ioas.c: iommufd_ioas_copy()): any fully and contiguously mapped source
 * range, one new area per source area touched (observed through what UNMAP accepts), permissions
 * judged by the original MAP, and the test-kernel flag bit 16.
 */
class IoasCopyTest extends ConformanceTest {
  private static final int R = IOMMU_IOAS_MAP_READABLE;
  private static final int FIXED = IOMMU_IOAS_MAP_FIXED_IOVA;
  private static final int MOCK_FLAGS_ACCESS_SYZ = 1 << 16;
  private static final long POISON = 0x5a5a_5a5a_5a5a_5a5aL;

  private Struct copyStruct(
      int flags, int dstId, long dstIova, int srcId, long srcIova, long length) {
    return struct(Command.IOMMU_IOAS_COPY)
        .u32(IommuIoasCopy.FLAGS, flags)
        .u32(IommuIoasCopy.DST_IOAS_ID, dstId)
        .u32(IommuIoasCopy.SRC_IOAS_ID, srcId)
        .u64(IommuIoasCopy.LENGTH, length)
        .u64(IommuIoasCopy.DST_IOVA, dstIova)
        .u64(IommuIoasCopy.SRC_IOVA, srcIova);
  }

  /** Three back-to-back 4-page areas at 0x10000, 0x14000, 0x18000 from unrelated memory. */
  private static int threeAdjacentAreas(Door door) {
    int src = door.createIoas();
    door.mapFixed(src, 0x10000, USER_VA, 0x4000, Protection.READ_WRITE);
    door.mapFixed(src, 0x14000, USER_VA + 0x10_0000, 0x4000, Protection.READ_WRITE);
    door.mapFixed(src, 0x18000, USER_VA + 0x20_0000, 0x4000, Protection.READ_WRITE);
    return src;
  }

  @BothDoors
  void copyOfAWholeMappingAppearsAtTheAllocatedIova(FrontDoor front) {
    Door door = open(front);
    int src = door.createIoas();
    int dst = door.createIoas();
    door.mapFixed(src, 0x10000, USER_VA, 0x2000, Protection.READ_WRITE);

    assertThat(door.copy(dst, src, 0x10000, 0x2000, Protection.READ_WRITE)).isEqualTo(0x2000);
    assertThat(door.unmap(dst, 0x2000, 0x2000)).isEqualTo(0x2000);
  }

  @BothDoors
  void copyWithinTheSameIoasSucceeds(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertThat(door.copyFixed(ioas, 0x20000, ioas, 0x10000, 0x1000, Protection.READ))
        .isEqualTo(0x20000);
    assertThat(door.unmapAll(ioas)).isEqualTo(0x2000);
  }

  @BothDoors
  void automaticPlacementUsesTheSourceUserAddressAsHint(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA + 0x800, 0x1000, Protection.READ);

    // hint = USER_VA + 0x800, not the source IOVA 0x10000: A = 0x800 and the offset 0x800 stays.
    assertThat(door.copy(ioas, ioas, 0x10000, 0x800, Protection.READ)).isEqualTo(0x1800);
  }

  @BothDoors
  void subRangeSpanningThreeAreasCreatesOneAreaPerSourceArea(FrontDoor front) {
    Door door = open(front);
    int src = threeAdjacentAreas(door);
    int dst = door.createIoas();

    door.copyFixed(dst, 0x100000, src, 0x12000, 0x8000, Protection.READ);

    // Slices: 0x2000 of the first area, all 0x4000 of the second, 0x2000 of the third.
    assertFails(Errno.ENOENT, () -> door.unmap(dst, 0x100000, 0x1000));
    assertFails(Errno.ENOENT, () -> door.unmap(dst, 0x101000, 0x2000));
    assertFails(Errno.EEXIST, () -> door.mapFixed(dst, 0x107fff, USER_VA, 1, Protection.READ));
    assertThat(door.mapFixed(dst, 0x108000, USER_VA, 1, Protection.READ)).isEqualTo(0x108000);
    assertThat(door.unmap(dst, 0x102000, 0x4000)).isEqualTo(0x4000);
    assertThat(door.unmap(dst, 0x100000, 0x2000)).isEqualTo(0x2000);
    assertThat(door.unmap(dst, 0x106000, 0x2000)).isEqualTo(0x2000);
    assertThat(door.unmap(src, 0x10000, 0xc000)).as("the source is unchanged").isEqualTo(0xc000);
  }

  @BothDoors
  void copyMayStartAndEndInsideOneArea(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x4000, Protection.READ);

    assertThat(door.copyFixed(ioas, 0x30000, ioas, 0x10001, 0x1ffe, Protection.READ))
        .isEqualTo(0x30000);
    assertThat(door.unmap(ioas, 0x30000, 0x1ffe)).isEqualTo(0x1ffe);
  }

  @BothDoors
  void unmappingTheOriginalLeavesTheCopy(FrontDoor front) {
    Door door = open(front);
    int src = door.createIoas();
    int dst = door.createIoas();
    door.mapFixed(src, 0x10000, USER_VA, 0x2000, Protection.READ);
    door.copyFixed(dst, 0x10000, src, 0x10000, 0x2000, Protection.READ);

    door.destroy(src);

    assertThat(door.copyFixed(dst, 0x40000, dst, 0x10000, 0x2000, Protection.READ))
        .isEqualTo(0x40000);
    assertThat(door.unmapAll(dst)).isEqualTo(0x4000);
  }

  @BothDoors
  void writeableCopyOfReadOnlyMemoryFailsWithEperm(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EPERM, () -> door.copy(ioas, ioas, 0x10000, 0x1000, Protection.WRITE));
    assertFails(Errno.EPERM, () -> door.copy(ioas, ioas, 0x10000, 0x1000, Protection.READ_WRITE));
    assertThat(door.unmapAll(ioas)).as("nothing was added").isEqualTo(0x1000);
  }

  @BothDoors
  void writePermissionIsJudgedByTheOriginalMapNotByIntermediateCopies(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.WRITE);
    door.copyFixed(ioas, 0x20000, ioas, 0x10000, 0x1000, Protection.READ);

    assertThat(door.copyFixed(ioas, 0x30000, ioas, 0x20000, 0x1000, Protection.READ_WRITE))
        .isEqualTo(0x30000);
  }

  @BothDoors
  void failingSliceRemovesEveryAreaTheCopyInserted(FrontDoor front) {
    Door door = open(front);
    int src = door.createIoas();
    int dst = door.createIoas();
    door.mapFixed(src, 0x10000, USER_VA, 0x1000, Protection.READ_WRITE);
    door.mapFixed(src, 0x11000, USER_VA, 0x1000, Protection.READ);

    assertFails(
        Errno.EPERM,
        () -> door.copyFixed(dst, 0x50000, src, 0x10000, 0x2000, Protection.READ_WRITE));

    assertThat(door.unmapAll(dst)).isZero();
  }

  @BothDoors
  void sourceRangeWithAGapFailsWithEnoent(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);
    door.mapFixed(ioas, 0x12000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.ENOENT, () -> door.copy(ioas, ioas, 0x10000, 0x3000, Protection.READ));
    assertFails(Errno.ENOENT, () -> door.copy(ioas, ioas, 0x11000, 0x1000, Protection.READ));
    assertFails(Errno.ENOENT, () -> door.copy(ioas, ioas, 0x0f000, 0x2000, Protection.READ));
    assertFails(Errno.ENOENT, () -> door.copy(ioas, ioas, 0x12000, 0x1001, Protection.READ));
  }

  @BothDoors
  void zeroLengthFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EINVAL, () -> door.copy(ioas, ioas, 0x10000, 0, Protection.READ));
  }

  @BothDoors
  void allOnesInLengthOrIovasFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EOVERFLOW, () -> door.copy(ioas, ioas, 0x10000, -1L, Protection.READ));
    assertFails(Errno.EOVERFLOW, () -> door.copy(ioas, ioas, -1L, 0x1000, Protection.READ));
    assertFails(
        Errno.EOVERFLOW, () -> door.copyFixed(ioas, -1L, ioas, 0x10000, 0x1000, Protection.READ));
  }

  @BothDoors
  void sourceRangeWrappingFailsWithEoverflow(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, -0x1000L, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EOVERFLOW, () -> door.copy(ioas, ioas, -0x1000L, 0x2000, Protection.READ));
  }

  @BothDoors
  void destinationErrorsAreThoseOfMap(FrontDoor front) {
    Door door = open(front);
    int src = door.createIoas();
    int dst = door.createIoas();
    door.mapFixed(src, 0x10000, USER_VA, 0x2000, Protection.READ);
    door.mapFixed(dst, 0x20000, USER_VA, 0x1000, Protection.READ);

    assertFails(
        Errno.EEXIST, () -> door.copyFixed(dst, 0x1f000, src, 0x10000, 0x2000, Protection.READ));
    assertFails(
        Errno.EOVERFLOW,
        () -> door.copyFixed(dst, -0x1000L, src, 0x10000, 0x2000, Protection.READ));
    door.setHugePages(dst, false);
    assertFails(Errno.EINVAL, () -> door.copy(dst, src, 0x10000, 0x800, Protection.READ));
    assertFails(
        Errno.EINVAL, () -> door.copyFixed(dst, 0x30800, src, 0x10000, 0x1000, Protection.READ));
  }

  @BothDoors
  void sliceWithAnInPageOffsetMisalignedToTheDestinationFailsWithEinval(FrontDoor front) {
    Door door = open(front);
    int src = door.createIoas();
    int dst = door.createIoas();
    door.mapFixed(src, 0x10000, USER_VA + 0x10, 0x2000, Protection.READ);
    door.setHugePages(dst, false);

    assertFails(
        Errno.EINVAL, () -> door.copyFixed(dst, 0x1000, src, 0x10000, 0x1000, Protection.READ));
    assertFails(
        Errno.EPERM,
        () -> door.copyFixed(dst, 0x1000, src, 0x10000, 0x1000, Protection.READ_WRITE));
    assertThat(door.copyFixed(dst, 0x1000, src, 0x10ff0, 0x1000, Protection.READ))
        .as("a slice starting on a page boundary of the memory")
        .isEqualTo(0x1000);
  }

  @BothDoors
  void missingIoasesFailWithEnoent(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    int destroyed = door.createIoas();
    door.destroy(destroyed);
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.ENOENT, () -> door.copy(ioas, destroyed, 0x10000, 0x1000, Protection.READ));
    assertFails(Errno.ENOENT, () -> door.copy(destroyed, ioas, 0x10000, 0x1000, Protection.READ));
  }

  @BothDoors
  void sourceChecksComeBeforeTheDestinationLookup(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    int destroyed = door.createIoas();
    door.destroy(destroyed);
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertFails(Errno.EINVAL, () -> door.copy(destroyed, ioas, 0x10000, 0, Protection.READ));
    assertFails(
        Errno.EOVERFLOW, () -> door.copy(destroyed, ioas, -0x1000L, 0x2000, Protection.READ));
    assertFails(Errno.ENOENT, () -> door.copy(ioas, destroyed, 0x10000, 0, Protection.READ));
    assertFails(
        Errno.EOVERFLOW, () -> door.copy(destroyed, destroyed, 0x10000, -1L, Protection.READ));
  }

  // ---- byte ABI only: flags ---------------------------------------------------------------

  @ParameterizedTest(name = "flags=0x{0}")
  @ValueSource(strings = {"8", "80000004", "10004"})
  void unknownFlagFailsWithEopnotsupp(String flags) {
    Iommufd iommufd = open(Configuration.builder().testAbi(false).build());
    Struct s = copyStruct(Integer.parseUnsignedInt(flags, 16), 99, 0, 99, -1L, -1L);

    assertErrno(s.ioctl(iommufd), Errno.EOPNOTSUPP);
  }

  @Test
  void copyWithoutReadOrWriteFailsWithEinval() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertErrno(
        copyStruct(FIXED, ioas, 0x20000, ioas, 0x10000, 0x1000).ioctl(iommufd), Errno.EINVAL);
    assertErrno(copyStruct(0, 99, 0, 99, 0x10000, 0x1000).ioctl(iommufd), Errno.EINVAL);
  }

  @Test
  void destinationIovaOfAllOnesFailsWithEoverflowEvenWithoutFixedIova() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertErrno(copyStruct(R, ioas, -1L, ioas, 0x10000, 0x1000).ioctl(iommufd), Errno.EOVERFLOW);
    assertErrno(copyStruct(0, 99, -1L, 99, 0x10000, 0x1000).ioctl(iommufd), Errno.EOVERFLOW);
  }

  @Test
  void syzFlagOnATestKernelPicksTheSourceByAreaIndexAndOffset() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x2000, Protection.READ);
    door.mapFixed(ioas, 0x20000, USER_VA, 0x2000, Protection.READ);

    // area 1 (0x20000) + offset 0x1000: only the last page of the second area is mapped there
    Struct s =
        copyStruct(
            R | FIXED | MOCK_FLAGS_ACCESS_SYZ, ioas, 0x50000, ioas, 1 | (0x1000L << 32), 0x1000);
    assertOk(s.ioctl(iommufd));
    assertThat(s.u64(IommuIoasCopy.SRC_IOVA))
        .as("src_iova written back as given")
        .isEqualTo(1 | (0x1000L << 32));
    assertThat(door.unmap(ioas, 0x50000, 0x1000)).isEqualTo(0x1000);

    // 0x1001 bytes from there would run past the second area
    assertErrno(
        copyStruct(
                R | FIXED | MOCK_FLAGS_ACCESS_SYZ, ioas, 0x50000, ioas, 1 | (0x1000L << 32), 0x1001)
            .ioctl(iommufd),
        Errno.ENOENT);
  }

  @Test
  void syzFlagWithTooFewAreasCopiesFromIovaZero() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    Struct s = copyStruct(R | FIXED | MOCK_FLAGS_ACCESS_SYZ, ioas, 0x50000, ioas, 5, 0x1000);
    assertErrno(s.ioctl(iommufd), Errno.ENOENT);

    door.mapFixed(ioas, 0, USER_VA, 0x1000, Protection.READ);
    assertOk(s.ioctl(iommufd));
  }

  @Test
  void syzFlagWithAMissingSourceIoasFailsWithEnoent() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();

    assertErrno(
        copyStruct(R | MOCK_FLAGS_ACCESS_SYZ, ioas, 0, 99, 0, 0x1000).ioctl(iommufd), Errno.ENOENT);
  }

  @Test
  void syzFlagOnAProductionKernelFailsWithEopnotsupp() {
    Iommufd iommufd = open(Configuration.builder().testAbi(false).build());
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    assertErrno(
        copyStruct(R | FIXED | MOCK_FLAGS_ACCESS_SYZ, ioas, 0x50000, ioas, 0, 0x1000)
            .ioctl(iommufd),
        Errno.EOPNOTSUPP);
  }

  // ---- respond ---------------------------------------------------------------------------

  @Test
  void destinationIovaIsWrittenBackAndNothingOnFailure() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);

    Struct ok = copyStruct(R, ioas, POISON, ioas, 0x10000, 0x1000);
    assertOk(ok.ioctl(iommufd));
    assertThat(ok.u64(IommuIoasCopy.DST_IOVA)).isEqualTo(0x1000);

    Struct failed = copyStruct(R, ioas, POISON, ioas, 0x30000, 0x1000);
    byte[] before = failed.bytes();
    assertErrno(failed.ioctl(iommufd), Errno.ENOENT);
    assertThat(failed.bytes()).isEqualTo(before);
  }

  @Test
  void respondFaultFailsWithEfaultButTheCopyStays() {
    Iommufd iommufd = open();
    RawDoor door = new RawDoor(iommufd);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);
    try (NativePages pages = NativePages.map(2)) {
      // dst_iova and src_iova (offsets 24..39) lie on a page made read-only after filling.
      long at = pages.page(1) - 24;
      Struct.over(NativePages.segment(at, 40), Command.IOMMU_IOAS_COPY)
          .u32(IommuIoasCopy.FLAGS, R | FIXED)
          .u32(IommuIoasCopy.DST_IOAS_ID, ioas)
          .u32(IommuIoasCopy.SRC_IOAS_ID, ioas)
          .u64(IommuIoasCopy.LENGTH, 0x1000)
          .u64(IommuIoasCopy.DST_IOVA, 0x50000)
          .u64(IommuIoasCopy.SRC_IOVA, 0x10000);
      pages.protect(1, NativePages.PROT_READ);
      Struct writable = Struct.over(NativePages.segment(at, 24), Command.IOMMU_IOAS_COPY);

      assertErrno(writable.ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(door.unmap(ioas, 0x50000, 0x1000)).isEqualTo(0x1000);
  }
}
