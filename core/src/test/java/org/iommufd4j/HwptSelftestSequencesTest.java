package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptInvalidate;
import org.iommufd4j.uapi.IommuHwptInvalidateSelftest;
import org.iommufd4j.uapi.IommuHwptPageResponse;
import org.iommufd4j.uapi.IommuHwptPgfault;
import org.iommufd4j.uapi.IommuHwptSelftest;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.IommuTestHwInfo;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The kernel selftests that exercise HWPTs, dirty tracking, invalidation and the fault queue
 * (tools/testing/selftests/iommu/iommufd.c: {@code alloc_hwpt_nested}, {@code hwpt_attach}, {@code
 * get_hw_info}, {@code alloc_hwpt}, {@code enforce_dirty}, {@code set_dirty_tracking}, {@code
 * device_dirty_capability}, {@code get_dirty_bitmap(_no_clear)}; iommufd_fail_nth.c: the {@code
 * device} sequence of {@code iommufd_fail_nth} without fault injection), ported step by step over
 * the fixtures' variants.
 */
class HwptSelftestSequencesTest extends MockDeviceFixture {
  private static final int DEFAULT = IommuHwptSelftest.IOMMU_TEST_IOTLB_DEFAULT;
  private static final int INV_TYPE = IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;

  /** Variants of the {@code iommufd_ioas} fixture (mock_domain_limit behaves as one). */
  enum IoasVariant {
    NO_DOMAIN(0),
    MOCK_DOMAIN(1),
    TWO_MOCK_DOMAIN(2);

    final int mockDomains;

    IoasVariant(int mockDomains) {
      this.mockDomains = mockDomains;
    }
  }

  private int ioasId;
  private int stdevId;
  private int hwptId;
  private int deviceId;
  private int devicePasidId;

  /**
   * The {@code iommufd_ioas} setup; the mock_domain variant adds a PASID device (selftestCompat).
   */
  private void ioasFixture(IoasVariant variant) {
    openPrivate(Configuration.builder().selftestCompat(true));
    ioasId = ioasAlloc();
    for (int i = 0; i < variant.mockDomains; i++) {
      MockDev d = mockDomain(ioasId);
      stdevId = d.stdevId();
      hwptId = d.hwptId();
      deviceId = d.idevId();
    }
    if (variant == IoasVariant.MOCK_DOMAIN) {
      devicePasidId = mockDomain(ioasId, IommuTestCmd.MOCK_FLAGS_DEVICE_PASID).idevId();
    }
  }

  // ---- alloc_hwpt_nested -------------------------------------------------------------------

  private MemorySegment invReqs;

  private void setReq(int index, int flags, int iotlbId) {
    invReqs.set(JAVA_INT, index * 8L + IommuHwptInvalidateSelftest.FLAGS, flags);
    invReqs.set(JAVA_INT, index * 8L + IommuHwptInvalidateSelftest.IOTLB_ID, iotlbId);
  }

  /** HWPT_INVALIDATE; asserts the errno (null: success) and returns the entry_num written back. */
  private int invalidate(
      Errno errno, int hwpt, MemorySegment reqs, int type, int entryLen, int num) {
    Struct s =
        struct(Command.IOMMU_HWPT_INVALIDATE)
            .u32(IommuHwptInvalidate.HWPT_ID, hwpt)
            .u64(IommuHwptInvalidate.DATA_UPTR, reqs == null ? 0 : reqs.address())
            .u32(IommuHwptInvalidate.DATA_TYPE, type)
            .u32(IommuHwptInvalidate.ENTRY_LEN, entryLen)
            .u32(IommuHwptInvalidate.ENTRY_NUM, num);
    if (errno == null) {
      ok(rc(s));
    } else {
      fails(errno, rc(s));
    }
    return s.u32(IommuHwptInvalidate.ENTRY_NUM);
  }

  private void checkIotlbAll(int hwpt, int value) {
    for (int i = 0; i < IommuHwptSelftest.MOCK_NESTED_DOMAIN_IOTLB_NUM; i++) {
      ok(checkIotlbRc(hwpt, i, value));
    }
  }

  /** {@code test_cmd_trigger_iopf}: trigger, read the one record, answer it. */
  private void triggerIopf(int devId, int faultFd) {
    ok(
        triggerIopfRc(
            devId,
            1,
            2,
            IommuHwptPgfault.IOMMU_PGFAULT_PERM_READ | IommuHwptPgfault.IOMMU_PGFAULT_PERM_WRITE,
            0xdeadbeafL));
    MemorySegment fault = arena.allocate(IommuHwptPgfault.SIZE, 8);
    assertThat(iommufd.read(faultFd, fault)).isPositive();
    MemorySegment response = arena.allocate(IommuHwptPageResponse.SIZE, 8);
    response.set(
        JAVA_INT, IommuHwptPageResponse.COOKIE, fault.get(JAVA_INT, IommuHwptPgfault.COOKIE));
    response.set(
        JAVA_INT, IommuHwptPageResponse.CODE, IommuHwptPageResponse.IOMMUFD_PAGE_RESP_SUCCESS);
    assertThat(iommufd.write(faultFd, response)).isPositive();
  }

  @ParameterizedTest
  @EnumSource(IoasVariant.class)
  void allocHwptNested(IoasVariant variant) {
    ioasFixture(variant);
    MemorySegment data = selftestData(DEFAULT);
    long d = data.address();
    int size = IommuHwptSelftest.SIZE;
    if (deviceId == 0) {
      fails(Errno.ENOENT, hwptAllocRc(deviceId, ioasId, 0));
      fails(Errno.ENOENT, nestedRc(deviceId, 0, 0, SELFTEST, d, size));
      fails(Errno.ENOENT, nestedRc(deviceId, 0, 0, SELFTEST, d, size));
      fails(Errno.ENOENT, replaceRc(stdevId, 0));
      fails(Errno.ENOENT, replaceRc(stdevId, 0));
      return;
    }
    // Negative tests
    fails(Errno.ENOENT, hwptAllocRc(ioasId, deviceId, 0));
    fails(Errno.EINVAL, hwptAllocRc(deviceId, deviceId, 0));
    fails(Errno.EOPNOTSUPP, hwptAllocRc(deviceId, ioasId, NEST_PARENT | FAULT_ID_VALID));
    int parent = hwptAlloc(deviceId, ioasId, NEST_PARENT);
    int parentNotWork = hwptAlloc(deviceId, ioasId, 0);
    // Negative nested tests
    fails(
        Errno.EINVAL, nestedRc(deviceId, parent, 0, IommuHwptAlloc.IOMMU_HWPT_DATA_NONE, d, size));
    fails(Errno.EOPNOTSUPP, nestedRc(deviceId, parent, 0, SELFTEST + 1, d, size));
    fails(Errno.EINVAL, nestedRc(deviceId, parent, 0, SELFTEST, d, size - 1));
    fails(Errno.EFAULT, nestedRc(deviceId, parent, 0, SELFTEST, 0, size));
    fails(Errno.EOPNOTSUPP, nestedRc(deviceId, parent, NEST_PARENT, SELFTEST, d, size));
    fails(Errno.EINVAL, nestedRc(deviceId, parentNotWork, 0, SELFTEST, d, size));
    // Two nested HWPTs sharing one parent, and one with a fault queue
    FaultQueue fault = faultAlloc();
    int nested0 = nested(deviceId, parent);
    int nested1 = nested(deviceId, parent);
    fails(
        Errno.ENOENT,
        rc(
            nestedStruct(deviceId, parent, FAULT_ID_VALID, SELFTEST, d, size)
                .u32(IommuHwptAlloc.FAULT_ID, 0xffffffff)));
    int iopfHwpt = nested(deviceId, parent, FAULT_ID_VALID, fault.faultId());
    checkIotlbAll(nested0, DEFAULT);
    checkIotlbAll(nested1, DEFAULT);
    // A nested HWPT on top of a nested HWPT; the parent cannot be freed now
    fails(Errno.EINVAL, nestedRc(deviceId, nested0, 0, SELFTEST, d, size));
    fails(Errno.EBUSY, destroyRc(parent));

    invReqs = arena.allocate(16, 8);
    int entry = IommuHwptInvalidateSelftest.SIZE;
    assertThat(invalidate(Errno.ENOENT, parent, invReqs, INV_TYPE, entry, 1)).isZero();
    assertThat(invalidate(null, nested0, invReqs, INV_TYPE, entry, 0)).isZero();
    assertThat(
            invalidate(
                Errno.EINVAL,
                nested0,
                invReqs,
                IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
                entry,
                1))
        .isZero();
    assertThat(invalidate(Errno.EINVAL, nested0, invReqs, INV_TYPE, entry + 1, 1)).isZero();
    assertThat(invalidate(Errno.EINVAL, nested0, invReqs, INV_TYPE, 1, 1)).isZero();
    setReq(0, 0xffffffff, 0);
    assertThat(invalidate(Errno.EOPNOTSUPP, nested0, invReqs, INV_TYPE, entry, 1)).isZero();
    setReq(0, 0, 0);
    assertThat(invalidate(Errno.EINVAL, nested0, null, INV_TYPE, entry, 1)).isZero();
    assertThat(invalidate(Errno.EINVAL, nested0, invReqs, INV_TYPE, 0, 1)).isZero();
    setReq(0, 0, IommuHwptSelftest.MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1);
    assertThat(invalidate(Errno.EINVAL, nested0, invReqs, INV_TYPE, entry, 1)).isZero();
    // The first request applies, the second fails on its flags
    setReq(0, 0, 0);
    setReq(1, 0xffffffff, 1);
    assertThat(invalidate(Errno.EOPNOTSUPP, nested0, invReqs, INV_TYPE, entry, 2)).isOne();
    ok(checkIotlbRc(nested0, 0, 0));
    ok(checkIotlbRc(nested0, 1, DEFAULT));
    ok(checkIotlbRc(nested0, 2, DEFAULT));
    ok(checkIotlbRc(nested0, 3, DEFAULT));
    // ... or on its iotlb_id
    setReq(1, 0, IommuHwptSelftest.MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1);
    assertThat(invalidate(Errno.EINVAL, nested0, invReqs, INV_TYPE, entry, 2)).isOne();
    ok(checkIotlbRc(nested0, 1, DEFAULT));
    // The second entry alone, then the third and fourth
    setReq(0, 0, 1);
    assertThat(invalidate(null, nested0, invReqs, INV_TYPE, entry, 1)).isOne();
    ok(checkIotlbRc(nested0, 0, 0));
    ok(checkIotlbRc(nested0, 1, 0));
    ok(checkIotlbRc(nested0, 2, DEFAULT));
    ok(checkIotlbRc(nested0, 3, DEFAULT));
    setReq(0, 0, 2);
    setReq(1, 0, 3);
    assertThat(invalidate(null, nested0, invReqs, INV_TYPE, entry, 2)).isEqualTo(2);
    checkIotlbAll(nested0, 0);
    // Everything of nested1 at once
    setReq(0, IommuHwptInvalidateSelftest.IOMMU_TEST_INVALIDATE_FLAG_ALL, 0);
    assertThat(invalidate(null, nested1, invReqs, INV_TYPE, entry, 1)).isOne();
    checkIotlbAll(nested1, 0);

    // Attach to nested0, which is then busy; switch to nested1 and to the faulting one
    assertThat(replace(stdevId, nested0)).isEqualTo(nested0);
    fails(Errno.EBUSY, destroyRc(nested0));
    assertThat(replace(stdevId, nested1)).isEqualTo(nested1);
    fails(Errno.EBUSY, destroyRc(nested1));
    ok(destroyRc(nested0));
    assertThat(replace(stdevId, iopfHwpt)).isEqualTo(iopfHwpt);
    fails(Errno.EBUSY, destroyRc(iopfHwpt));
    triggerIopf(deviceId, fault.fd());
    // Detach and destroy
    assertThat(replace(stdevId, parent)).isEqualTo(parent);
    ok(destroyRc(nested1));
    ok(destroyRc(iopfHwpt));
    assertThat(replace(stdevId, ioasId)).isNotEqualTo(parent);
    ok(destroyRc(parent));
    ok(destroyRc(parentNotWork));
    ok(iommufd.closeFd(fault.fd()));
    ok(destroyRc(fault.faultId()));
  }

  // ---- hwpt_attach, get_hw_info ------------------------------------------------------------

  @ParameterizedTest
  @EnumSource(IoasVariant.class)
  void hwptAttach(IoasVariant variant) {
    ioasFixture(variant);
    if (stdevId != 0) {
      assertThat(mockDomain(hwptId).hwptId()).isEqualTo(hwptId);
    } else {
      fails(Errno.ENOENT, mockDomainRc(hwptId, 0));
    }
  }

  /** The selftests' GET_HW_INFO helper: INPUT_TYPE whenever a type other than DEFAULT is asked. */
  private Struct hwInfo(int devId, int dataType, MemorySegment data, int dataLen) {
    return struct(Command.IOMMU_GET_HW_INFO)
        .u32(IommuHwInfo.DEV_ID, devId)
        .u32(
            IommuHwInfo.FLAGS,
            dataType != IommuHwInfo.IOMMU_HW_INFO_TYPE_DEFAULT
                ? IommuHwInfo.IOMMU_HW_INFO_FLAG_INPUT_TYPE
                : 0)
        .u32(IommuHwInfo.IN_DATA_TYPE, dataType)
        .u32(IommuHwInfo.DATA_LEN, dataLen)
        .u64(IommuHwInfo.DATA_UPTR, data == null ? 0 : data.address());
  }

  private void getHwInfo(int devId, int dataType, MemorySegment data, int dataLen) {
    Struct s = hwInfo(devId, dataType, data, dataLen);
    ok(rc(s));
    assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).isEqualTo(IommuHwInfo.IOMMU_HW_INFO_TYPE_SELFTEST);
    if (dataLen >= 4) {
      assertThat(data.get(JAVA_INT, IommuTestHwInfo.FLAGS)).isZero();
    }
    if (dataLen >= 8) {
      assertThat(data.get(JAVA_INT, IommuTestHwInfo.TEST_REG))
          .isEqualTo(IommuTestHwInfo.IOMMU_HW_INFO_SELFTEST_REGVAL);
    }
    if (dataLen > 8) {
      assertThat(data.asSlice(8, dataLen - 8).toArray(JAVA_BYTE)).containsOnly((byte) 0);
    }
  }

  private int maxPasid(int devId) {
    Struct s = hwInfo(devId, IommuHwInfo.IOMMU_HW_INFO_TYPE_DEFAULT, null, 0);
    ok(rc(s));
    return s.segment().get(JAVA_BYTE, IommuHwInfo.OUT_MAX_PASID_LOG2);
  }

  @ParameterizedTest
  @EnumSource(IoasVariant.class)
  void getHwInfo(IoasVariant variant) {
    ioasFixture(variant);
    int def = IommuHwInfo.IOMMU_HW_INFO_TYPE_DEFAULT;
    MemorySegment exact = arena.allocate(8, 8);
    MemorySegment larger = arena.allocate(16, 8);
    larger.fill((byte) 0xff);
    MemorySegment smaller = arena.allocate(4, 4);
    if (deviceId == 0) {
      fails(Errno.ENOENT, rc(hwInfo(deviceId, def, exact, 8)));
      fails(Errno.ENOENT, rc(hwInfo(deviceId, def, larger, 16)));
      return;
    }
    getHwInfo(deviceId, def, null, 0);
    getHwInfo(deviceId, def, exact, 8);
    fails(
        Errno.EOPNOTSUPP,
        rc(hwInfo(deviceId, IommuHwInfo.IOMMU_HW_INFO_TYPE_SELFTEST + 1, exact, 8)));
    getHwInfo(deviceId, IommuHwInfo.IOMMU_HW_INFO_TYPE_SELFTEST, exact, 8);
    getHwInfo(deviceId, def, larger, 16);
    getHwInfo(deviceId, def, smaller, 4);
    assertThat(maxPasid(deviceId)).isZero();
    if (variant == IoasVariant.MOCK_DOMAIN) {
      assertThat(maxPasid(devicePasidId)).isEqualTo(IommuTestCmd.MOCK_PASID_WIDTH);
    }
  }

  // ---- iommufd_mock_domain: alloc_hwpt -----------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {1, 2})
  void allocHwpt(int mockDomains) {
    openPrivate();
    int ioas = ioasAlloc();
    MockDev[] devs = new MockDev[mockDomains];
    for (int i = 0; i < mockDomains; i++) {
      devs[i] = mockDomain(ioas);
    }
    for (MockDev dev : devs) {
      fails(Errno.EOPNOTSUPP, hwptAllocRc(dev.idevId(), ioas, ~NEST_PARENT));
      int hwpt0 = hwptAlloc(dev.idevId(), ioas, 0);
      int hwpt1 = hwptAlloc(dev.idevId(), ioas, NEST_PARENT);
      // A hw_pagetable rotation
      replace(dev.stdevId(), hwpt0);
      fails(Errno.EBUSY, destroyRc(hwpt0));
      replace(dev.stdevId(), hwpt1);
      fails(Errno.EBUSY, destroyRc(hwpt1));
      replace(dev.stdevId(), ioas);
      ok(destroyRc(hwpt1));

      MockDev onHwpt = mockDomain(hwpt0);
      ok(destroyRc(onHwpt.stdevId()));
      ok(destroyRc(hwpt0));
    }
  }

  // ---- iommufd_dirty_tracking --------------------------------------------------------------

  @ParameterizedTest
  @ValueSource(ints = {0, IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA})
  void enforceDirty(int fixtureFlags) {
    openPrivate();
    int ioas = ioasAlloc();
    MockDev dev = mockDomain(ioas, fixtureFlags);
    int noDirty = IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY;

    int hwpt = hwptAlloc(dev.idevId(), ioas, DIRTY_TRACKING);
    MockDev attached = mockDomain(hwpt);
    fails(Errno.EINVAL, mockDomainRc(hwpt, noDirty));
    ok(destroyRc(attached.stdevId()));
    ok(destroyRc(hwpt));

    int other = ioasAlloc();
    MockDev plain = mockDomain(other, noDirty);
    fails(Errno.EOPNOTSUPP, hwptAllocRc(plain.idevId(), other, DIRTY_TRACKING));
    ok(destroyRc(plain.stdevId()));
  }

  @ParameterizedTest
  @ValueSource(ints = {0, IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA})
  void setDirtyTrackingAndDeviceDirtyCapability(int fixtureFlags) {
    openPrivate();
    int ioas = ioasAlloc();
    MockDev dev = mockDomain(ioas, fixtureFlags);
    int hwpt = hwptAlloc(dev.idevId(), ioas, DIRTY_TRACKING);
    ok(setDirtyTrackingRc(hwpt, true));
    ok(setDirtyTrackingRc(hwpt, false));
    ok(destroyRc(hwpt));

    Struct s = hwInfo(dev.idevId(), IommuHwInfo.IOMMU_HW_INFO_TYPE_DEFAULT, null, 0);
    ok(rc(s));
    assertThat(s.u64(IommuHwInfo.OUT_CAPABILITIES) & IommuHwInfo.IOMMU_HW_CAP_DIRTY_TRACKING)
        .isNotZero();
  }

  /** Variants of {@code iommufd_dirty_tracking} (128 MiB ones left out for time). */
  enum DirtyVariant {
    DOMAIN_DIRTY8K(8 << 10, false),
    DOMAIN_DIRTY16K(16 << 10, false),
    DOMAIN_DIRTY64K(64 << 10, false),
    DOMAIN_DIRTY128K(128 << 10, false),
    DOMAIN_DIRTY320K(320 << 10, false),
    DOMAIN_DIRTY64M(64 << 20, false),
    DOMAIN_DIRTY64M_HUGE(64 << 20, true);

    final long bufferSize;
    final boolean huge;

    DirtyVariant(long bufferSize, boolean huge) {
      this.bufferSize = bufferSize;
      this.huge = huge;
    }
  }

  /**
   * {@code test_mock_dirty_bitmaps}: marks the first granule of every other IO page dirty, expects
   * the whole IO page's bits, then nothing (or the same again with NO_CLEAR).
   */
  private void mockDirtyBitmaps(
      int hwpt, long length, long pteSize, MemorySegment bitmap, int flags) {
    long nbits = length / MOCK_PAGE;
    long npte = pteSize / MOCK_PAGE;
    long pteset = 2 * npte;
    MemorySegment marks = bitmap.asSlice(0, (nbits + 7) / 8);
    marks.fill((byte) 0);
    long expectedDirty = 0;
    for (long i = 0; i < nbits; i += pteset) {
      marks.set(JAVA_BYTE, i / 8, (byte) (marks.get(JAVA_BYTE, i / 8) | (1 << (i % 8))));
      expectedDirty++;
    }
    assertThat(markDirty(hwpt, BASE, length, MOCK_PAGE, marks)).isEqualTo(expectedDirty);

    for (int round = 0; round < 2; round++) {
      marks.fill((byte) 0);
      ok(getDirtyBitmapRc(hwpt, BASE, length, MOCK_PAGE, marks.address(), flags));
      BitSet got = BitSet.valueOf(marks.toArray(JAVA_BYTE));
      boolean expectSet = round == 0 || flags != 0;
      for (long i = 0; i < nbits; i += pteset) {
        for (long j = 0; j < pteset && i + j < nbits; j++) {
          assertThat(got.get((int) (i + j)))
              .as("round %d bit %d", round, i + j)
              .isEqualTo(expectSet && j < npte);
        }
      }
    }
  }

  @ParameterizedTest
  @EnumSource(DirtyVariant.class)
  void getDirtyBitmap(DirtyVariant variant) {
    runGetDirtyBitmap(variant, 0);
  }

  @ParameterizedTest
  @EnumSource(DirtyVariant.class)
  void getDirtyBitmapNoClear(DirtyVariant variant) {
    runGetDirtyBitmap(variant, IommuHwptGetDirtyBitmap.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
  }

  private void runGetDirtyBitmap(DirtyVariant variant, int flags) {
    openPrivate(Configuration.builder().memlockLimit(Configuration.UNLIMITED));
    MemorySegment buffer = buffer(variant.bufferSize, 2 << 20);
    int fixtureIoas = ioasAlloc();
    MockDev dev =
        mockDomain(fixtureIoas, variant.huge ? IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA : 0);
    long bitmapBytes = variant.bufferSize / MOCK_PAGE / 8 + 1;
    MemorySegment bitmap = arena.allocate(bitmapBytes + 4096, 4096);

    int ioas = ioasAlloc();
    mapFixed(ioas, BASE, buffer);
    int hwpt = hwptAlloc(dev.idevId(), ioas, DIRTY_TRACKING);
    ok(setDirtyTrackingRc(hwpt, true));
    long pteSize = variant.huge ? HUGE_PAGE : MOCK_PAGE;
    for (long offset : new long[] {0, MOCK_PAGE, 0xff1}) {
      mockDirtyBitmaps(hwpt, variant.bufferSize, pteSize, bitmap.asSlice(offset), flags);
    }
    ok(destroyRc(hwpt));
  }

  // ---- iommufd_fail_nth: device (the sequence, without fault injection) --------------------

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void failNthDeviceSequence(boolean selftestCompat) {
    openPrivate(Configuration.builder().selftestCompat(selftestCompat));
    MemorySegment page = buffer(4096, 4096);
    int ioas = ioasAlloc();
    int ioas2 = ioasAlloc();
    mapFixed(ioas, BASE, page);
    mapFixed(ioas2, BASE, page);

    MockDev dev = mockDomain(ioas);
    MemorySegment info = arena.allocate(IommuTestHwInfo.SIZE, 8);
    ok(rc(hwInfo(dev.idevId(), IommuHwInfo.IOMMU_HW_INFO_TYPE_DEFAULT, info, 8)));
    int hwpt = hwptAlloc(dev.idevId(), ioas, 0);
    replace(dev.stdevId(), ioas2);
    assertThat(replace(dev.stdevId(), hwpt)).isEqualTo(hwpt);
    ok(checkRefsRc(page, 1));
    assertThat(info.get(JAVA_LONG, 0) >>> 32).isEqualTo(0xdeadbeefL);
  }
}
