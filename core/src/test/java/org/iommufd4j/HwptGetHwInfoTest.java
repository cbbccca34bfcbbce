package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.IommuTestHwInfo;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/**
 * IOMMU_GET_HW_INFO (device.c: iommufd_get_hw_info()) of mock devices, and the opt-in
 * selftest-compatibility extension (PASID mock device, INPUT_TYPE flag), as the selftests {@code
 * get_hw_info} and {@code device_dirty_capability} use them.
 */
class HwptGetHwInfoTest extends MockDeviceFixture {
  private static final int SELFTEST_TYPE = IommuHwInfo.IOMMU_HW_INFO_TYPE_SELFTEST;

  private Struct hwInfo(int devId, MemorySegment data, int dataLen) {
    return struct(Command.IOMMU_GET_HW_INFO)
        .u32(IommuHwInfo.DEV_ID, devId)
        .u32(IommuHwInfo.DATA_LEN, dataLen)
        .u64(IommuHwInfo.DATA_UPTR, data == null ? 0 : data.address());
  }

  private MemorySegment filled(long bytes, int value) {
    MemorySegment s = arena.allocate(bytes, 8);
    s.fill((byte) value);
    return s;
  }

  private MockDev device(int flags) {
    openPrivate();
    return mockDomain(ioasAlloc(), flags);
  }

  @Test
  void mockDeviceReportsTheSelftestTypeItsDataAndDirtyTracking() {
    MockDev dev = device(0);
    MemorySegment data = filled(8, 0xff);

    Struct s = hwInfo(dev.idevId(), data, 8);
    ok(rc(s));

    assertThat(s.u32(IommuHwInfo.DATA_LEN)).isEqualTo(IommuTestHwInfo.SIZE);
    assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).isEqualTo(SELFTEST_TYPE);
    assertThat(s.segment().get(JAVA_BYTE, IommuHwInfo.OUT_MAX_PASID_LOG2)).isZero();
    assertThat(s.u64(IommuHwInfo.OUT_CAPABILITIES))
        .isEqualTo(IommuHwInfo.IOMMU_HW_CAP_DIRTY_TRACKING);
    assertThat(data.get(JAVA_INT, IommuTestHwInfo.FLAGS)).isZero();
    assertThat(data.get(JAVA_INT, IommuTestHwInfo.TEST_REG))
        .isEqualTo(IommuTestHwInfo.IOMMU_HW_INFO_SELFTEST_REGVAL);
  }

  @Test
  void noDirtyDeviceHasNoCapabilities() {
    MockDev dev = device(IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY);
    Struct s = hwInfo(dev.idevId(), null, 0);
    ok(rc(s));
    assertThat(s.u64(IommuHwInfo.OUT_CAPABILITIES)).isZero();
  }

  @Test
  void dataLenZeroWritesNothingAndReportsTheDriverSize() {
    MockDev dev = device(0);
    Struct s = hwInfo(dev.idevId(), null, 0);
    ok(rc(s));
    assertThat(s.u32(IommuHwInfo.DATA_LEN)).isEqualTo(8);
  }

  @Test
  void shorterBufferGetsAPrefixAndLongerOneIsZeroFilled() {
    MockDev dev = device(0);
    MemorySegment small = filled(8, 0xff);
    ok(rc(hwInfo(dev.idevId(), small, 4)));
    assertThat(small.get(JAVA_INT, 0)).isZero();
    assertThat(small.get(JAVA_INT, 4)).as("beyond data_len: untouched").isEqualTo(-1);

    MemorySegment large = filled(24, 0xff);
    Struct s = hwInfo(dev.idevId(), large, 20);
    ok(rc(s));
    assertThat(s.u32(IommuHwInfo.DATA_LEN)).isEqualTo(8);
    assertThat(large.get(JAVA_INT, 4)).isEqualTo(IommuTestHwInfo.IOMMU_HW_INFO_SELFTEST_REGVAL);
    assertThat(large.asSlice(8, 12).toArray(JAVA_BYTE)).containsOnly((byte) 0);
    assertThat(large.get(JAVA_INT, 20)).as("beyond data_len: untouched").isEqualTo(-1);
  }

  @Test
  void flagsAndReservedBytesAreEopnotsuppBeforeTheDeviceLookup() {
    openPrivate();
    fails(Errno.EOPNOTSUPP, rc(hwInfo(0, null, 0).u32(IommuHwInfo.FLAGS, 1)));
    for (int i = 0; i < IommuHwInfo.RESERVED_BYTES; i++) {
      Struct s = hwInfo(0, null, 0);
      s.segment().set(JAVA_BYTE, IommuHwInfo.RESERVED + i, (byte) 1);
      fails(Errno.EOPNOTSUPP, rc(s));
    }
  }

  @Test
  void outputFieldsInTheInputAreIgnored() {
    MockDev dev = device(0);
    Struct s = hwInfo(dev.idevId(), null, 0).u32(IommuHwInfo.OUT_DATA_TYPE, 77);
    s.segment().set(JAVA_BYTE, IommuHwInfo.OUT_MAX_PASID_LOG2, (byte) 9);
    ok(rc(s));
    assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).isEqualTo(SELFTEST_TYPE);
  }

  @Test
  void unknownDeviceIsEnoent() {
    openPrivate();
    int ioas = ioasAlloc();
    MockDev dev = mockDomain(ioas);
    fails(Errno.ENOENT, rc(hwInfo(0, null, 0)));
    fails(Errno.ENOENT, rc(hwInfo(ioas, null, 0)));
    fails(Errno.ENOENT, rc(hwInfo(dev.stdevId(), null, 0)));
  }

  @Test
  void aStructOf32BytesGetsEverythingButTheCapabilities() {
    MockDev dev = device(0);
    Struct s =
        Struct.of(arena, Command.IOMMU_GET_HW_INFO)
            .size(IommuHwInfo.MIN_SIZE)
            .u32(IommuHwInfo.DEV_ID, dev.idevId())
            .u64(IommuHwInfo.OUT_CAPABILITIES, 0x5a5a);
    ok(rc(s));
    assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).isEqualTo(SELFTEST_TYPE);
    assertThat(s.u64(IommuHwInfo.OUT_CAPABILITIES)).as("beyond size: untouched").isEqualTo(0x5a5a);
  }

  @Test
  void unwritableDataBufferIsEfault() {
    MockDev dev = device(0);
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_READ);
      Struct s =
          struct(Command.IOMMU_GET_HW_INFO)
              .u32(IommuHwInfo.DEV_ID, dev.idevId())
              .u32(IommuHwInfo.DATA_LEN, 8)
              .u64(IommuHwInfo.DATA_UPTR, pages.page(0));
      fails(Errno.EFAULT, rc(s));
      assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).as("struct not written").isZero();
    }
  }

  @Test
  void unwritableTailOfALongerBufferIsEfault() {
    MockDev dev = device(0);
    try (NativePages pages = NativePages.map(2)) {
      pages.protect(1, NativePages.PROT_READ);
      MemorySegment data = NativePages.segment(pages.page(1) - 8, 8);
      fails(Errno.EFAULT, rc(hwInfo(dev.idevId(), data, 16)));
      assertThat(data.get(JAVA_INT, 4))
          .as("the driver data was written first")
          .isEqualTo(IommuTestHwInfo.IOMMU_HW_INFO_SELFTEST_REGVAL);
    }
  }

  @Test
  void respondFaultIsEfaultAfterTheDataWasWritten() {
    MockDev dev = device(0);
    MemorySegment data = filled(8, 0xff);
    int rc =
        ioctlWithReadOnlyTail(
            Command.IOMMU_GET_HW_INFO,
            IommuHwInfo.OUT_DATA_TYPE,
            s ->
                s.u32(IommuHwInfo.DEV_ID, dev.idevId())
                    .u32(IommuHwInfo.DATA_LEN, 8)
                    .u64(IommuHwInfo.DATA_UPTR, data.address()));
    fails(Errno.EFAULT, rc);
    assertThat(data.get(JAVA_INT, 4)).isEqualTo(IommuTestHwInfo.IOMMU_HW_INFO_SELFTEST_REGVAL);
  }

  // ---- strict 6.12 by default, the later identifiers with selftestCompat -----------------------

  @Test
  void strictKernelRefusesThePasidDeviceFlagAndTheInputTypeFlag() {
    MockDev dev = device(0);
    int ioas = ioasAlloc();
    fails(Errno.EINVAL, mockDomainRc(ioas, IommuTestCmd.MOCK_FLAGS_DEVICE_PASID));
    fails(
        Errno.EOPNOTSUPP,
        rc(
            hwInfo(dev.idevId(), null, 0)
                .u32(IommuHwInfo.FLAGS, IommuHwInfo.IOMMU_HW_INFO_FLAG_INPUT_TYPE)));
  }

  @Test
  void compatibilityExtensionReportsPasidWidth20ForThePasidDeviceOnly() {
    openPrivate(Configuration.builder().selftestCompat(true));
    int ioas = ioasAlloc();
    MockDev plain = mockDomain(ioas);
    MockDev pasid = mockDomain(ioas, IommuTestCmd.MOCK_FLAGS_DEVICE_PASID);
    assertThat(pasid.hwptId()).as("one shared automatic HWPT").isEqualTo(plain.hwptId());

    Struct s = hwInfo(pasid.idevId(), null, 0);
    ok(rc(s));
    assertThat(s.segment().get(JAVA_BYTE, IommuHwInfo.OUT_MAX_PASID_LOG2))
        .isEqualTo((byte) IommuTestCmd.MOCK_PASID_WIDTH);
    Struct p = hwInfo(plain.idevId(), null, 0);
    ok(rc(p));
    assertThat(p.segment().get(JAVA_BYTE, IommuHwInfo.OUT_MAX_PASID_LOG2)).isZero();
    fails(Errno.EINVAL, mockDomainRc(ioas, 1 << 3));
  }

  @Test
  void compatibilityExtensionChecksTheRequestedTypeOnlyWithInputType() {
    openPrivate(Configuration.builder().selftestCompat(true));
    MockDev dev = mockDomain(ioasAlloc());
    int inputType = IommuHwInfo.IOMMU_HW_INFO_FLAG_INPUT_TYPE;
    for (int type : new int[] {IommuHwInfo.IOMMU_HW_INFO_TYPE_DEFAULT, SELFTEST_TYPE}) {
      Struct s =
          hwInfo(dev.idevId(), null, 0)
              .u32(IommuHwInfo.FLAGS, inputType)
              .u32(IommuHwInfo.IN_DATA_TYPE, type);
      ok(rc(s));
      assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).isEqualTo(SELFTEST_TYPE);
    }
    fails(
        Errno.EOPNOTSUPP,
        rc(
            hwInfo(dev.idevId(), null, 0)
                .u32(IommuHwInfo.FLAGS, inputType)
                .u32(IommuHwInfo.IN_DATA_TYPE, IommuHwInfo.IOMMU_HW_INFO_TYPE_INTEL_VTD)));
    ok(rc(hwInfo(dev.idevId(), null, 0).u32(IommuHwInfo.IN_DATA_TYPE, 1)));
    fails(Errno.EOPNOTSUPP, rc(hwInfo(dev.idevId(), null, 0).u32(IommuHwInfo.FLAGS, 2)));
    fails(
        Errno.ENOENT,
        rc(hwInfo(0, null, 0).u32(IommuHwInfo.FLAGS, inputType).u32(IommuHwInfo.IN_DATA_TYPE, 1)));
  }
}
