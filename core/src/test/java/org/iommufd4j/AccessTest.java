package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.SelftestCalls.READ;
import static org.iommufd4j.SelftestCalls.RW;
import static org.iommufd4j.SelftestCalls.WRITE;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_ACCESS_RW_WRITE;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_WRITE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.engine.Host;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The access test ops through the byte ABI, on real memory of this process (device.c:
 * iommufd_access_*(); selftest.c: iommufd_test_create_access(), ...,
 * iommufd_test_access_replace_ioas()). Ports the selftests {@code access_pin}, {@code
 * access_pin_unmap}, {@code access_rw}, {@code access_rw_unaligned}, {@code access_domain_destory}
 * and {@code user_copy}. Every test runs on a private host, and ends with no pin or charge left.
 */
class AccessTest extends ConformanceTest {
  private static final long BUFFER_SIZE = 16 * PAGE;
  private static final long BASE = IommuTestCmd.MOCK_APERTURE_START;
  private static final int PIN = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;

  private Iommufd iommufd;
  private SelftestCalls t;
  private Host host;
  private MemorySegment buffer;
  private final List<Integer> accessFds = new ArrayList<>();

  @BeforeEach
  void openContext() {
    iommufd = open(Configuration.builder().privateHost(true).build());
    t = new SelftestCalls(iommufd, arena);
    host = ((EmulatedIommufd) iommufd).context().host();
    buffer = arena.allocate(BUFFER_SIZE, 1 << 16);
    for (long i = 0; i < BUFFER_SIZE; i++) {
      buffer.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7 + (i >>> 12)));
    }
  }

  @AfterEach
  void closeEverythingAndCheckNothingLeaked() {
    EmulatedIommufd emulated = (EmulatedIommufd) iommufd;
    if (!emulated.context().isClosed()) {
      assertThat(emulated.checkInvariants()).as("engine invariants").isEmpty();
    }
    for (int fd : accessFds) {
      iommufd.closeFd(fd);
    }
    iommufd.close();
    assertThat(emulated.context().isTornDown()).isTrue();
    assertThat(host.totalPins()).as("pins left after close").isZero();
  }

  private int createAccess(int ioas, int flags) {
    int fd = t.createAccessOk(ioas, flags);
    accessFds.add(fd);
    return fd;
  }

  private long pins(long va) {
    return host.pinCount(((EmulatedIommufd) iommufd).caller().memory(), va);
  }

  private long page(int n) {
    return buffer.address() + n * PAGE;
  }

  // ---- CREATE_ACCESS (selftest.c: iommufd_test_create_access()) ---------------------------------

  @Test
  void createAccessReturnsAnFdAndConsumesAnIdThatUserSpaceCannotDestroy() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, 0);

    assertThat(fd).isEqualTo(VirtualFileTable.FIRST_FD);
    assertThat(t.ioasAlloc()).as("id 2 went to the hidden access object").isEqualTo(3);
    assertErrno(t.destroy(2), Errno.EBUSY);
    assertErrno(t.destroy(ioas), Errno.EBUSY);

    assertThat(iommufd.closeFd(fd)).isZero();
    assertOk(t.destroy(ioas));
    assertThat(t.ioasAlloc()).as("the access id is free again").isEqualTo(1);
    assertThat(t.ioasAlloc()).isEqualTo(2);
  }

  @Test
  void createAccessWithUnknownFlagsFailsWithEopnotsuppBeforeTheIoasLookup() {
    assertErrno(t.createAccess(99, 2), Errno.EOPNOTSUPP);
    assertErrno(t.createAccess(99, 1 << 31), Errno.EOPNOTSUPP);
  }

  @Test
  void createAccessOnAMissingIoasFailsWithEnoentAndLeavesNothingBehind() {
    int ioas = t.ioasAlloc();
    assertErrno(t.createAccess(ioas + 1, 0), Errno.ENOENT);
    assertErrno(t.createAccess(0, PIN), Errno.ENOENT);

    assertThat(objectCount(iommufd)).isEqualTo(1);
    assertThat(t.ioasAlloc()).isEqualTo(2);
    assertThat(t.createAccessOk(ioas, 0))
        .as("the fd number was released")
        .isEqualTo(VirtualFileTable.FIRST_FD);
    accessFds.add(VirtualFileTable.FIRST_FD);
  }

  @Test
  void createAccessRespondFaultFailsWithEfaultAndUndoesEverything() {
    int ioas = t.ioasAlloc();
    try (NativePages pages = NativePages.map(2)) {
      pages.protect(1, NativePages.PROT_READ);
      // out_access_fd (offset 16) is the first byte of the read-only page.
      MemorySegment head = NativePages.segment(pages.page(1) - 16, 16);
      Struct s =
          Struct.over(head, Command.IOMMU_TEST_CMD)
              .u32(IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS)
              .u32(IommuTestCmd.ID, ioas);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(objectCount(iommufd)).isEqualTo(1);
    assertThat(t.iovaAlignment(ioas)).isEqualTo(1);
    assertOk(t.destroy(ioas));
    int again = t.ioasAlloc();
    assertThat(createAccess(again, PIN)).as("fd released").isEqualTo(VirtualFileTable.FIRST_FD);
  }

  @Test
  void aPinningAccessRaisesTheIoasAlignmentTo4096UntilItsFdIsClosed() {
    int ioas = t.ioasAlloc();
    int plain = createAccess(ioas, 0);
    assertThat(t.iovaAlignment(ioas)).isEqualTo(1);
    int pinning = createAccess(ioas, PIN);
    assertThat(t.iovaAlignment(ioas)).isEqualTo(4096);
    assertErrno(t.map(ioas, 0x10800, page(0) + 2048, 2048, RW), Errno.EINVAL);

    assertThat(iommufd.closeFd(pinning)).isZero();
    assertThat(t.iovaAlignment(ioas)).isEqualTo(1);
    assertThat(iommufd.closeFd(plain)).isZero();
    assertThat(iommufd.closeFd(plain)).as("closing twice").isEqualTo(-Errno.EBADF.number());
  }

  @Test
  void aPinningAccessCannotJoinAnIoasWithAnAreaAlignedTo2KibOnlyButAPlainOneCan() {
    int ioas = t.ioasAlloc();
    t.mockDomainOk(ioas);
    assertOk(t.map(ioas, BASE + 2048, page(0) + 2048, 2048, RW));

    assertErrno(t.createAccess(ioas, PIN), Errno.EADDRINUSE);
    int fd = createAccess(ioas, 0);

    // access_rw_unaligned: reads through a non-pinning access work at any offset.
    MemorySegment out = arena.allocate(100);
    assertOk(t.accessRw(fd, BASE + 2048 + 1000, 100, out.address(), 0));
    assertThat(out.mismatch(buffer.asSlice(3048, 100))).isEqualTo(-1);
  }

  @Test
  void opsOnAClosedOrUnknownFdFailWithEbadfd() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    iommufd.closeFd(fd);
    for (int bad : new int[] {fd, 0, -1, 3, VirtualFileTable.FIRST_FD + 1}) {
      assertErrno(t.destroyAccessPages(bad, 0), Errno.EBADFD);
      assertErrno(t.accessPages(bad, 0, 0, PAGE, 0), Errno.EBADFD);
      assertErrno(t.accessRw(bad, 0, 1, buffer.address(), 0), Errno.EBADFD);
      assertErrno(t.replaceIoas(bad, ioas), Errno.EBADFD);
    }
  }

  // ---- ACCESS_PAGES and DESTROY_ACCESS_PAGES (selftest.c: iommufd_test_access_pages()) ----------

  /** Selftest {@code access_pin}, first part: items, ids and pin counts. */
  @Test
  void accessPagesPinsOncePerPageAndItemIdsCountFromZero() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    long iova = t.mapAutoOk(ioas, buffer.address(), BUFFER_SIZE);
    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));

    for (int npages = 1; npages < 16; npages++) {
      int id = t.accessPagesOk(fd, MOCK_FLAGS_ACCESS_WRITE, iova, npages * PAGE, page(0));
      assertOk(t.checkRefs(page(0), npages * PAGE, 1));
      assertOk(t.checkRefs(page(npages), BUFFER_SIZE - npages * PAGE, 0));
      int twice = t.accessPagesOk(fd, 0, iova, npages * PAGE, page(0));
      assertThat(twice).isEqualTo(id + 1);
      assertOk(t.checkRefs(page(0), npages * PAGE, 1));
      assertOk(t.destroyAccessPages(fd, id));
      assertOk(t.checkRefs(page(0), npages * PAGE, 1));
      assertOk(t.destroyAccessPages(fd, twice));
      assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));
      assertErrno(t.destroyAccessPages(fd, twice), Errno.ENOENT);
    }
    assertThat(t.accessPagesOk(fd, 0, iova, PAGE, 0)).isEqualTo(30);
    assertOk(t.unmap(ioas, iova, BUFFER_SIZE));
  }

  @Test
  void itemIdsArePerAccessFd() {
    int ioas = t.ioasAlloc();
    long iova = t.mapAutoOk(ioas, buffer.address(), BUFFER_SIZE);
    int first = createAccess(ioas, PIN);
    int second = createAccess(ioas, PIN);

    assertThat(t.accessPagesOk(first, 0, iova, PAGE, 0)).isZero();
    assertThat(t.accessPagesOk(first, 0, iova, PAGE, 0)).isEqualTo(1);
    assertThat(t.accessPagesOk(second, 0, iova, PAGE, 0)).isZero();
    assertErrno(t.destroyAccessPages(second, 1), Errno.ENOENT);
    assertThat(pins(page(0))).isEqualTo(1);
  }

  @Test
  void accessPagesChecksLengthThenFlagsThenFdThenPinning() {
    int ioas = t.ioasAlloc();
    int plain = createAccess(ioas, 0);
    long tooLong = (16L << 20) + 1;

    assertErrno(t.accessPages(99, 1 << 5, 0, tooLong, 0), Errno.ENOMEM);
    assertErrno(t.accessPages(99, 1 << 5, 0, 16L << 20, 0), Errno.EOPNOTSUPP);
    assertErrno(t.accessPages(99, MOCK_FLAGS_ACCESS_WRITE, 0, 16L << 20, 0), Errno.EBADFD);
    assertErrno(t.accessPages(plain, 0, 0, PAGE, 0), Errno.EOPNOTSUPP);
    assertErrno(t.accessPages(plain, 0, 0, -1L, 0), Errno.ENOMEM);
  }

  @Test
  void accessPagesRangeErrorsFollowThePinOrder() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    assertOk(t.map(ioas, 0x100000, buffer.address(), 4 * PAGE, RW));
    assertOk(t.map(ioas, 0x200000, page(4), 2 * PAGE, READ));
    assertOk(t.map(ioas, 0x300000, page(6), 2 * PAGE, WRITE));

    assertErrno(t.accessPages(fd, 0, 0x100000, 0, 0), Errno.EINVAL);
    assertErrno(t.accessPages(fd, 0, -PAGE, 2 * PAGE, 0), Errno.EOVERFLOW);
    assertErrno(t.accessPages(fd, 0, 0x180000, PAGE, 0), Errno.ENOENT);
    assertErrno(t.accessPages(fd, 0, 0x100000, 5 * PAGE, 0), Errno.ENOENT);
    assertErrno(t.accessPages(fd, 0, 0x100800, PAGE, 0), Errno.EINVAL);
    assertErrno(t.accessPages(fd, MOCK_FLAGS_ACCESS_WRITE, 0x200000, PAGE, 0), Errno.EPERM);
    assertErrno(t.accessPages(fd, 0, 0x300000, PAGE, 0), Errno.EPERM);
    assertThat(t.accessPagesOk(fd, 0, 0x200000, PAGE, page(4)))
        .as("failed calls use no ids")
        .isZero();
    assertThat(t.accessPagesOk(fd, MOCK_FLAGS_ACCESS_WRITE, 0x300000, PAGE, page(6))).isEqualTo(1);
    assertOk(t.checkRefs(page(0), 4 * PAGE, 0));
    assertOk(t.checkRefs(page(4), PAGE, 1));
    assertOk(t.checkRefs(page(5), PAGE, 0));
  }

  @Test
  void accessPagesAcrossAdjacentAreasPinsEachPortion() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    assertOk(t.map(ioas, 0x100000, page(8), 2 * PAGE, RW));
    assertOk(t.map(ioas, 0x102000, page(0), 3 * PAGE, RW));

    int id = t.accessPagesOk(fd, 0, 0x101000, 3 * PAGE - 5, 0);
    assertThat(pins(page(8))).isZero();
    assertThat(pins(page(9))).isEqualTo(1);
    assertThat(pins(page(0))).isEqualTo(1);
    assertThat(pins(page(1))).isEqualTo(1);
    assertThat(pins(page(2))).isZero();
    assertErrno(t.accessPages(fd, 0, 0x101000, 3 * PAGE, page(9)), Errno.EBADE);
    assertOk(t.destroyAccessPages(fd, id));
    assertThat(host.totalPins()).isZero();
  }

  @Test
  void accessPagesComparesEveryPinnedPageWithTheCallersPagesAtUptr() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    long iova = t.mapAutoOk(ioas, page(2), 4 * PAGE);

    assertErrno(t.accessPages(fd, 0, iova, 4 * PAGE, page(3)), Errno.EBADE);
    assertErrno(t.accessPages(fd, 0, iova, 4 * PAGE, page(0)), Errno.EBADE);
    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));
    try (NativePages hole = NativePages.map(1)) {
      hole.unmap(0);
      assertErrno(t.accessPages(fd, 0, iova, PAGE, hole.page(0)), Errno.EFAULT);
    }
    assertThat(t.accessPagesOk(fd, 0, iova, 4 * PAGE, page(2) + 123)).isZero();
    assertOk(t.checkRefs(page(2), 4 * PAGE, 1));
  }

  @Test
  void accessPagesOfMemoryThatIsGoneFailsWithEfaultAndPinsNothing() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    try (NativePages pages = NativePages.map(3)) {
      pages.unmap(2);
      pages.protect(1, NativePages.PROT_READ);
      assertOk(t.map(ioas, 0x100000, pages.page(0), 3 * PAGE, RW));
      assertOk(t.map(ioas, 0x200000, pages.page(0), 2 * PAGE, READ));

      assertErrno(t.accessPages(fd, 0, 0x100000, 3 * PAGE, 0), Errno.EFAULT);
      assertErrno(t.accessPages(fd, 0, 0x100000, 2 * PAGE, 0), Errno.EFAULT);
      assertThat(host.totalPins()).isZero();
      assertThat(t.accessPagesOk(fd, 0, 0x100000, PAGE, 0)).isZero();
      assertThat(t.accessPagesOk(fd, 0, 0x200000, 2 * PAGE, 0)).as("read-only source").isOne();
      assertThat(host.totalPins()).isEqualTo(3);
      iommufd.closeFd(fd);
    }
    assertThat(host.totalPins()).isZero();
  }

  @Test
  void accessPagesBeyondTheMemoryLockLimitFailsWithEnomemAndChargesNothing() {
    Iommufd limited =
        open(Configuration.builder().privateHost(true).memlockLimit(2 * PAGE).build());
    SelftestCalls l = new SelftestCalls(limited, arena);
    int ioas = l.ioasAlloc();
    int fd = l.createAccessOk(ioas, PIN);
    long iova = l.mapAutoOk(ioas, buffer.address(), 4 * PAGE);

    assertErrno(l.accessPages(fd, 0, iova, 3 * PAGE, 0), Errno.ENOMEM);
    assertOk(l.checkRefs(buffer.address(), 4 * PAGE, 0));
    int id = l.accessPagesOk(fd, 0, iova, 2 * PAGE, 0);
    assertOk(l.accessPages(fd, 0, iova, 2 * PAGE, 0));
    assertErrno(l.accessPages(fd, 0, iova + PAGE, 2 * PAGE, 0), Errno.ENOMEM);
    assertOk(l.destroyAccessPages(fd, id));
    assertThat(limited.closeFd(fd)).isZero();
    assertOk(l.checkRefs(buffer.address(), 4 * PAGE, 0));
  }

  @Test
  void accessPagesRespondFaultUnpinsButUsesUpTheItemId() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    long iova = t.mapAutoOk(ioas, buffer.address(), PAGE);
    try (NativePages pages = NativePages.map(2)) {
      pages.protect(1, NativePages.PROT_READ);
      MemorySegment head = NativePages.segment(pages.page(1) - 20, 20);
      Struct s =
          Struct.over(head, Command.IOMMU_TEST_CMD)
              .u32(IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES)
              .u32(IommuTestCmd.ID, fd)
              .u32(IommuTestCmd.ACCESS_PAGES_FLAGS, 0);
      // iova and length lie on the read-only page: they were written before the protection.
      pages.protect(1, NativePages.PROT_READ | NativePages.PROT_WRITE);
      NativePages.segment(pages.page(1), 16).set(ValueLayout.JAVA_LONG_UNALIGNED, 4, iova);
      NativePages.segment(pages.page(1), 20).set(ValueLayout.JAVA_LONG_UNALIGNED, 12, PAGE);
      pages.protect(1, NativePages.PROT_READ);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
    }
    assertThat(host.totalPins()).isZero();
    assertErrno(t.destroyAccessPages(fd, 0), Errno.ENOENT);
    assertThat(t.accessPagesOk(fd, 0, iova, PAGE, 0)).isEqualTo(1);
  }

  @Test
  void syzFlagTakesTheIovaAsAreaNumberAndOffset() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    assertOk(t.map(ioas, 0x100000, page(0), 2 * PAGE, RW));
    assertOk(t.map(ioas, 0x200000, page(4), 4 * PAGE, RW));

    t.accessPagesOk(fd, MOCK_FLAGS_ACCESS_SYZ, (2 * PAGE) << 32 | 1, PAGE, page(6));
    assertThat(pins(page(6))).isEqualTo(1);
    assertErrno(t.accessPages(fd, MOCK_FLAGS_ACCESS_SYZ, 2, PAGE, 0), Errno.ENOENT);
    MemorySegment out = arena.allocate(8);
    assertOk(t.accessRw(fd, PAGE << 32 | 1, 8, out.address(), MOCK_FLAGS_ACCESS_SYZ));
    assertThat(out.mismatch(buffer.asSlice(5 * PAGE, 8))).isEqualTo(-1);
  }

  // ---- unmap notification (device.c: iommufd_access_notify_unmap()) -----------------------------

  /** Selftest {@code access_pin_unmap}. */
  @Test
  void unmapOfAPinnedAreaDropsTheItemsAndSucceeds() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    long iova = t.mapAutoOk(ioas, buffer.address(), BUFFER_SIZE);
    int id = t.accessPagesOk(fd, MOCK_FLAGS_ACCESS_WRITE, iova, BUFFER_SIZE, buffer.address());

    assertOk(t.unmap(ioas, iova, BUFFER_SIZE));

    assertThat(t.unmapped()).isEqualTo(BUFFER_SIZE);
    assertErrno(t.destroyAccessPages(fd, id), Errno.ENOENT);
    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));
  }

  @Test
  void unmapDropsOnlyTheItemsThatIntersectTheUnmappedAreas() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    int other = createAccess(ioas, PIN);
    assertOk(t.map(ioas, 0x100000, page(0), 4 * PAGE, RW));
    assertOk(t.map(ioas, 0x104000, page(4), 4 * PAGE, RW));
    assertOk(t.map(ioas, 0x200000, page(8), 4 * PAGE, RW));
    int inFirst = t.accessPagesOk(fd, 0, 0x101000, PAGE, 0);
    int spanning = t.accessPagesOk(fd, 0, 0x103000, 2 * PAGE, 0);
    int inThird = t.accessPagesOk(fd, 0, 0x200000, PAGE, 0);
    int otherInFirst = t.accessPagesOk(other, 0, 0x100000, PAGE, 0);

    assertOk(t.unmap(ioas, 0x100000, 4 * PAGE));

    assertErrno(t.destroyAccessPages(fd, inFirst), Errno.ENOENT);
    assertErrno(t.destroyAccessPages(fd, spanning), Errno.ENOENT);
    assertErrno(t.destroyAccessPages(other, otherInFirst), Errno.ENOENT);
    assertThat(pins(page(4))).as("the spanning item let go of the second area too").isZero();
    assertOk(t.destroyAccessPages(fd, inThird));
    assertOk(t.unmap(ioas, 0, -1L));
    assertThat(t.unmapped()).isEqualTo(8 * PAGE);
  }

  @Test
  void unmapThatFailsOnAPartlyCoveredAreaTouchesNoPins() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    assertOk(t.map(ioas, 0x100000, page(0), 4 * PAGE, RW));
    int id = t.accessPagesOk(fd, 0, 0x100000, PAGE, 0);

    assertErrno(t.unmap(ioas, 0x100000, 2 * PAGE), Errno.ENOENT);

    assertThat(t.accessPagesOk(fd, 0, 0x100000, PAGE, 0)).as("no prevent-access mark").isOne();
    assertOk(t.destroyAccessPages(fd, id));
  }

  // ---- pins of accesses and domains together (pages.c: iopt_area_fill_domains()) ----------------

  /** Selftest {@code access_pin}, second part: a device comes and goes while pages are pinned. */
  @Test
  void domainAddedAndRemovedWhileAnAccessHoldsPagesKeepsOnePinPerPage() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    assertOk(t.map(ioas, BASE, buffer.address(), BUFFER_SIZE, RW));
    int id = t.accessPagesOk(fd, MOCK_FLAGS_ACCESS_WRITE, BASE, 4 * PAGE, buffer.address());
    assertOk(t.checkRefs(page(0), 4 * PAGE, 1));

    int[] device = t.mockDomainOk(ioas);
    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 1));
    assertOk(t.checkMap(device[1], BASE, buffer.address(), BUFFER_SIZE));
    assertOk(t.destroy(device[0]));

    assertOk(t.checkRefs(page(0), 4 * PAGE, 1));
    assertOk(t.checkRefs(page(4), BUFFER_SIZE - 4 * PAGE, 0));
    assertOk(t.destroyAccessPages(fd, id));
    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));
  }

  @Test
  void unmapWithADomainAndAnAccessReleasesEveryPin() {
    int ioas = t.ioasAlloc();
    t.mockDomainOk(ioas);
    int fd = createAccess(ioas, PIN);
    assertOk(t.map(ioas, BASE, buffer.address(), BUFFER_SIZE, RW));
    t.accessPagesOk(fd, 0, BASE + PAGE, 2 * PAGE, page(1));
    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 1));
    assertThat(host.lockedPagesOfUser(((EmulatedIommufd) iommufd).caller().uid()))
        .as("charged once")
        .isEqualTo(16);

    assertOk(t.unmap(ioas, BASE, BUFFER_SIZE));

    assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));
    assertThat(host.lockedPagesOfUser(((EmulatedIommufd) iommufd).caller().uid())).isZero();
  }

  /** Selftest {@code user_copy}: pin in a bare IOAS, COPY into a domain, move the access on. */
  @Test
  void copyOfAnAccessPinnedAreaIntoADomainSharesThePins() {
    int domainIoas = t.ioasAlloc();
    int[] device = t.mockDomainOk(domainIoas);
    int bare = t.ioasAlloc();
    int fd = createAccess(bare, PIN);
    for (int round = 0; round < 2; round++) {
      assertOk(t.map(bare, 0x100000, buffer.address(), BUFFER_SIZE, RW));
      t.accessPagesOk(fd, 0, 0x100000, BUFFER_SIZE, buffer.address());
      assertOk(t.copy(domainIoas, BASE, bare, 0x100000, BUFFER_SIZE, RW));
      assertOk(t.checkMap(device[1], BASE, buffer.address(), BUFFER_SIZE));
      assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 1));

      int next = t.ioasAlloc();
      assertOk(t.replaceIoas(fd, next));
      assertOk(t.unmap(bare, 0, -1L));
      assertOk(t.destroy(bare));
      assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 1));
      assertOk(t.unmap(domainIoas, BASE, BUFFER_SIZE));
      assertOk(t.checkRefs(buffer.address(), BUFFER_SIZE, 0));
      bare = next;
    }
  }

  // ---- ACCESS_REPLACE_IOAS (selftest.c: iommufd_test_access_replace_ioas()) ---------------------

  @Test
  void replaceIoasDropsEveryItemAndMovesTheReference() {
    int from = t.ioasAlloc();
    int to = t.ioasAlloc();
    int fd = createAccess(from, PIN);
    long iova = t.mapAutoOk(from, buffer.address(), BUFFER_SIZE);
    int id = t.accessPagesOk(fd, 0, iova, BUFFER_SIZE, 0);

    assertOk(t.replaceIoas(fd, to));

    assertErrno(t.destroyAccessPages(fd, id), Errno.ENOENT);
    assertThat(host.totalPins()).isZero();
    assertThat(t.iovaAlignment(from)).isEqualTo(1);
    assertThat(t.iovaAlignment(to)).isEqualTo(4096);
    assertOk(t.destroy(from));
    assertErrno(t.destroy(to), Errno.EBUSY);
    assertErrno(t.accessPages(fd, 0, iova, PAGE, 0), Errno.ENOENT);
  }

  @Test
  void replaceIoasWithTheSameIoasChangesNothing() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, PIN);
    long iova = t.mapAutoOk(ioas, buffer.address(), PAGE);
    int id = t.accessPagesOk(fd, 0, iova, PAGE, 0);

    assertOk(t.replaceIoas(fd, ioas));

    assertOk(t.destroyAccessPages(fd, id));
  }

  @Test
  void replaceIoasFailuresLeaveTheAccessWhereItWas() {
    int ioas = t.ioasAlloc();
    int unaligned = t.ioasAlloc();
    t.mockDomainOk(unaligned);
    assertOk(t.map(unaligned, BASE, page(0) + 2048, 2048, RW));
    int fd = createAccess(ioas, PIN);
    long iova = t.mapAutoOk(ioas, buffer.address(), PAGE);
    int id = t.accessPagesOk(fd, 0, iova, PAGE, 0);

    assertErrno(t.replaceIoas(fd, 77), Errno.ENOENT);
    assertErrno(t.replaceIoas(fd, unaligned), Errno.EADDRINUSE);

    assertThat(t.iovaAlignment(unaligned)).isEqualTo(2048);
    assertErrno(t.destroy(ioas), Errno.EBUSY);
    assertOk(t.destroyAccessPages(fd, id));
  }

  // ---- ACCESS_RW (selftest.c: iommufd_test_access_rw()) -----------------------------------------

  /** Selftest {@code access_rw}: every offset around a page end, lengths 1 to 63, both paths. */
  @ParameterizedTest
  @ValueSource(ints = {0, MOCK_ACCESS_RW_SLOW_PATH})
  void accessRwReadsAndWritesTheMappedMemoryAtEveryOffset(int path) {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, 0);
    long iova = t.mapAutoOk(ioas, buffer.address(), BUFFER_SIZE);
    MemorySegment tmp = arena.allocate(64);
    for (long at = iova + PAGE - 50; at < iova + PAGE + 50; at++) {
      for (int len = 1; len < 64; len += 7) {
        long off = at - iova;
        assertOk(t.accessRw(fd, at, len, tmp.address(), path));
        assertThat(tmp.asSlice(0, len).mismatch(buffer.asSlice(off, len))).isEqualTo(-1);

        tmp.asSlice(0, len).fill((byte) (at + len));
        assertOk(t.accessRw(fd, at, len, tmp.address(), path | MOCK_ACCESS_RW_WRITE));
        assertThat(buffer.asSlice(off, len).mismatch(tmp.asSlice(0, len))).isEqualTo(-1);
      }
    }
    MemorySegment all = arena.allocate(BUFFER_SIZE);
    assertOk(t.accessRw(fd, iova, BUFFER_SIZE, all.address(), path));
    assertThat(all.mismatch(buffer)).isEqualTo(-1);
    assertThat(host.totalPins()).as("reads and writes pin nothing").isZero();
  }

  @Test
  void accessRwAcrossAdjacentAreasCopiesEachPortionFromItsMemory() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, 0);
    assertOk(t.map(ioas, 0x100000, page(8) + 100, PAGE, RW));
    assertOk(t.map(ioas, 0x101000, page(1) + 7, 10, RW));
    MemorySegment out = arena.allocate(30);

    assertOk(t.accessRw(fd, 0x100ff0, 26, out.address(), MOCK_ACCESS_RW_SLOW_PATH));

    assertThat(out.asSlice(0, 16).mismatch(buffer.asSlice(8 * PAGE + 100 + 0xff0, 16)))
        .isEqualTo(-1);
    assertThat(out.asSlice(16, 10).mismatch(buffer.asSlice(PAGE + 7, 10))).isEqualTo(-1);
    assertErrno(t.accessRw(fd, 0x100ff0, 27, out.address(), 0), Errno.ENOENT);
  }

  @Test
  void accessRwChecksInTheSpecOrder() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, 0);
    assertOk(t.map(ioas, 0x100000, page(0), PAGE, READ));
    assertOk(t.map(ioas, 0x200000, page(1), PAGE, WRITE));
    long u = buffer.address();

    assertErrno(t.accessRw(99, 0, (16L << 20) + 1, u, 1 << 9), Errno.ENOMEM);
    assertErrno(t.accessRw(99, 0, 16L << 20, u, 1 << 1), Errno.EOPNOTSUPP);
    assertErrno(t.accessRw(99, 0, 1, u, 0), Errno.EBADFD);
    assertErrno(t.accessRw(fd, 0x100000, 0, u, 0), Errno.EINVAL);
    assertErrno(t.accessRw(fd, -8, 16, u, 0), Errno.EOVERFLOW);
    assertErrno(t.accessRw(fd, 0x300000, 1, u, 0), Errno.ENOENT);
    assertErrno(t.accessRw(fd, 0x100000, 1, u, MOCK_ACCESS_RW_WRITE), Errno.EPERM);
    assertErrno(t.accessRw(fd, 0x200000, 1, u, 0), Errno.EPERM);
    assertOk(t.accessRw(fd, 0x100000, 1, u + 100, 0));
    assertOk(t.accessRw(fd, 0x200000, 1, u + 100, MOCK_ACCESS_RW_WRITE));
  }

  @Test
  void accessRwFaultsOnUnusableUserBuffersAndMissingMemory() {
    int ioas = t.ioasAlloc();
    int fd = createAccess(ioas, 0);
    try (NativePages pages = NativePages.map(2)) {
      pages.unmap(1);
      assertOk(t.map(ioas, 0x100000, pages.page(0), 2 * PAGE, RW));
      MemorySegment out = arena.allocate(16);

      assertErrno(t.accessRw(fd, 0x100ff8, 16, out.address(), 0), Errno.EFAULT);
      assertErrno(
          t.accessRw(fd, 0x100ff8, 16, out.address(), MOCK_ACCESS_RW_SLOW_PATH), Errno.EFAULT);
      assertErrno(t.accessRw(fd, 0x100000, 16, pages.page(1), MOCK_ACCESS_RW_WRITE), Errno.EFAULT);
      assertErrno(t.accessRw(fd, 0x100000, 16, pages.page(1), 0), Errno.EFAULT);
      assertOk(t.accessRw(fd, 0x100000, 16, out.address(), 0));
    }
  }
}
