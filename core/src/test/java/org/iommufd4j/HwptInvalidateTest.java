package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwptInvalidate;
import org.iommufd4j.uapi.IommuHwptInvalidateSelftest;
import org.iommufd4j.uapi.IommuHwptSelftest;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * IOMMU_HWPT_INVALIDATE (hw_pagetable.c: iommufd_hwpt_invalidate()) on a mock nested HWPT and the
 * test op MD_CHECK_IOTLB (selftest.c: iommufd_test_md_check_iotlb()): the struct goes back with
 * {@code entry_num} = requests handled on every path.
 */
class HwptInvalidateTest extends MockDeviceFixture {
  private static final int DEFAULT = IommuHwptSelftest.IOMMU_TEST_IOTLB_DEFAULT;
  private static final int TYPE = IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
  private static final int ALL = IommuHwptInvalidateSelftest.IOMMU_TEST_INVALIDATE_FLAG_ALL;

  private MockDev dev;
  private int parent;
  private int nested;

  @BeforeEach
  void openWithANestedHwpt() {
    openPrivate();
    int ioas = ioasAlloc();
    dev = mockDomain(ioas);
    parent = hwptAlloc(dev.idevId(), ioas, NEST_PARENT);
    nested = nested(dev.idevId(), parent);
  }

  /** An array of {@code iommu_hwpt_invalidate_selftest}: flags, iotlb_id pairs. */
  private MemorySegment requests(int... flagsAndIds) {
    MemorySegment array = arena.allocate(Math.max(8, flagsAndIds.length * 4L), 8);
    for (int i = 0; i < flagsAndIds.length; i++) {
      array.set(JAVA_INT, i * 4L, flagsAndIds[i]);
    }
    return array;
  }

  private Struct invalidate(int hwptId, long uptr, int type, int entryLen, int entryNum) {
    return struct(Command.IOMMU_HWPT_INVALIDATE)
        .u32(IommuHwptInvalidate.HWPT_ID, hwptId)
        .u64(IommuHwptInvalidate.DATA_UPTR, uptr)
        .u32(IommuHwptInvalidate.DATA_TYPE, type)
        .u32(IommuHwptInvalidate.ENTRY_LEN, entryLen)
        .u32(IommuHwptInvalidate.ENTRY_NUM, entryNum);
  }

  private Struct invalidate(MemorySegment requests, int entryNum) {
    return invalidate(nested, requests.address(), TYPE, IommuHwptInvalidateSelftest.SIZE, entryNum);
  }

  /** Asserts the result and the {@code entry_num} written back. */
  private void expect(Struct s, Errno errno, int handled) {
    int rc = rc(s);
    if (errno == null) {
      ok(rc);
    } else {
      fails(errno, rc);
    }
    assertThat(s.u32(IommuHwptInvalidate.ENTRY_NUM))
        .as("entry_num written back")
        .isEqualTo(handled);
  }

  private void assertIotlb(int... values) {
    for (int slot = 0; slot < values.length; slot++) {
      ok(checkIotlbRc(nested, slot, values[slot]));
    }
  }

  @Test
  void checkIotlbNeedsANestedHwptAndAValidSlot() {
    fails(Errno.ENOENT, checkIotlbRc(parent, 0, DEFAULT));
    fails(Errno.ENOENT, checkIotlbRc(0, 0, DEFAULT));
    fails(Errno.EINVAL, checkIotlbRc(nested, 4, DEFAULT));
    fails(Errno.EINVAL, checkIotlbRc(nested, -1, DEFAULT));
    fails(Errno.EINVAL, checkIotlbRc(nested, 0, 0));
    assertIotlb(DEFAULT, DEFAULT, DEFAULT, DEFAULT);
  }

  @Test
  void reservedIsEopnotsuppWithEntryNumZeroWrittenBack() {
    expect(invalidate(requests(0, 0), 1).u32(IommuHwptInvalidate.RESERVED, 1), Errno.EOPNOTSUPP, 0);
  }

  @Test
  void arrayShapeIsCheckedBeforeTheLookupWhenThereAreEntries() {
    long uptr = requests(0, 0).address();
    expect(invalidate(0, 0, TYPE, 8, 1), Errno.EINVAL, 0);
    expect(invalidate(0, uptr, TYPE, 0, 1), Errno.EINVAL, 0);
    expect(invalidate(0, uptr, TYPE, 4097, 1), Errno.EINVAL, 0);
    expect(invalidate(0, uptr, TYPE, 8, 524_289), Errno.EINVAL, 0);
    expect(invalidate(0, uptr, TYPE, 4096, 524_288), Errno.ENOENT, 0);
    expect(invalidate(0, 0, TYPE, 0, 0), Errno.ENOENT, 0);
  }

  @Test
  void onlyNestedHwptsCanBeInvalidated() {
    expect(invalidate(parent, 0, TYPE, 0, 0), Errno.ENOENT, 0);
    expect(invalidate(dev.hwptId(), 0, TYPE, 0, 0), Errno.ENOENT, 0);
  }

  @Test
  void wrongDataTypeIsEinvalEvenForAnEmptyArray() {
    int invalidType = IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID;
    expect(invalidate(nested, 0, invalidType, 0, 0), Errno.EINVAL, 0);
    expect(
        invalidate(nested, 0, IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_VTD_S1, 0, 0),
        Errno.EINVAL,
        0);
    expect(invalidate(nested, 0, TYPE, 0, 0), null, 0);
  }

  @Test
  void entriesMustBeExactlyEightBytes() {
    MemorySegment r = requests(0, 0, 0, 0);
    expect(invalidate(nested, r.address(), TYPE, 7, 1), Errno.EINVAL, 0);
    expect(invalidate(nested, r.address(), TYPE, 9, 1), Errno.EINVAL, 0);
    assertIotlb(DEFAULT, DEFAULT, DEFAULT, DEFAULT);
  }

  @Test
  void unreadableRequestIsEfault() {
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_NONE);
      expect(invalidate(nested, pages.page(0), TYPE, 8, 1), Errno.EFAULT, 0);
    }
  }

  @Test
  void unknownRequestFlagsAreEopnotsupp() {
    expect(invalidate(requests(1 << 1, 0), 1), Errno.EOPNOTSUPP, 0);
    assertIotlb(DEFAULT, DEFAULT, DEFAULT, DEFAULT);
  }

  @Test
  void slotAboveThreeIsEinvalEvenWithFlagAll() {
    expect(invalidate(requests(0, 4), 1), Errno.EINVAL, 0);
    expect(invalidate(requests(ALL, 4), 1), Errno.EINVAL, 0);
    assertIotlb(DEFAULT, DEFAULT, DEFAULT, DEFAULT);
  }

  @Test
  void requestsBeforeTheFirstErrorStayAppliedAndAreCounted() {
    expect(invalidate(requests(0, 0, 1 << 1, 1, 0, 2), 3), Errno.EOPNOTSUPP, 1);
    assertIotlb(0, DEFAULT, DEFAULT, DEFAULT);
    expect(invalidate(requests(0, 1, 0, 2, 0, 4, 0, 3), 4), Errno.EINVAL, 2);
    assertIotlb(0, 0, 0, DEFAULT);
  }

  @Test
  void eachSlotCanBeInvalidatedAloneAndFlagAllZeroesTheFour() {
    expect(invalidate(requests(0, 2), 1), null, 1);
    assertIotlb(DEFAULT, DEFAULT, 0, DEFAULT);
    expect(invalidate(requests(ALL, 3), 1), null, 1);
    assertIotlb(0, 0, 0, 0);
  }

  @Test
  void emptyArrayOfTheRightTypeSucceedsWithEntryNumZero() {
    expect(invalidate(requests(0, 0), 0), null, 0);
    assertIotlb(DEFAULT, DEFAULT, DEFAULT, DEFAULT);
  }

  @Test
  void requestsAreReadAtEntryLenStrides() {
    MemorySegment r = requests(0, 0, 0, 1, 0, 3);
    expect(invalidate(r, 3), null, 3);
    assertIotlb(0, 0, DEFAULT, 0);
  }

  @Test
  void respondFaultIsEfaultAndTheRequestsStayApplied() {
    long uptr = requests(0, 1).address();
    int rc =
        ioctlWithReadOnlyTail(
            Command.IOMMU_HWPT_INVALIDATE,
            IommuHwptInvalidate.DATA_TYPE,
            s ->
                s.u32(IommuHwptInvalidate.HWPT_ID, nested)
                    .u64(IommuHwptInvalidate.DATA_UPTR, uptr)
                    .u32(IommuHwptInvalidate.DATA_TYPE, TYPE)
                    .u32(IommuHwptInvalidate.ENTRY_LEN, 8)
                    .u32(IommuHwptInvalidate.ENTRY_NUM, 1));
    fails(Errno.EFAULT, rc);
    assertIotlb(DEFAULT, 0, DEFAULT, DEFAULT);
  }

  @Test
  void respondFaultReplacesAnEarlierError() {
    int rc =
        ioctlWithReadOnlyTail(
            Command.IOMMU_HWPT_INVALIDATE,
            IommuHwptInvalidate.DATA_TYPE,
            s -> s.u32(IommuHwptInvalidate.HWPT_ID, parent));
    fails(Errno.EFAULT, rc);
  }
}
