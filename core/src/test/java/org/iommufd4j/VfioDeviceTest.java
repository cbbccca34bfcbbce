package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.iommufd4j.EduRig.DMA_DST;
import static org.iommufd4j.EduRig.EDU_BUFFER;
import static org.iommufd4j.EduRig.FACTORIAL;
import static org.iommufd4j.EduRig.ID;
import static org.iommufd4j.EduRig.IRQ_ACK;
import static org.iommufd4j.EduRig.IRQ_RAISE;
import static org.iommufd4j.EduRig.IRQ_STATUS;
import static org.iommufd4j.EduRig.LIVENESS;
import static org.iommufd4j.EduRig.STATUS;
import static org.iommufd4j.EduRig.assertErrno;
import static org.iommufd4j.EduRig.dma;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A Java edu driver through the typed VFIO API, on both backends: what the real kernel's
 * transcripts ({@code bridge/src/test/resources/oracle/edu_cdev.txt}) show for the same calls.
 */
class VfioDeviceTest {
  private static final long SEED = Long.getLong("seed", 1313);
  private static final Duration WAIT = Duration.ofSeconds(5);
  private static final Duration QUIET = Duration.ofMillis(200);

  private EduRig rig;
  private final Arena arena = Arena.ofShared();

  private EduRig rig(String backend) {
    rig = EduRig.on(backend);
    return rig;
  }

  @AfterEach
  void close() {
    if (rig != null) {
      rig.close();
    }
    arena.close();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void aDriverComputesAFactorialThroughBar0(String backend) throws InterruptedException {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    assertThat(bar0.readInt(ID)).isEqualTo(0x010000ed);
    bar0.writeInt(LIVENESS, 0xcafef00d);
    assertThat(bar0.readInt(LIVENESS)).isEqualTo(~0xcafef00d);
    bar0.writeInt(FACTORIAL, 10);
    EduRig.awaitFactorial(bar0);
    assertThat(bar0.readInt(FACTORIAL)).isEqualTo(3628800);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void aDriverComputesAFactorialThroughAMappingOfBar0(String backend) throws InterruptedException {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    assertThat(bar0.mappable()).isTrue();
    try (MappedRegion regs = bar0.map()) {
      assertThat(regs.byteSize()).isEqualTo(0x100000);
      assertThat(regs.readInt(ID)).isEqualTo(0x010000ed);
      regs.writeInt(FACTORIAL, 12);
      for (int i = 0; i < 10_000 && (regs.readInt(STATUS) & 1) != 0; i++) {
        Thread.sleep(1);
      }
      assertThat(regs.readInt(FACTORIAL)).isEqualTo(479001600);
      regs.writeLong(DMA_DST, 0xdeadbeefL);
      assertThat(regs.readLong(DMA_DST)).isEqualTo(0xdeadbeefL);
      assertThat(bar0.readLong(DMA_DST)).as("pread agrees").isEqualTo(0xdeadbeefL);
    }
    try (MappedRegion page = bar0.map(0x1000, 0x1000)) {
      assertThat(page.readInt(0)).as("offset 0x1000 of BAR0: no register").isEqualTo(-1);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void edusDmaEngineCopiesJavaMemoryThroughTheIoasAndBack(String backend)
      throws InterruptedException {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    MemorySegment memory = arena.allocate(0x4000, 4096);
    long iova = 0x100000;
    rig.ioas.mapFixed(iova, memory, Protection.READ_WRITE);
    byte[] sent = new byte[1024];
    new SplittableRandom(SEED).nextBytes(sent);
    memory.asSlice(0, sent.length).copyFrom(MemorySegment.ofArray(sent));

    dma(bar0, iova, EDU_BUFFER, sent.length, 1); // RAM to edu
    dma(bar0, EDU_BUFFER, iova + 0x2000, sent.length, 1 | 2); // edu to RAM
    assertThat(memory.asSlice(0x2000, sent.length).toArray(JAVA_BYTE)).isEqualTo(sent);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void edusFactorialInterruptArrivesOnTheMsiEventfd(String backend) {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    VfioDevice edu = rig.device;
    assertThat(edu.irqInfo(VfioDevice.MSI)).isEqualTo(new VfioDevice.IrqInfo(1, 0x9, 1));
    try (EventFd msi = EventFd.create()) {
      edu.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, msi);
      bar0.writeInt(STATUS, 0x80); // interrupt when the factorial is done
      bar0.writeInt(FACTORIAL, 5);
      assertThat(msi.await(WAIT)).as("one MSI").isEqualTo(1);
      assertThat(bar0.readInt(FACTORIAL)).isEqualTo(120);
      assertThat(bar0.readInt(IRQ_STATUS)).isEqualTo(1);
      bar0.writeInt(IRQ_ACK, 1);
      assertThat(msi.await(QUIET)).as("nothing more").isZero();

      edu.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, 1); // loopback
      assertThat(msi.await(WAIT)).isEqualTo(1);
      edu.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, 0); // disable
      bar0.writeInt(IRQ_RAISE, 1);
      assertThat(msi.await(QUIET)).as("disabled").isZero();
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void intxIsAutomaskedUntilTheDriverUnmasksIt(String backend) {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    VfioDevice edu = rig.device;
    assertThat(edu.irqInfo(VfioDevice.INTX).automasked()).isTrue();
    try (EventFd intx = EventFd.create()) {
      edu.setIrqs(VfioDevice.INTX, VfioDevice.IrqAction.TRIGGER, 0, intx);
      bar0.writeInt(IRQ_RAISE, 1);
      assertThat(intx.await(WAIT)).isEqualTo(1);
      bar0.writeInt(IRQ_ACK, 1);
      bar0.writeInt(IRQ_RAISE, 1); // masked: nothing
      assertThat(intx.await(QUIET)).isZero();
      edu.setIrqs(VfioDevice.INTX, VfioDevice.IrqAction.UNMASK, 0, 1); // still up: fires again
      assertThat(intx.await(WAIT)).isEqualTo(1);
    }
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void infoRegionsAndIrqsAreWhatTheKernelReports(String backend) {
    rig(backend).bindAndAttach();
    VfioDevice edu = rig.device;
    assertThat(edu.info()).isEqualTo(new VfioDevice.Info(0x2, 9, 5));
    assertThat(edu.info().resettable()).isFalse();
    VfioRegion bar0 = edu.region(0);
    assertThat(bar0.size()).isEqualTo(0x100000);
    assertThat(bar0.offset()).isZero();
    assertThat(bar0.flags()).isEqualTo(0x7);
    assertThat(bar0.sparseMmap()).isEmpty();
    assertThat(bar0.msixMappable()).isFalse();
    VfioRegion bar1 = edu.region(1);
    assertThat(bar1.size()).isZero();
    assertThat(bar1.offset()).isEqualTo(1L << 40);
    VfioRegion config = edu.region(VfioRegion.CONFIG);
    assertThat(config.size()).isEqualTo(0x100);
    assertThat(config.readable() && config.writable() && !config.mappable()).isTrue();
    assertThat(config.readInt(0)).isEqualTo(0x11e81234);
    assertThat(edu.irqInfo(VfioDevice.INTX)).isEqualTo(new VfioDevice.IrqInfo(0, 0x7, 1));
    assertThat(edu.irqInfo(VfioDevice.MSIX).count()).isZero();
    assertThat(edu.irqInfo(VfioDevice.REQ).noResize()).isTrue();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void hwInfoShowsTheVtdRegisters(String backend) {
    rig(backend).bindAndAttach();
    HwInfo info = rig.device.hwInfo();
    assertThat(info.type()).isEqualTo(1);
    assertThat(info.vtdCapReg()).isEqualTo(0x00d2008c22260206L);
    assertThat(info.vtdEcapReg()).isEqualTo(0x0000000000f00f4aL);
    assertThat(rig.iommufd.hwInfo(rig.device.deviceId())).isNotNull();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void everyCallButBindIsEinvalBeforeBind(String backend) {
    VfioDevice edu = rig(backend).device;
    assertErrno(Errno.EINVAL, edu::info);
    assertErrno(Errno.EINVAL, () -> edu.region(0));
    assertErrno(Errno.EINVAL, () -> edu.irqInfo(VfioDevice.MSI));
    assertErrno(Errno.EINVAL, () -> edu.attach(1));
    assertErrno(Errno.EINVAL, edu::detach);
    assertErrno(Errno.EINVAL, edu::reset);
    assertErrno(
        Errno.EINVAL, () -> edu.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, 0));
    assertThatThrownBy(edu::hwInfo).isInstanceOf(IllegalStateException.class);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void badIndexesAndAccessesGetTheKernelsErrno(String backend) {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    VfioDevice edu = rig.device;
    assertErrno(Errno.EINVAL, () -> edu.region(VfioRegion.VGA));
    assertErrno(Errno.EINVAL, () -> edu.region(9));
    assertErrno(Errno.EINVAL, () -> edu.irqInfo(VfioDevice.ERR)); // not PCI Express
    assertErrno(Errno.EINVAL, () -> edu.irqInfo(5));
    assertErrno(Errno.EINVAL, () -> edu.setIrqs(5, VfioDevice.IrqAction.TRIGGER, 0, 0));
    assertErrno(Errno.ENOTTY, () -> edu.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.MASK, 0, 1));
    assertErrno(Errno.EINVAL, edu::reset); // edu has neither FLR nor a PM reset
    assertErrno(Errno.ENOENT, () -> edu.attach(0xdead));

    assertErrno(Errno.EINVAL, () -> bar0.readInt(0x100000)); // past the end
    assertThat(bar0.read(0xffffc, arena.allocate(8))).as("straddling the end").isEqualTo(4);
    assertThatThrownBy(() -> bar0.readLong(0xffffc))
        .isInstanceOf(IndexOutOfBoundsException.class)
        .hasMessageContaining("4 bytes transferred");
    assertThatThrownBy(() -> bar0.readInt(-4)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> bar0.readInt(1L << 40)).isInstanceOf(IndexOutOfBoundsException.class);
    assertErrno(Errno.EINVAL, () -> bar0.map(0, 0x200000));
    assertErrno(Errno.EINVAL, () -> bar0.map(0x800, 0x1000)); // not page aligned
    assertErrno(Errno.EINVAL, () -> edu.region(VfioRegion.CONFIG).map());
    try (MappedRegion regs = bar0.map(0, 0x1000)) {
      assertThatThrownBy(() -> regs.readInt(0x1000)).isInstanceOf(IndexOutOfBoundsException.class);
      assertThatThrownBy(() -> regs.readInt(2)).isInstanceOf(IllegalArgumentException.class);
    }

    rig.device.region(VfioRegion.CONFIG).writeShort(0x04, (short) 0); // memory decoding off
    assertErrno(Errno.EIO, () -> bar0.readInt(ID));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void bindIsOnceAndToAnOpenIommufdOfTheSameBackend(String backend) {
    VfioDevice edu = rig(backend).device;
    try (Iommufd other = Iommufd.emulated()) {
      assertThatThrownBy(() -> edu.bind(other)).isInstanceOf(IllegalArgumentException.class);
    }
    int id = edu.bind(rig.iommufd);
    assertThat(edu.deviceId()).isEqualTo(id).isPositive();
    assertErrno(Errno.EINVAL, () -> edu.bind(rig.iommufd));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void aClosedIommufdCannotBeBoundTo(String backend) {
    rig(backend).iommufd.close();
    assertErrno(Errno.EBADF, () -> rig.device.bind(rig.iommufd));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void everyCallOnAClosedDeviceIsEbadf(String backend) {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    VfioDevice edu = rig.device;
    EventFd closed = EventFd.create();
    closed.close();
    assertErrno(
        Errno.EBADF, () -> edu.setIrqs(VfioDevice.MSI, VfioDevice.IrqAction.TRIGGER, 0, closed));
    edu.close();
    edu.close(); // idempotent
    assertErrno(Errno.EBADF, edu::info);
    assertErrno(Errno.EBADF, () -> edu.region(0));
    assertErrno(Errno.EBADF, () -> bar0.readInt(ID));
    assertErrno(Errno.EBADF, () -> bar0.writeInt(FACTORIAL, 3));
    assertErrno(Errno.EBADF, () -> bar0.map());
    assertErrno(Errno.EBADF, edu::detach);
    assertThatThrownBy(edu::deviceId).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(closed::fd).isInstanceOf(IllegalStateException.class);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {EduRig.EMULATED, EduRig.KERNEL})
  void aDetachedDevicesDmaFaultsAndReattachingHealsIt(String backend) throws InterruptedException {
    VfioRegion bar0 = rig(backend).bindAndAttach();
    MemorySegment memory = arena.allocate(0x1000, 4096);
    rig.ioas.mapFixed(0x200000, memory, Protection.READ_WRITE);
    memory.set(JAVA_BYTE, 0, (byte) 0x5a);
    dma(bar0, 0x200000, EDU_BUFFER, 1, 1);

    rig.device.detach();
    dma(bar0, EDU_BUFFER, 0x200001, 1, 1 | 2);
    assertThat(memory.get(JAVA_BYTE, 1)).as("detached: the DMA faulted").isZero();

    int hwpt = rig.device.attach(rig.ioas);
    assertThat(hwpt).as("the HWPT made for the IOAS").isNotEqualTo(rig.ioas.id());
    dma(bar0, EDU_BUFFER, 0x200001, 1, 1 | 2);
    assertThat(memory.get(JAVA_BYTE, 1)).isEqualTo((byte) 0x5a);
  }
}
