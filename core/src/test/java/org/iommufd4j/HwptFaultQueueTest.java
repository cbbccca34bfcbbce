package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuFaultAlloc;
import org.iommufd4j.uapi.IommuHwptPageResponse;
import org.iommufd4j.uapi.IommuHwptPgfault;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * IOMMU_FAULT_QUEUE_ALLOC and the fault fd (fault.c: iommufd_fault_alloc()), fed by the test op
 * TRIGGER_IOPF (selftest.c: iommufd_test_trigger_iopf()) through a nested HWPT created with
 * FAULT_ID_VALID (hw_pagetable.c: iommufd_hwpt_alloc()).
 */
class HwptFaultQueueTest extends MockDeviceFixture {
  private static final int RECORD = IommuHwptPgfault.SIZE;
  private static final int READ = IommuHwptPgfault.IOMMU_PGFAULT_PERM_READ;

  private int ioas;
  private MockDev dev;
  private int parent;
  private FaultQueue fault;
  private int nested;

  /** A device attached to a nested HWPT that routes its faults to a fresh fault queue. */
  private void deviceOnFaultingNestedHwpt() {
    openPrivate();
    ioas = ioasAlloc();
    dev = mockDomain(ioas);
    parent = hwptAlloc(dev.idevId(), ioas, NEST_PARENT);
    fault = faultAlloc();
    nested = nested(dev.idevId(), parent, FAULT_ID_VALID, fault.faultId());
    assertThat(replace(dev.stdevId(), nested)).isEqualTo(nested);
  }

  /** Runs before the fixture's leak check: the open fault fd would keep the context alive. */
  @AfterEach
  void closeTheFaultFd() {
    if (fault != null) {
      iommufd.closeFd(fault.fd());
    }
  }

  private void trigger(int grpid) {
    ok(triggerIopfRc(dev.idevId(), 0, grpid, READ, 0x1000L * grpid));
  }

  private MemorySegment records(int count) {
    return arena.allocate(Math.max(1, count) * (long) RECORD, 8);
  }

  private long read(long bytes) {
    return iommufd.read(fault.fd(), arena.allocate(Math.max(1, bytes), 8).asSlice(0, bytes));
  }

  /** Reads {@code count} records' worth and returns the cookies of what came back. */
  private int[] readCookies(int count) {
    MemorySegment buf = records(count);
    long n = iommufd.read(fault.fd(), buf);
    assertThat(n).isNotNegative();
    int[] cookies = new int[(int) (n / RECORD)];
    for (int i = 0; i < cookies.length; i++) {
      cookies[i] = u32(buf, (long) i * RECORD + IommuHwptPgfault.COOKIE);
    }
    return cookies;
  }

  private static int u32(MemorySegment s, long offset) {
    return s.get(ValueLayout.JAVA_INT_UNALIGNED, offset);
  }

  private static long u64(MemorySegment s, long offset) {
    return s.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
  }

  private MemorySegment responses(int... cookieAndCode) {
    MemorySegment s = arena.allocate(Math.max(8, cookieAndCode.length * 4L), 8);
    for (int i = 0; i < cookieAndCode.length; i++) {
      s.set(ValueLayout.JAVA_INT, i * 4L, cookieAndCode[i]);
    }
    return s.asSlice(0, cookieAndCode.length * 4L);
  }

  private long respond(int... cookieAndCode) {
    return iommufd.write(fault.fd(), responses(cookieAndCode));
  }

  private static final int SUCCESS = IommuHwptPageResponse.IOMMUFD_PAGE_RESP_SUCCESS;
  private static final int INVALID = IommuHwptPageResponse.IOMMUFD_PAGE_RESP_INVALID;

  // ---- IOMMU_FAULT_QUEUE_ALLOC -------------------------------------------------------------

  @Test
  void flagsAreEopnotsupp() {
    openPrivate();
    fails(
        Errno.EOPNOTSUPP,
        rc(struct(Command.IOMMU_FAULT_QUEUE_ALLOC).u32(IommuFaultAlloc.FLAGS, 1)));
    assertThat(objectCount(iommufd)).isZero();
  }

  @Test
  void faultQueueGetsTheLowestFreeIdAndTheLowestFreeDescriptor() {
    openPrivate();
    ioasAlloc();
    FaultQueue first = faultAlloc();
    FaultQueue second = faultAlloc();
    assertThat(first).isEqualTo(new FaultQueue(2, VirtualFileTable.FIRST_FD));
    assertThat(second).isEqualTo(new FaultQueue(3, VirtualFileTable.FIRST_FD + 1));
    ok(iommufd.closeFd(first.fd()));
    ok(destroyRc(first.faultId()));
    assertThat(faultAlloc()).isEqualTo(first);
    ok(iommufd.closeFd(first.fd()));
    ok(iommufd.closeFd(second.fd()));
  }

  @Test
  void respondFaultReleasesTheDescriptorAndTheId() {
    openPrivate();
    int rc =
        ioctlWithReadOnlyTail(
            Command.IOMMU_FAULT_QUEUE_ALLOC, IommuFaultAlloc.OUT_FAULT_ID, s -> {});
    fails(Errno.EFAULT, rc);
    assertThat(objectCount(iommufd)).isZero();
    FaultQueue q = faultAlloc();
    assertThat(q).isEqualTo(new FaultQueue(1, VirtualFileTable.FIRST_FD));
    ok(iommufd.closeFd(q.fd()));
  }

  @Test
  void destroyWhileTheFdIsOpenIsEbusy() {
    openPrivate();
    FaultQueue q = faultAlloc();
    fails(Errno.EBUSY, destroyRc(q.faultId()));
    ok(iommufd.closeFd(q.fd()));
    assertThat(iommufd.closeFd(q.fd())).isEqualTo(-Errno.EBADF.number());
    ok(destroyRc(q.faultId()));
  }

  @Test
  void unknownDescriptorIsEbadf() {
    openPrivate();
    MemorySegment buf = records(1);
    assertThat(iommufd.read(VirtualFileTable.FIRST_FD, buf)).isEqualTo(-Errno.EBADF.number());
    assertThat(iommufd.write(VirtualFileTable.FIRST_FD, buf)).isEqualTo(-Errno.EBADF.number());
    assertThat(iommufd.read(0, buf)).isEqualTo(-Errno.EBADF.number());
  }

  // ---- TRIGGER_IOPF ------------------------------------------------------------------------

  @Test
  void triggeredFaultIsReadAsOneRecordWithCookieOne() {
    deviceOnFaultingNestedHwpt();
    ok(
        triggerIopfRc(
            dev.idevId(), 0, 7, READ | IommuHwptPgfault.IOMMU_PGFAULT_PERM_WRITE, 0xdead_b000L));
    MemorySegment buf = records(2);
    buf.fill((byte) 0xee);

    assertThat(iommufd.read(fault.fd(), buf)).isEqualTo(RECORD);

    MemorySegment r = buf;
    assertThat(u32(r, IommuHwptPgfault.FLAGS))
        .isEqualTo(IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_LAST_PAGE);
    assertThat(u32(r, IommuHwptPgfault.DEV_ID)).isEqualTo(dev.idevId());
    assertThat(u32(r, IommuHwptPgfault.PASID)).isZero();
    assertThat(u32(r, IommuHwptPgfault.GRPID)).isEqualTo(7);
    assertThat(u32(r, IommuHwptPgfault.PERM)).isEqualTo(3);
    assertThat(u32(r, IommuHwptPgfault.RESERVED)).isZero();
    assertThat(u64(r, IommuHwptPgfault.ADDR)).isEqualTo(0xdead_b000L);
    assertThat(u32(r, IommuHwptPgfault.LENGTH)).isZero();
    assertThat(u32(r, IommuHwptPgfault.COOKIE)).isEqualTo(1);
    assertThat(u32(r, RECORD)).as("second record slot untouched").isEqualTo(0xeeeeeeee);
    assertThat(respond(1, SUCCESS)).isEqualTo(8);
  }

  @Test
  void faultWithAPasidIsMarkedPasidValidOnANestedHwpt() {
    deviceOnFaultingNestedHwpt();
    ok(triggerIopfRc(dev.idevId(), 5, 1, READ, 0x2000));
    MemorySegment buf = records(1);
    assertThat(iommufd.read(fault.fd(), buf)).isEqualTo(RECORD);
    MemorySegment r = buf;
    assertThat(u32(r, IommuHwptPgfault.FLAGS))
        .isEqualTo(
            IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_LAST_PAGE
                | IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_PASID_VALID);
    assertThat(u32(r, IommuHwptPgfault.PASID)).isEqualTo(5);
  }

  @Test
  void triggerNeedsADeviceId() {
    deviceOnFaultingNestedHwpt();
    fails(Errno.ENOENT, triggerIopfRc(0, 0, 0, 0, 0));
    fails(Errno.ENOENT, triggerIopfRc(dev.stdevId(), 0, 0, 0, 0));
    fails(Errno.ENOENT, triggerIopfRc(nested, 0, 0, 0, 0));
    assertThat(read(RECORD)).isZero();
  }

  @Test
  void faultOfADeviceWhoseHwptHasNoFaultQueueIsDroppedSilently() {
    deviceOnFaultingNestedHwpt();
    MockDev onAuto = mockDomain(ioas);
    ok(triggerIopfRc(onAuto.idevId(), 0, 1, READ, 0x1000));
    int plainNested = nested(dev.idevId(), parent);
    ok(replaceRc(onAuto.stdevId(), plainNested));
    ok(triggerIopfRc(onAuto.idevId(), 3, 1, READ, 0x1000));
    assertThat(read(RECORD)).isZero();
  }

  // ---- read(2) -----------------------------------------------------------------------------

  @Test
  void readSizeMustBeAMultipleOfTheRecordSize() {
    deviceOnFaultingNestedHwpt();
    assertThat(read(RECORD - 1)).isEqualTo(-Errno.ESPIPE.number());
    trigger(1);
    assertThat(read(RECORD + 8)).isEqualTo(-Errno.ESPIPE.number());
    assertThat(read(RECORD)).isEqualTo(RECORD);
  }

  @Test
  void readNeverBlocksAndReturnsZeroWhenNothingIsPending() {
    deviceOnFaultingNestedHwpt();
    assertThat(read(RECORD * 4)).isZero();
    assertThat(read(0)).isZero();
  }

  @Test
  void readTooSmallForTheFirstGroupIsEinval() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    assertThat(read(0)).isEqualTo(-Errno.EINVAL.number());
    assertThat(read(RECORD)).isEqualTo(RECORD);
  }

  @Test
  void groupsAreDeliveredOldestFirstAsFarAsTheyFit() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    trigger(2);
    trigger(3);
    MemorySegment buf = records(2);
    assertThat(iommufd.read(fault.fd(), buf)).isEqualTo(2 * RECORD);
    assertThat(u32(buf, IommuHwptPgfault.GRPID)).isEqualTo(1);
    assertThat(readCookies(4)).containsExactly(3);
  }

  @Test
  void cookiesAreTheLowestFreeValuesFromOne() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    trigger(2);
    trigger(3);
    assertThat(readCookies(3)).containsExactly(1, 2, 3);
    assertThat(respond(2, SUCCESS)).isEqualTo(8);
    trigger(4);
    trigger(5);
    assertThat(readCookies(2)).containsExactly(2, 4);
  }

  @Test
  void readIntoUnwritableMemoryIsEfaultAndTheGroupStaysQueued() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_READ);
      MemorySegment readOnly = MemorySegment.ofAddress(pages.page(0)).reinterpret(RECORD);
      assertThat(iommufd.read(fault.fd(), readOnly)).isEqualTo(-Errno.EFAULT.number());
    }
    assertThat(readCookies(1)).containsExactly(1);
  }

  // ---- write(2) ----------------------------------------------------------------------------

  @Test
  void writeSizeMustBeAMultipleOfTheResponseSize() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    readCookies(1);
    assertThat(iommufd.write(fault.fd(), responses(1, SUCCESS).asSlice(0, 4)))
        .isEqualTo(-Errno.ESPIPE.number());
    assertThat(iommufd.write(fault.fd(), responses(1, SUCCESS).asSlice(0, 0))).isZero();
    assertThat(respond(1, SUCCESS)).isEqualTo(8);
  }

  @Test
  void badCodeOrUnknownCookieIsEinval() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    readCookies(1);
    assertThat(respond(1, 2)).isEqualTo(-Errno.EINVAL.number());
    assertThat(respond(0, SUCCESS)).isEqualTo(-Errno.EINVAL.number());
    assertThat(respond(2, SUCCESS)).isEqualTo(-Errno.EINVAL.number());
    assertThat(respond(-1, SUCCESS)).isEqualTo(-Errno.EINVAL.number());
    assertThat(respond(1, INVALID)).isEqualTo(8);
    assertThat(respond(1, SUCCESS)).as("answered already").isEqualTo(-Errno.EINVAL.number());
  }

  @Test
  void writeStopsAtTheFirstBadResponseAndCountsTheOnesBefore() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    trigger(2);
    readCookies(2);
    assertThat(respond(1, SUCCESS, 9, SUCCESS, 2, SUCCESS)).isEqualTo(8);
    assertThat(respond(2, SUCCESS)).isEqualTo(8);
  }

  @Test
  void writeFromUnreadableMemoryIsEfault() {
    deviceOnFaultingNestedHwpt();
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_NONE);
      MemorySegment none = MemorySegment.ofAddress(pages.page(0)).reinterpret(8);
      assertThat(iommufd.write(fault.fd(), none)).isEqualTo(-Errno.EFAULT.number());
    }
  }

  // ---- groups answered INVALID -------------------------------------------------------------

  @Test
  void deviceLeavingTheHwptDropsItsPendingAndUnansweredGroups() {
    deviceOnFaultingNestedHwpt();
    MockDev other = mockDomain(nested);
    trigger(1);
    trigger(2);
    ok(triggerIopfRc(other.idevId(), 0, 9, READ, 0x9000));
    assertThat(readCookies(1)).containsExactly(1);

    assertThat(replace(dev.stdevId(), parent)).isEqualTo(parent);

    assertThat(respond(1, SUCCESS))
        .as("cookie 1 was answered INVALID")
        .isEqualTo(-Errno.EINVAL.number());
    MemorySegment buf = records(4);
    assertThat(iommufd.read(fault.fd(), buf)).as("only the other device's group").isEqualTo(RECORD);
    MemorySegment r = buf;
    assertThat(u32(r, IommuHwptPgfault.DEV_ID)).isEqualTo(other.idevId());
    assertThat(u32(r, IommuHwptPgfault.COOKIE)).as("cookie 1 is free again").isEqualTo(1);
  }

  @Test
  void destroyingTheMockDeviceDropsItsGroups() {
    deviceOnFaultingNestedHwpt();
    trigger(1);
    trigger(2);
    readCookies(1);
    ok(destroyRc(dev.stdevId()));
    assertThat(read(RECORD * 2)).isZero();
    assertThat(respond(1, SUCCESS)).isEqualTo(-Errno.EINVAL.number());
  }

  // ---- lifetime ----------------------------------------------------------------------------

  @Test
  void openFaultFdKeepsTheContextAliveAfterTheIommufdIsClosed() {
    deviceOnFaultingNestedHwpt();
    MemorySegment buffer = buffer(64 << 10, 1 << 21);
    mapFixed(ioas, BASE, buffer);
    trigger(1);
    var host = host();

    iommufd.close();

    assertThat(rc(struct(Command.IOMMU_IOAS_ALLOC))).isEqualTo(-Errno.EBADF.number());
    assertThat(objectCount(iommufd)).as("torn down only when the fault fd closes").isPositive();
    assertThat(host.totalPins()).isPositive();
    assertThat(readCookies(1)).as("the fault fd still works").containsExactly(1);
    assertThat(respond(1, SUCCESS)).isEqualTo(8);

    ok(iommufd.closeFd(fault.fd()));

    assertThat(objectCount(iommufd)).isZero();
    assertThat(host.totalPins()).isZero();
  }

  @Test
  void testOpsIgnoreTheIdOfTriggerIopf() {
    deviceOnFaultingNestedHwpt();
    ok(
        rc(
            testCmd(IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF, 12345)
                .u32(IommuTestCmd.TRIGGER_IOPF_DEV_ID, dev.idevId())));
    assertThat(readCookies(1)).containsExactly(1);
  }
}
