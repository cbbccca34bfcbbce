package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The HWPT commands for a device of the VT-d-like radix model ({@link DomainModel#vtd()}): paging
 * HWPTs of its own hardware, but no nesting, dirty tracking, hardware data or page faults, and mock
 * devices refuse its domains (hw_pagetable.c: iommufd_hwpt_alloc(); device.c:
 * iommufd_get_hw_info(); selftest.c: iommufd_test_trigger_iopf()).
 */
class HwptRadixDeviceTest extends MockDeviceFixture {
  private int ioas;
  private EmulatedDevice nic;

  @BeforeEach
  void openWithARadixDevice() {
    openPrivate();
    ioas = ioasAlloc();
    nic = iommufd.createDevice(DomainModel.vtd());
  }

  @Test
  void pagingHwptUsesTheDevicesHardwareAndTakesItsDma() {
    int hwpt = hwptAlloc(nic.id(), ioas, NEST_PARENT);
    MemorySegment buffer = buffer(4096, 4096);
    Ioas handle = iommufd.ioas(ioas);
    long iova = handle.map(buffer, Protection.READ_WRITE).iova();
    fails(Errno.EINVAL, mockDomainRc(hwpt, 0)); // a mock device refuses other hardware
    nic.attach(handle);
    assertThat(nic.hwptId()).as("explicit HWPTs are not picked automatically").isNotEqualTo(hwpt);
    assertThat(nic.translate(iova)).isEqualTo(buffer.address());
    nic.close();
    ok(destroyRc(hwpt));
  }

  @Test
  void noDirtyTrackingAndNoNesting() {
    fails(Errno.EOPNOTSUPP, hwptAllocRc(nic.id(), ioas, DIRTY_TRACKING));
    int parent = hwptAlloc(nic.id(), ioas, NEST_PARENT);
    fails(Errno.EOPNOTSUPP, nestedRc(nic.id(), parent, 0, SELFTEST, selftestData(0).address(), 4));
    MockDev mock = mockDomain(ioasAlloc());
    fails(Errno.EINVAL, nestedRc(mock.idevId(), parent, 0, SELFTEST, selftestData(0).address(), 4));
    nic.close();
  }

  @Test
  void hardwareInfoIsTypeNoneWithoutDataOrCapabilities() {
    MemorySegment data = buffer(8, 8);
    Struct s =
        struct(Command.IOMMU_GET_HW_INFO)
            .u32(IommuHwInfo.DEV_ID, nic.id())
            .u32(IommuHwInfo.DATA_LEN, 8)
            .u64(IommuHwInfo.DATA_UPTR, data.address());
    ok(rc(s));
    assertThat(s.u32(IommuHwInfo.OUT_DATA_TYPE)).isEqualTo(IommuHwInfo.IOMMU_HW_INFO_TYPE_NONE);
    assertThat(s.u32(IommuHwInfo.DATA_LEN)).isZero();
    assertThat(s.u64(IommuHwInfo.OUT_CAPABILITIES)).isZero();
    assertThat(data.toArray(ValueLayout.JAVA_BYTE)).as("zero filled").containsOnly((byte) 0);
    nic.close();
  }

  @Test
  void triggerIopfOnADeviceThatIsNoMockIsEinval() {
    fails(Errno.EINVAL, triggerIopfRc(nic.id(), 0, 1, 1, 0x1000));
    fails(Errno.ENOENT, rc(testCmd(IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF, 0)));
    nic.close();
  }
}
