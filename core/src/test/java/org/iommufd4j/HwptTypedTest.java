package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.BitSet;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The typed HWPT calls ({@link Iommufd#hwInfo}, {@link Iommufd#allocHwpt}, {@link Hwpt}) and what
 * an emulated device's DMA does to a dirty-tracking HWPT (hw_pagetable.c: iommufd_hwpt_alloc(),
 * iommufd_hwpt_set_dirty_tracking(), iommufd_hwpt_get_dirty_bitmap(); device.c:
 * iommufd_get_hw_info()).
 */
class HwptTypedTest {
  private static final long PAGE = 4096;
  private static final long IOVA = 1L << 24; // the mock aperture's start

  private Arena arena;
  private Iommufd iommufd;
  private Ioas ioas;
  private MemorySegment buffer;

  @BeforeEach
  void open() {
    arena = Arena.ofConfined();
    iommufd =
        Iommufd.emulated(
            Configuration.builder()
                .privateHost(true)
                .memlockLimit(Configuration.UNLIMITED)
                .build());
    ioas = iommufd.createIoas();
    buffer = arena.allocate(16 * PAGE, PAGE);
  }

  @AfterEach
  void close() {
    iommufd.close();
    arena.close();
  }

  private static void assertErrno(Runnable call, Errno errno) {
    assertThatThrownBy(call::run)
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(errno));
  }

  @Test
  void hwInfoOfAMockDeviceIsTheSelftestTypeWithDirtyTracking() {
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock())) {
      HwInfo info = iommufd.hwInfo(dev.id());
      assertThat(info.type()).isEqualTo(0xfeedbeef);
      assertThat(info.dirtyTracking()).isTrue();
      assertThat(info.maxPasidLog2()).isZero();
      assertThat(info.data()).hasSize(8); // struct iommu_test_hw_info
    }
    assertErrno(() -> iommufd.hwInfo(4242), Errno.ENOENT);
  }

  @Test
  void aDeviceWriteThroughADirtyTrackingHwptIsInTheBitmapUntilACleaningRead() {
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
        Hwpt hwpt = iommufd.allocHwpt(dev.id(), ioas.id(), HwptFlag.DIRTY_TRACKING)) {
      dev.attach(hwpt);
      assertThat(dev.hwptId()).isEqualTo(hwpt.id());
      ioas.mapFixed(IOVA, buffer, Protection.READ_WRITE);
      hwpt.setDirtyTracking(true);
      assertThat(hwpt.readDirtyBitmap(IOVA, 16 * PAGE, PAGE, true)).isEqualTo(new BitSet());

      dev.dmaWrite(IOVA + 3 * PAGE + 100, arena.allocate(PAGE)); // pages 3 and 4
      dev.dmaRead(IOVA + 9 * PAGE, arena.allocate(64)); // reads dirty nothing
      BitSet expected = new BitSet();
      expected.set(3, 5);
      assertThat(hwpt.readDirtyBitmap(IOVA, 16 * PAGE, PAGE, false)).isEqualTo(expected);
      assertThat(hwpt.readDirtyBitmap(IOVA, 16 * PAGE, PAGE, true))
          .as("kept by NO_CLEAR")
          .isEqualTo(expected);
      assertThat(hwpt.readDirtyBitmap(IOVA, 16 * PAGE, PAGE, true))
          .as("cleared")
          .isEqualTo(new BitSet());

      hwpt.setDirtyTracking(false);
      dev.dmaWrite(IOVA, arena.allocate(8));
      assertThat(
              catchThrowableOfType(
                  IommufdException.class, () -> hwpt.readDirtyBitmap(IOVA, 16 * PAGE, PAGE, true)))
          .as("not tracking: EINVAL, as the kernel's drivers answer")
          .extracting(IommufdException::errno)
          .isEqualTo(Errno.EINVAL);
      dev.detach();
    }
  }

  @Test
  void theBitmapsArgumentsAreCheckedAsTheKernelChecksThem() {
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
        Hwpt hwpt = iommufd.allocHwpt(dev.id(), ioas.id(), HwptFlag.DIRTY_TRACKING)) {
      assertErrno(() -> hwpt.readDirtyBitmap(IOVA, 0, PAGE, true), Errno.EINVAL);
      assertErrno(() -> hwpt.readDirtyBitmap(-PAGE, 2 * PAGE, PAGE, true), Errno.EOVERFLOW);
      assertErrno(() -> hwpt.readDirtyBitmap(IOVA + 1, PAGE, PAGE, true), Errno.EINVAL);
      assertErrno(() -> hwpt.readDirtyBitmap(IOVA, PAGE, 0, true), Errno.EINVAL);
    }
  }

  @Test
  void dirtyTrackingNeedsTheFlagAndACapableIommu() {
    try (EmulatedDevice mock = iommufd.createDevice(DomainModel.selftestMock());
        Hwpt plain = iommufd.allocHwpt(mock.id(), ioas.id())) {
      assertErrno(() -> plain.setDirtyTracking(true), Errno.EOPNOTSUPP);
      assertErrno(() -> plain.readDirtyBitmap(IOVA, PAGE, PAGE, true), Errno.EOPNOTSUPP);
    }
    try (EmulatedDevice vtd = iommufd.createDevice(DomainModel.vtd())) {
      HwInfo info = iommufd.hwInfo(vtd.id());
      if (!info.dirtyTracking()) {
        assertErrno(
            () -> iommufd.allocHwpt(vtd.id(), ioas.id(), HwptFlag.DIRTY_TRACKING),
            Errno.EOPNOTSUPP);
      }
    }
  }

  /**
   * TRIGGER_IOPF (selftest.c: iommufd_test_trigger_iopf()): the mock device reports a page request.
   */
  private void triggerIopf(int idev, int group, long address) {
    MemorySegment cmd = arena.allocate(IommuTestCmd.SIZE, 8);
    cmd.set(ValueLayout.JAVA_INT, 0, IommuTestCmd.SIZE);
    cmd.set(ValueLayout.JAVA_INT, IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF);
    cmd.set(ValueLayout.JAVA_INT, IommuTestCmd.TRIGGER_IOPF_DEV_ID, idev);
    cmd.set(ValueLayout.JAVA_INT, IommuTestCmd.TRIGGER_IOPF_GRPID, group);
    cmd.set(ValueLayout.JAVA_INT, IommuTestCmd.TRIGGER_IOPF_PERM, 1);
    cmd.set(ValueLayout.JAVA_LONG, IommuTestCmd.TRIGGER_IOPF_ADDR, address);
    assertThat(iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), cmd)).isZero();
  }

  /** {@code struct iommu_hwpt_selftest}: the mock's nested data, its IOTLB default. */
  private static final byte[] SELFTEST_DATA = {(byte) 0xef, (byte) 0xbe, (byte) 0xad, 0x0b};

  @Test
  void faultsOfADeviceOnANestedHwptAreReadAndAnsweredThroughItsQueue() {
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
        Hwpt parent = iommufd.allocHwpt(dev.id(), ioas.id(), HwptFlag.NEST_PARENT);
        FaultQueue faults = iommufd.allocFaultQueue()) {
      Hwpt nested = iommufd.allocNestedHwpt(dev.id(), parent.id(), 0xdead, SELFTEST_DATA, faults);
      dev.attach(nested);
      assertThat(faults.read(4)).isEmpty();
      triggerIopf(dev.id(), 7, 0xdead_b000L);
      triggerIopf(dev.id(), 8, 0xbeef_0000L);
      List<PageFault> got = faults.read(1);
      assertThat(got)
          .singleElement()
          .satisfies(
              f -> {
                assertThat(f.deviceId()).isEqualTo(dev.id());
                assertThat(f.groupId()).isEqualTo(7);
                assertThat(f.address()).isEqualTo(0xdead_b000L);
                assertThat(f.permissions()).isEqualTo(1);
                assertThat(f.cookie()).isEqualTo(1);
              });
      assertThat(faults.read(4)).extracting(PageFault::groupId).containsExactly(8);
      faults.respond(1, true);
      faults.respond(2, false);
      assertThatThrownBy(() -> faults.respond(1, true))
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
      assertThatThrownBy(
              () -> iommufd.allocNestedHwpt(dev.id(), nested.id(), 0xdead, SELFTEST_DATA, null))
          .as("a nested HWPT is no parent")
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
      dev.detach();
      nested.close();
    }
  }

  @Test
  void aHwptInUseCannotBeDestroyedAndUnknownIdsAreRefused() {
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock())) {
      Hwpt hwpt = iommufd.allocHwpt(dev.id(), ioas.id(), HwptFlag.NEST_PARENT);
      dev.attach(hwpt);
      assertErrno(hwpt::close, Errno.EBUSY);
      dev.detach();
      hwpt.close();
      assertErrno(hwpt::close, Errno.ENOENT);
      assertErrno(() -> iommufd.allocHwpt(4242, ioas.id()), Errno.ENOENT);
      // pt_id lookup (hw_pagetable.c: iommufd_hwpt_alloc())
      assertErrno(() -> iommufd.allocHwpt(dev.id(), 4242), Errno.EINVAL);
    }
  }
}
