package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.iommufd4j.pci.edu.EduDevice;
import org.junit.jupiter.api.Assumptions;

/**
 * QEMU's edu opened through the typed VFIO API on one backend: {@code emulated} (an {@link
 * EmulatedMachine} with one edu) or {@code kernel} (an edu bound to vfio-pci on this machine's
 * kernel, such as the oracle VM's; the test is skipped, saying so, where there is none). Not yet
 * bound: {@link #bindAndAttach()} does what a driver does first.
 */
final class EduRig implements AutoCloseable {
  static final String EMULATED = "emulated";
  static final String KERNEL = "kernel";

  /** The registers of edu's BAR0 (QEMU's docs/specs/edu.txt). */
  static final int ID = 0x00;

  static final int LIVENESS = 0x04;
  static final int FACTORIAL = 0x08;
  static final int STATUS = 0x20;
  static final int IRQ_STATUS = 0x24;
  static final int IRQ_RAISE = 0x60;
  static final int IRQ_ACK = 0x64;
  static final int DMA_SRC = 0x80;
  static final int DMA_DST = 0x88;
  static final int DMA_COUNT = 0x90;
  static final int DMA_CMD = 0x98;
  static final int EDU_BUFFER = 0x40000;

  final EmulatedMachine machine;
  final String bdf;
  final int group;
  final Iommufd iommufd;
  final VfioDevice device;
  Ioas ioas;

  private EduRig(EmulatedMachine machine, String bdf, int group, Iommufd iommufd) {
    this.machine = machine;
    this.bdf = bdf;
    this.group = group;
    this.iommufd = iommufd;
    this.device = machine != null ? machine.openDevice(bdf) : VfioDevice.open(bdf);
  }

  static EduRig on(String backend) {
    if (backend.equals(EMULATED)) {
      EmulatedMachine machine = EmulatedMachine.withDevices(EduDevice::new);
      return new EduRig(machine, "0000:00:04.0", 0, machine.openIommufd());
    }
    String bdf =
        kernelEdu()
            .orElseGet(
                () ->
                    Assumptions.abort(
                        "no QEMU edu (1234:11e8) bound to vfio-pci on this machine's kernel"
                            + " (no /dev/vfio here): the kernel backend runs where there is one,"
                            + " such as the oracle VM"));
    Path group = Path.of("/sys/bus/pci/devices", bdf, "iommu_group");
    try {
      int number = Integer.parseInt(Files.readSymbolicLink(group).getFileName().toString());
      return new EduRig(null, bdf, number, Iommufd.kernel());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Optional<String> kernelEdu() {
    try (Stream<Path> devices = Files.list(Path.of("/sys/bus/pci/devices"))) {
      return devices
          .filter(
              d ->
                  read(d.resolve("vendor")).equals("0x1234")
                      && read(d.resolve("device")).equals("0x11e8")
                      && Files.exists(d.resolve("vfio-dev")))
          .map(d -> d.getFileName().toString())
          .findFirst();
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  private static String read(Path p) {
    try {
      return Files.readString(p).strip();
    } catch (IOException e) {
      return "";
    }
  }

  /** The device's IOMMU group, on the rig's backend. */
  VfioGroup openGroup() {
    return machine != null ? machine.openGroup(group) : VfioGroup.open(group);
  }

  /** A VFIO container, on the rig's backend. */
  VfioContainer openContainer() {
    return machine != null ? machine.openContainer() : VfioContainer.open();
  }

  /** Bind, a fresh IOAS attached, memory decoding and bus mastering on; BAR0 back. */
  VfioRegion bindAndAttach() {
    device.bind(iommufd);
    ioas = iommufd.createIoas();
    device.attach(ioas);
    device.region(VfioRegion.CONFIG).writeShort(0x04, (short) 0x6);
    return device.region(0);
  }

  /** Waits for {@code STATUS} bit 0 (computing) to clear, as a driver polls. */
  static void awaitFactorial(VfioRegion bar0) throws InterruptedException {
    for (int i = 0; i < 10_000 && (bar0.readInt(STATUS) & 1) != 0; i++) {
      Thread.sleep(1);
    }
  }

  /**
   * One transfer of edu's DMA engine ({@code cmd} bit 1: edu to RAM, else RAM to edu), waited for.
   */
  static void dma(VfioRegion bar0, long src, long dst, int count, int cmd)
      throws InterruptedException {
    bar0.writeLong(DMA_SRC, src);
    bar0.writeLong(DMA_DST, dst);
    bar0.writeLong(DMA_COUNT, count);
    bar0.writeLong(DMA_CMD, cmd);
    awaitDma(bar0);
  }

  /** That {@code call} fails with {@code errno}, as the kernel fails it. */
  static void assertErrno(Errno errno, ThrowingCallable call) {
    assertThatThrownBy(call)
        .isInstanceOf(IommufdException.class)
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(errno);
  }

  /** Waits for {@code DMA_CMD} bit 0 (running) to clear. */
  static void awaitDma(VfioRegion bar0) throws InterruptedException {
    for (int i = 0; i < 10_000 && (bar0.readLong(DMA_CMD) & 1) != 0; i++) {
      Thread.sleep(1);
    }
  }

  @Override
  public void close() {
    device.close();
    iommufd.close();
    if (machine != null) {
      machine.close();
    }
  }
}
