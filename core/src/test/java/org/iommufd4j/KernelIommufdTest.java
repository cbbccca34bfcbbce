package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * {@link Iommufd#kernel()}: on a machine without {@code /dev/iommu} it must fail with a message
 * naming the path and the errno; with one, the scenarios below run on the real kernel. Every kernel
 * scenario aborts (skips) with the reason {@code open} gave when there is no usable {@code
 * /dev/iommu}; none passes without having run. The same typed code also runs against the emulator
 * in every conformance test ({@link FrontDoor#TYPED_OVER_IOCTL}).
 */
class KernelIommufdTest {
  private static final Path DEV_IOMMU = Path.of("/dev/iommu");

  private final Arena arena = Arena.ofConfined();
  private Iommufd kernel;

  /** The real kernel, or the test is skipped with the reason open(2) gave. */
  private Iommufd kernel() {
    try {
      kernel = Iommufd.kernel();
      return kernel;
    } catch (IommufdException e) {
      Assumptions.abort("no usable real /dev/iommu: " + e.getMessage());
      throw new AssertionError("unreachable");
    }
  }

  @AfterEach
  void closeKernel() {
    if (kernel != null) {
      kernel.close();
    }
    arena.close();
  }

  private MemorySegment buffer(long size) {
    return arena.allocate(size, 2L << 20);
  }

  @Test
  void withoutDevIommuOpeningFailsNamingThePathAndErrno() {
    Assumptions.assumeFalse(Files.exists(DEV_IOMMU), "this machine has a /dev/iommu");
    assertThatThrownBy(Iommufd::kernel)
        .isInstanceOf(IommufdException.class)
        .hasMessageContaining("/dev/iommu")
        .hasMessageContaining("ENOENT")
        .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.ENOENT));
  }

  @Test
  void openingAMissingNodeFailsWithEnoentNamingIt() {
    assertThatThrownBy(() -> Iommufd.kernel("/nonexistent/iommufd4j-iommu"))
        .isInstanceOf(IommufdException.class)
        .hasMessageContaining("/nonexistent/iommufd4j-iommu")
        .hasMessageContaining("errno 2")
        .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.ENOENT));
  }

  @Test
  void openingANodeThatIsNotIommufdGivesEnottyPerIoctl() {
    // /dev/null opens fine, so this exercises the kernel backend's ioctl path on any machine.
    try (Iommufd notIommufd = Iommufd.kernel("/dev/null")) {
      assertThatThrownBy(notIommufd::createIoas)
          .isInstanceOf(IommufdException.class)
          .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.ENOTTY))
          .hasMessageContaining("IOMMU_IOAS_ALLOC");
      MemorySegment s = arena.allocate(IommuIoasAlloc.SIZE, 8);
      s.set(ValueLayout.JAVA_INT, 0, IommuIoasAlloc.SIZE);
      assertThat(notIommufd.ioctl(Command.IOMMU_IOAS_ALLOC.request(), s))
          .isEqualTo(-Errno.ENOTTY.number());
      notIommufd.close();
      assertThat(notIommufd.ioctl(Command.IOMMU_IOAS_ALLOC.request(), s))
          .as("after close")
          .isEqualTo(-Errno.EBADF.number());
      assertThatThrownBy(notIommufd::createIoas)
          .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.EBADF));
    }
  }

  @Test
  void createDeviceIsUnsupported() {
    try (Iommufd notIommufd = Iommufd.kernel("/dev/null")) {
      assertThatThrownBy(() -> notIommufd.createDevice(DomainModel.vtd()))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessageContaining("emulated");
    }
  }

  @Test
  void closeFdRefusesTheIommufdItself() {
    try (Iommufd notIommufd = Iommufd.kernel("/dev/null")) {
      assertThat(notIommufd.closeFd(-1)).isEqualTo(-Errno.EBADF.number());
    }
  }

  // ---- scenarios that need the real kernel ---------------------------------------------------

  @Test
  void mapAndUnmapOnTheRealKernel() {
    Iommufd k = kernel();
    Ioas ioas = k.createIoas();
    assertThat(ioas.id()).isPositive();
    MemorySegment buf = buffer(1 << 20);
    Mapping m = ioas.map(buf, Protection.READ_WRITE);
    assertThat(ioas.unmap(m)).isEqualTo(1 << 20);
    ioas.mapFixed(0x100_0000L, buf, Protection.READ);
    assertThatThrownBy(() -> ioas.mapFixed(0x100_0000L, buf, Protection.READ))
        .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.EEXIST));
    assertThat(ioas.unmapAll()).isEqualTo(1 << 20);
  }

  @Test
  void iovaRangesAndAllowIovasOnTheRealKernel() {
    Iommufd k = kernel();
    Ioas ioas = k.createIoas();
    IovaRanges ranges = ioas.iovaRanges();
    assertThat(ranges.ranges()).isNotEmpty();
    ioas.allowIovas(List.of(new IovaRange(0x10_0000L, 0xff_ffffL)));
    MemorySegment buf = buffer(1 << 20);
    assertThat(ioas.map(buf, Protection.READ).iova()).isEqualTo(0x10_0000L);
  }

  @Test
  void destroyedIoasAnswersEnoentOnTheRealKernel() {
    Iommufd k = kernel();
    Ioas ioas = k.createIoas();
    int id = ioas.id();
    ioas.close();
    assertThatThrownBy(() -> k.destroy(id))
        .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.ENOENT));
    assertThatThrownBy(() -> k.ioas(id))
        .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.ENOENT));
  }

  @Test
  void typedHwptCallsOnTheRealKernelsMockDevice() {
    Iommufd k = kernel();
    Ioas ioas = k.createIoas();
    MemorySegment md = arena.allocate(IommuTestCmd.SIZE, 8);
    md.set(ValueLayout.JAVA_INT, 0, IommuTestCmd.SIZE);
    md.set(ValueLayout.JAVA_INT, IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN);
    md.set(ValueLayout.JAVA_INT, IommuTestCmd.ID, ioas.id());
    int rc = k.ioctl(Command.IOMMU_TEST_CMD.request(), md);
    Assumptions.assumeTrue(rc == 0, "the kernel has no IOMMUFD_TEST mock devices (" + rc + ")");
    int idev = md.get(ValueLayout.JAVA_INT, IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID);
    HwInfo info = k.hwInfo(idev);
    assertThat(info.type()).isEqualTo(0xfeedbeef);
    assertThat(info.dirtyTracking()).isTrue();
    assertThat(info.data()).hasSize(8);
    ioas.mapFixed(1L << 24, buffer(2L << 20), Protection.READ_WRITE);
    try (Hwpt hwpt = k.allocHwpt(idev, ioas.id(), HwptFlag.DIRTY_TRACKING)) {
      hwpt.setDirtyTracking(true);
      assertThat(hwpt.readDirtyBitmap(1L << 24, 2L << 20, 4096, true)).isEqualTo(new BitSet());
      assertThatThrownBy(() -> hwpt.readDirtyBitmap(1L << 24, 0, 4096, true))
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }
    assertThatThrownBy(() -> k.allocHwpt(idev, 4242))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
  }

  /** An IOMMU_TEST_CMD on the kernel: {@code op}, {@code id}, then u32 fields from offset 16. */
  private MemorySegment testCmd(Iommufd k, int op, int id, int... fields) {
    MemorySegment c = arena.allocate(IommuTestCmd.SIZE, 8);
    c.set(ValueLayout.JAVA_INT, 0, IommuTestCmd.SIZE);
    c.set(ValueLayout.JAVA_INT, IommuTestCmd.OP, op);
    c.set(ValueLayout.JAVA_INT, IommuTestCmd.ID, id);
    for (int i = 0; i < fields.length; i++) {
      c.set(ValueLayout.JAVA_INT, 16 + 4L * i, fields[i]);
    }
    int rc = k.ioctl(Command.IOMMU_TEST_CMD.request(), c);
    Assumptions.assumeTrue(
        rc == 0 || op != IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN,
        "the kernel has no IOMMUFD_TEST mock devices (" + rc + ")");
    assertThat(rc).as("test op %d", op).isZero();
    return c;
  }

  @Test
  void typedFaultQueueOnTheRealKernelsMockDevice() {
    Iommufd k = kernel();
    Ioas ioas = k.createIoas();
    MemorySegment md = testCmd(k, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, ioas.id());
    int stdev = md.get(ValueLayout.JAVA_INT, IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID);
    int idev = md.get(ValueLayout.JAVA_INT, IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID);
    try (Hwpt parent = k.allocHwpt(idev, ioas.id(), HwptFlag.NEST_PARENT);
        FaultQueue faults = k.allocFaultQueue()) {
      Hwpt nested =
          k.allocNestedHwpt(
              idev,
              parent.id(),
              0xdead,
              new byte[] {(byte) 0xef, (byte) 0xbe, (byte) 0xad, 0x0b},
              faults);
      testCmd(k, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdev, nested.id());
      assertThat(faults.read(4)).isEmpty();
      testCmd(k, IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF, 0, idev, 0, 7, 1, 0xb000, 0);
      assertThat(faults.read(4))
          .singleElement()
          .satisfies(
              f -> {
                assertThat(f.deviceId()).isEqualTo(idev);
                assertThat(f.groupId()).isEqualTo(7);
                assertThat(f.address()).isEqualTo(0xb000);
                assertThat(f.cookie()).isEqualTo(1);
              });
      faults.respond(1, true);
      testCmd(
          k,
          IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
          stdev,
          ioas.id()); // off both HWPTs, so they can go
      nested.close();
    }
  }

  @Test
  void emulatorAndKernelAgreeOnAScenario() {
    Iommufd k = kernel();
    try (Iommufd emulated = Iommufd.emulated()) {
      for (Iommufd i : List.of(k, emulated)) {
        Ioas a = i.createIoas();
        Ioas b = i.createIoas();
        MemorySegment buf = buffer(2 << 20);
        Mapping m = a.map(buf, Protection.READ_WRITE);
        Mapping c = b.copy(a, m.iova(), m.length(), Protection.READ);
        assertThat(c.iova()).as(i.toString()).isEqualTo(m.iova());
        assertThatThrownBy(() -> a.unmap(m.iova(), 4096))
            .as(i.toString())
            .satisfies(e -> assertThat(((IommufdException) e).errno()).isEqualTo(Errno.ENOENT));
      }
    }
  }
}
