package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptSelftest;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * IOMMU_HWPT_ALLOC (hw_pagetable.c: iommufd_hwpt_alloc()) for paging HWPTs on an IOAS and mock
 * nested HWPTs on a NEST_PARENT paging HWPT: every check in order, ids reserved and published in
 * the kernel's order, and the references that make DESTROY answer EBUSY (main.c:
 * iommufd_object_remove()).
 */
class HwptAllocTest extends MockDeviceFixture {
  private int ioas;
  private MockDev dev;

  @BeforeEach
  void openWithOneMockDevice() {
    openPrivate();
    ioas = ioasAlloc();
    dev = mockDomain(ioas);
  }

  private int nestParent() {
    return hwptAlloc(dev.idevId(), ioas, NEST_PARENT);
  }

  // ---- checks before the pt_id lookup ------------------------------------------------------

  @Test
  void nonZeroReservedIsEopnotsuppBeforeAnyLookup() {
    fails(Errno.EOPNOTSUPP, rc(hwptAllocStruct(0, 0, 0).u32(IommuHwptAlloc.RESERVED, 1)));
  }

  @Test
  void dataTypeAndDataLenMustComeTogetherBeforeTheDeviceLookup() {
    fails(Errno.EINVAL, rc(hwptAllocStruct(0, ioas, 0).u32(IommuHwptAlloc.DATA_LEN, 4)));
    fails(Errno.EINVAL, rc(hwptAllocStruct(0, ioas, 0).u32(IommuHwptAlloc.DATA_TYPE, SELFTEST)));
  }

  @Test
  void unknownDeviceIsEnoent() {
    fails(Errno.ENOENT, hwptAllocRc(0, ioas, 0));
    fails(Errno.ENOENT, hwptAllocRc(ioas, ioas, 0));
    fails(Errno.ENOENT, hwptAllocRc(dev.stdevId(), ioas, 0));
  }

  @Test
  void anyPtIdLookupFailureIsEinvalNotEnoent() {
    fails(Errno.EINVAL, hwptAllocRc(dev.idevId(), 0, 0));
    fails(Errno.EINVAL, hwptAllocRc(dev.idevId(), 99, 0));
    fails(Errno.EINVAL, hwptAllocRc(dev.idevId(), dev.idevId(), 0));
    fails(Errno.EINVAL, hwptAllocRc(dev.idevId(), dev.stdevId(), 0));
    FaultQueue fault = faultAlloc();
    fails(Errno.EINVAL, hwptAllocRc(dev.idevId(), fault.faultId(), 0));
    ok(iommufd.closeFd(fault.fd()));
  }

  // ---- paging HWPTs ------------------------------------------------------------------------

  @Test
  void pagingFlagsOtherThanNestParentAndDirtyTrackingAreEopnotsupp() {
    fails(Errno.EOPNOTSUPP, hwptAllocRc(dev.idevId(), ioas, FAULT_ID_VALID));
    fails(Errno.EOPNOTSUPP, hwptAllocRc(dev.idevId(), ioas, 1 << 3));
    fails(Errno.EOPNOTSUPP, hwptAllocRc(dev.idevId(), ioas, ~NEST_PARENT));
  }

  @Test
  void dirtyTrackingForADeviceWithoutItIsEopnotsupp() {
    MockDev noDirty = mockDomain(ioas, IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY);
    fails(Errno.EOPNOTSUPP, hwptAllocRc(noDirty.idevId(), ioas, DIRTY_TRACKING));
    assertThat(hwptAlloc(noDirty.idevId(), ioas, 0)).isPositive();
  }

  @Test
  void driverDataForAPagingHwptIsEopnotsuppAndReleasesTheId() {
    int free = hwptAlloc(dev.idevId(), ioas, 0) + 1;
    fails(
        Errno.EOPNOTSUPP,
        nestedRc(
            dev.idevId(), ioas, 0, SELFTEST, selftestData(0).address(), IommuHwptSelftest.SIZE));
    assertThat(hwptAlloc(dev.idevId(), ioas, 0)).as("the reserved id was freed").isEqualTo(free);
  }

  @Test
  void pagingHwptTakesTheLowestFreeIdAndPinsAtOnceWithoutADevice() {
    int other = ioasAlloc();
    MemorySegment buffer = buffer(1 << 16, 1 << 21);
    mapFixed(other, BASE, buffer);
    ok(checkRefsRc(buffer, 0));

    int hwpt = hwptAlloc(dev.idevId(), other, 0);

    assertThat(hwpt).as("after ioas 1, the device's ids 2-4 and ioas 5").isEqualTo(6);
    ok(checkRefsRc(buffer, 1));
    ok(checkMapRc(hwpt, BASE, buffer));
    fails(Errno.EBUSY, destroyRc(other));
    ok(destroyRc(hwpt));
    ok(checkRefsRc(buffer, 0));
    ok(destroyRc(other));
  }

  @Test
  void pagingHwptNarrowsTheIovaRangesOfItsIoasToTheMockAperture() {
    int other = ioasAlloc();
    hwptAlloc(dev.idevId(), other, 0);
    MemorySegment ranges = arena.allocate(32, 8);
    Struct s =
        struct(Command.IOMMU_IOAS_IOVA_RANGES)
            .u32(IommuIoasIovaRanges.IOAS_ID, other)
            .u32(IommuIoasIovaRanges.NUM_IOVAS, 2)
            .u64(IommuIoasIovaRanges.ALLOWED_IOVAS, ranges.address());
    ok(rc(s));
    assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS)).isEqualTo(1);
    assertThat(ranges.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(BASE);
    assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(MOCK_PAGE);
  }

  @Test
  void explicitHwptIsNeverPickedByAnAutomaticAttachNorDestroyedWhenItsDeviceLeaves() {
    int other = ioasAlloc();
    int hwpt = hwptAlloc(dev.idevId(), other, 0);
    MockDev onIoas = mockDomain(other);
    assertThat(onIoas.hwptId()).as("a new automatic HWPT").isNotEqualTo(hwpt);

    MockDev onHwpt = mockDomain(hwpt);
    assertThat(onHwpt.hwptId()).isEqualTo(hwpt);
    fails(Errno.EBUSY, destroyRc(hwpt));
    ok(destroyRc(onHwpt.stdevId()));
    ok(destroyRc(hwpt));
  }

  @Test
  void replaceRotatesBetweenExplicitHwptsWhichAreBusyWhileAttached() {
    int first = hwptAlloc(dev.idevId(), ioas, 0);
    int second = hwptAlloc(dev.idevId(), ioas, NEST_PARENT);
    assertThat(replace(dev.stdevId(), first)).isEqualTo(first);
    fails(Errno.ENOENT, destroyRc(dev.hwptId())); // the automatic HWPT went with the device
    fails(Errno.EBUSY, destroyRc(first));
    assertThat(replace(dev.stdevId(), second)).isEqualTo(second);
    ok(destroyRc(first));
    fails(Errno.EBUSY, destroyRc(second));
    assertThat(replace(dev.stdevId(), ioas)).as("a new automatic HWPT").isNotEqualTo(second);
    ok(destroyRc(second));
  }

  @Test
  void respondFaultFailsWithEfaultUndoesThePinsAndFreesTheId() {
    int other = ioasAlloc();
    MemorySegment buffer = buffer(1 << 16, 1 << 21);
    mapFixed(other, BASE, buffer);

    int rc =
        ioctlWithReadOnlyTail(
            Command.IOMMU_HWPT_ALLOC,
            IommuHwptAlloc.OUT_HWPT_ID,
            s -> s.u32(IommuHwptAlloc.DEV_ID, dev.idevId()).u32(IommuHwptAlloc.PT_ID, other));

    fails(Errno.EFAULT, rc);
    ok(checkRefsRc(buffer, 0));
    assertThat(hwptAlloc(dev.idevId(), other, 0)).as("id 6 was freed").isEqualTo(6);
  }

  @Test
  void aStructOf24BytesIsReadWithZeroDataFields() {
    Struct s =
        Struct.of(arena, Command.IOMMU_HWPT_ALLOC, IommuHwptAlloc.MIN_SIZE)
            .size(IommuHwptAlloc.MIN_SIZE)
            .u32(IommuHwptAlloc.DEV_ID, dev.idevId())
            .u32(IommuHwptAlloc.PT_ID, ioas);
    ok(rc(s));
    assertThat(s.u32(IommuHwptAlloc.OUT_HWPT_ID)).isEqualTo(5);
  }

  @Test
  void unusedSecondReservedFieldIsNotChecked() {
    ok(rc(hwptAllocStruct(dev.idevId(), ioas, 0).u32(IommuHwptAlloc.RESERVED2, -1)));
  }

  // ---- nested HWPTs ------------------------------------------------------------------------

  @Test
  void nestedFlagsOtherThanFaultIdValidOrNoDataAreEopnotsupp() {
    int parent = nestParent();
    long data = selftestData(0).address();
    fails(Errno.EOPNOTSUPP, nestedRc(dev.idevId(), parent, NEST_PARENT, SELFTEST, data, 4));
    fails(Errno.EOPNOTSUPP, nestedRc(dev.idevId(), parent, DIRTY_TRACKING, SELFTEST, data, 4));
    fails(Errno.EOPNOTSUPP, nestedRc(dev.idevId(), parent, 0, 0, 0, 0));
  }

  @Test
  void parentMustBeAnExplicitNestParent() {
    long data = selftestData(0).address();
    int notParent = hwptAlloc(dev.idevId(), ioas, 0);
    fails(Errno.EINVAL, nestedRc(dev.idevId(), notParent, 0, SELFTEST, data, 4));
    fails(Errno.EINVAL, nestedRc(dev.idevId(), dev.hwptId(), 0, SELFTEST, data, 4));
  }

  @Test
  void mockDriverChecksTypeThenLengthThenReadsTheData() {
    int parent = nestParent();
    long data = selftestData(0).address();
    fails(Errno.EINVAL, nestedRc(dev.idevId(), parent, 0, 0, data, 4));
    fails(Errno.EOPNOTSUPP, nestedRc(dev.idevId(), parent, 0, SELFTEST + 1, 0, 3));
    fails(Errno.EINVAL, nestedRc(dev.idevId(), parent, 0, SELFTEST, 0, 3));
    fails(Errno.EINVAL, nestedRc(dev.idevId(), parent, 0, SELFTEST, data, 5));
    fails(Errno.EFAULT, nestedRc(dev.idevId(), parent, 0, SELFTEST, 0, 4));
    assertThat(nested(dev.idevId(), parent)).as("no id was kept").isEqualTo(parent + 1);
  }

  @Test
  void nestedHwptHasFourIotlbSlotsWithTheGivenValue() {
    int parent = nestParent();
    Struct s = nestedStruct(dev.idevId(), parent, 0, SELFTEST, selftestData(0x1234).address(), 4);
    ok(rc(s));
    int hwpt = s.u32(IommuHwptAlloc.OUT_HWPT_ID);
    for (int slot = 0; slot < 4; slot++) {
      ok(checkIotlbRc(hwpt, slot, 0x1234));
    }
  }

  @Test
  void nestedOnNestedIsEinval() {
    int nested = nested(dev.idevId(), nestParent());
    fails(Errno.EINVAL, nestedRc(dev.idevId(), nested, 0, SELFTEST, selftestData(0).address(), 4));
  }

  @Test
  void nestedHwptHoldsItsParentAndItsParentTheIoas() {
    int parent = nestParent();
    int nested = nested(dev.idevId(), parent);
    ok(destroyRc(dev.stdevId()));
    fails(Errno.EBUSY, destroyRc(parent));
    fails(Errno.EBUSY, destroyRc(ioas));
    ok(destroyRc(nested));
    ok(destroyRc(parent));
    ok(destroyRc(ioas));
  }

  @Test
  void faultIdThatIsNoFaultObjectIsEnoentAndFreesTheId() {
    int parent = nestParent();
    Struct s =
        nestedStruct(dev.idevId(), parent, FAULT_ID_VALID, SELFTEST, selftestData(0).address(), 4)
            .u32(IommuHwptAlloc.FAULT_ID, 0xffffffff);
    fails(Errno.ENOENT, rc(s));
    fails(
        Errno.ENOENT,
        nestedRc(
            dev.idevId(),
            parent,
            FAULT_ID_VALID,
            SELFTEST,
            selftestData(0).address(),
            4)); // fault_id 0
    assertThat(nested(dev.idevId(), parent)).isEqualTo(parent + 1);
    ok(destroyRc(parent + 1));
    ok(destroyRc(parent));
  }

  @Test
  void nestedHwptWithAFaultQueueHoldsTheFaultObject() {
    FaultQueue fault = faultAlloc();
    int nested = nested(dev.idevId(), nestParent(), FAULT_ID_VALID, fault.faultId());
    ok(iommufd.closeFd(fault.fd()));
    fails(Errno.EBUSY, destroyRc(fault.faultId()));
    ok(destroyRc(nested));
    ok(destroyRc(fault.faultId()));
  }

  @Test
  void mockDevicesAttachToNestedHwptsDirectlyOrByReplace() {
    int parent = nestParent();
    int first = nested(dev.idevId(), parent);
    int second = nested(dev.idevId(), parent);

    MockDev onNested = mockDomain(first);
    assertThat(onNested.hwptId()).isEqualTo(first);
    assertThat(replace(dev.stdevId(), second)).isEqualTo(second);
    fails(Errno.EBUSY, destroyRc(first));
    fails(Errno.EBUSY, destroyRc(second));
    assertThat(replace(onNested.stdevId(), parent)).isEqualTo(parent);
    ok(destroyRc(first));
    fails(Errno.EBUSY, destroyRc(parent));
  }

  @Test
  void noDirtyDeviceRefusesADirtyTrackingHwptButNotANestedOne() {
    int dirty = hwptAlloc(dev.idevId(), ioas, DIRTY_TRACKING | NEST_PARENT);
    fails(Errno.EINVAL, mockDomainRc(dirty, IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY));
    int nested = nested(dev.idevId(), dirty);
    MockDev noDirty = mockDomain(nested, IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY);
    assertThat(noDirty.hwptId()).isEqualTo(nested);
    fails(Errno.EINVAL, replaceRc(noDirty.stdevId(), dirty));
  }

  @Test
  void closeWithNestedHwptsAttachedDevicesAndMappingsReleasesEverything() {
    MemorySegment buffer = buffer(1 << 16, 1 << 21);
    int parent = nestParent();
    FaultQueue fault = faultAlloc();
    int nested = nested(dev.idevId(), parent, FAULT_ID_VALID, fault.faultId());
    mockDomain(nested);
    mapFixed(ioas, BASE, buffer);
    ok(checkRefsRc(buffer, 1));
    ok(iommufd.closeFd(fault.fd()));
    // closeAndCheckNothingIsLeft closes and checks that no object and no pin is left.
  }
}
