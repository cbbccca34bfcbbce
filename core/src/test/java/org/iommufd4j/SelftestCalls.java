package org.iommufd4j;

import static org.iommufd4j.ErrnoAssertions.assertOk;

import java.lang.foreign.Arena;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;

/**
 * The IOAS commands and {@code IOMMU_TEST_CMD} ops that the access tests issue, through the byte
 * ABI of one context. Methods named after an op return its ioctl result (0 or {@code -errno});
 * {@code ...Ok} variants assert success and return the output.
 */
final class SelftestCalls {
  static final int RW =
      IommuIoasMap.IOMMU_IOAS_MAP_READABLE | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
  static final int READ = IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
  static final int WRITE = IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;

  final Iommufd iommufd;
  private final Arena arena;

  /** The last struct issued, to read outputs from. */
  Struct last;

  SelftestCalls(Iommufd iommufd, Arena arena) {
    this.iommufd = iommufd;
    this.arena = arena;
  }

  private int issue(Struct s) {
    last = s;
    return s.ioctl(iommufd);
  }

  private Struct test(int op, int id) {
    return Struct.of(arena, Command.IOMMU_TEST_CMD)
        .u32(IommuTestCmd.OP, op)
        .u32(IommuTestCmd.ID, id);
  }

  int ioasAlloc() {
    Struct s = Struct.of(arena, Command.IOMMU_IOAS_ALLOC);
    assertOk(issue(s));
    return s.u32(IommuIoasAlloc.OUT_IOAS_ID);
  }

  int destroy(int id) {
    return issue(Struct.of(arena, Command.IOMMU_DESTROY).u32(IommuDestroy.ID, id));
  }

  /** FIXED_IOVA map of {@code length} bytes at {@code userVa} with {@code prot} (READ/WRITE). */
  int map(int ioas, long iova, long userVa, long length, int prot) {
    return issue(
        Struct.of(arena, Command.IOMMU_IOAS_MAP)
            .u32(IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA | prot)
            .u32(IommuIoasMap.IOAS_ID, ioas)
            .u64(IommuIoasMap.USER_VA, userVa)
            .u64(IommuIoasMap.LENGTH, length)
            .u64(IommuIoasMap.IOVA, iova));
  }

  /** Automatic-IOVA read-write map; returns the IOVA. */
  long mapAutoOk(int ioas, long userVa, long length) {
    Struct s =
        Struct.of(arena, Command.IOMMU_IOAS_MAP)
            .u32(IommuIoasMap.FLAGS, RW)
            .u32(IommuIoasMap.IOAS_ID, ioas)
            .u64(IommuIoasMap.USER_VA, userVa)
            .u64(IommuIoasMap.LENGTH, length);
    assertOk(issue(s));
    return s.u64(IommuIoasMap.IOVA);
  }

  int copy(int dstIoas, long dstIova, int srcIoas, long srcIova, long length, int flags) {
    return issue(
        Struct.of(arena, Command.IOMMU_IOAS_COPY)
            .u32(IommuIoasCopy.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA | flags)
            .u32(IommuIoasCopy.DST_IOAS_ID, dstIoas)
            .u32(IommuIoasCopy.SRC_IOAS_ID, srcIoas)
            .u64(IommuIoasCopy.LENGTH, length)
            .u64(IommuIoasCopy.DST_IOVA, dstIova)
            .u64(IommuIoasCopy.SRC_IOVA, srcIova));
  }

  int unmap(int ioas, long iova, long length) {
    return issue(
        Struct.of(arena, Command.IOMMU_IOAS_UNMAP)
            .u32(IommuIoasUnmap.IOAS_ID, ioas)
            .u64(IommuIoasUnmap.IOVA, iova)
            .u64(IommuIoasUnmap.LENGTH, length));
  }

  /** The bytes the last successful UNMAP reported. */
  long unmapped() {
    return last.u64(IommuIoasUnmap.LENGTH);
  }

  long iovaAlignment(int ioas) {
    Struct s =
        Struct.of(arena, Command.IOMMU_IOAS_IOVA_RANGES).u32(IommuIoasIovaRanges.IOAS_ID, ioas);
    issue(s); // EMSGSIZE with capacity 0, the alignment is written anyway
    return s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT);
  }

  /** MOCK_DOMAIN on {@code id}: {stdev, hwpt, idev}. */
  int[] mockDomainOk(int id) {
    Struct s = test(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, id);
    assertOk(issue(s));
    return new int[] {
      s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID),
      s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID),
      s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID)
    };
  }

  int checkRefs(long uptr, long length, int refs) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS, 0)
            .u64(IommuTestCmd.CHECK_REFS_LENGTH, length)
            .u64(IommuTestCmd.CHECK_REFS_UPTR, uptr)
            .u32(IommuTestCmd.CHECK_REFS_REFS, refs));
  }

  int checkMap(int hwpt, long iova, long uptr, long length) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP, hwpt)
            .u64(IommuTestCmd.CHECK_MAP_IOVA, iova)
            .u64(IommuTestCmd.CHECK_MAP_LENGTH, length)
            .u64(IommuTestCmd.CHECK_MAP_UPTR, uptr));
  }

  int createAccess(int ioas, int flags) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, ioas)
            .u32(IommuTestCmd.CREATE_ACCESS_FLAGS, flags));
  }

  /** CREATE_ACCESS that must succeed; returns the access fd. */
  int createAccessOk(int ioas, int flags) {
    assertOk(createAccess(ioas, flags));
    return last.u32(IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD);
  }

  int accessPages(int fd, int flags, long iova, long length, long uptr) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES, fd)
            .u32(IommuTestCmd.ACCESS_PAGES_FLAGS, flags)
            .u64(IommuTestCmd.ACCESS_PAGES_IOVA, iova)
            .u64(IommuTestCmd.ACCESS_PAGES_LENGTH, length)
            .u64(IommuTestCmd.ACCESS_PAGES_UPTR, uptr)
            .u32(IommuTestCmd.ACCESS_PAGES_OUT_ACCESS_PAGES_ID, -1));
  }

  /** ACCESS_PAGES that must succeed; returns the item id. */
  int accessPagesOk(int fd, int flags, long iova, long length, long uptr) {
    assertOk(accessPages(fd, flags, iova, length, uptr));
    return last.u32(IommuTestCmd.ACCESS_PAGES_OUT_ACCESS_PAGES_ID);
  }

  int destroyAccessPages(int fd, int itemId) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, fd)
            .u32(IommuTestCmd.DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID, itemId));
  }

  int accessRw(int fd, long iova, long length, long uptr, int flags) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW, fd)
            .u64(IommuTestCmd.ACCESS_RW_IOVA, iova)
            .u64(IommuTestCmd.ACCESS_RW_LENGTH, length)
            .u64(IommuTestCmd.ACCESS_RW_UPTR, uptr)
            .u32(IommuTestCmd.ACCESS_RW_FLAGS, flags));
  }

  int replaceIoas(int fd, int ioas) {
    return issue(
        test(IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, fd)
            .u32(IommuTestCmd.ACCESS_REPLACE_IOAS_IOAS_ID, ioas));
  }
}
