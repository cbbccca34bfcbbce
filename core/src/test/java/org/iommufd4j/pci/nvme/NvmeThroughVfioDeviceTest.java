package org.iommufd4j.pci.nvme;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.iommufd4j.EmulatedMachine;
import org.iommufd4j.EventFd;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.MappedRegion;
import org.iommufd4j.Protection;
import org.iommufd4j.VfioDevice;
import org.iommufd4j.VfioRegion;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A Java NVMe driver's bring-up through the typed VFIO API: the controller's registers through a
 * mapping of BAR0, the admin queues in the driver's memory mapped through the IOAS, Identify's
 * completion signalled on the MSI-X eventfd, and a function-level reset.
 */
class NvmeThroughVfioDeviceTest {
  private static final long IOVA = 0x100000;
  private static final long CAP = 0x00;
  private static final long CC = 0x14;
  private static final long CSTS = 0x1c;
  private static final long AQA = 0x24;
  private static final long ASQ = 0x28;
  private static final long ACQ = 0x30;
  private static final long SQ0_TAIL = 0x1000;
  private static final long CQ0_HEAD = 0x1004;

  private final Arena arena = Arena.ofShared();
  private final EmulatedMachine machine =
      EmulatedMachine.withDevices(
          ports -> new NvmeController(ports, NvmeNamespace.inMemory(1 << 20)));
  private final Iommufd iommufd = machine.openIommufd();
  private final VfioDevice nvme = machine.openDevice("0000:00:04.0");
  private final MemorySegment memory = arena.allocate(0x10000, 4096);

  @AfterEach
  void close() {
    nvme.close();
    iommufd.close();
    machine.close();
    arena.close();
  }

  private static void await(MappedRegion regs, int ready) throws InterruptedException {
    for (int i = 0; i < 5000 && (regs.readInt(CSTS) & 1) != ready; i++) {
      Thread.sleep(1);
    }
    assertThat(regs.readInt(CSTS) & 1).as("CSTS.RDY").isEqualTo(ready);
  }

  @Test
  void aJavaDriverIdentifiesTheControllerAndResetsIt() throws InterruptedException {
    nvme.bind(iommufd);
    Ioas ioas = iommufd.createIoas();
    nvme.attach(ioas);
    ioas.mapFixed(IOVA, memory, Protection.READ_WRITE);
    assertThat(nvme.info().resettable()).as("PCIe FLR").isTrue();
    VfioRegion config = nvme.region(VfioRegion.CONFIG);
    assertThat(config.readInt(0)).isEqualTo(0x00101b36);
    config.writeShort(0x04, (short) 0x6);

    VfioRegion bar0 = nvme.region(0);
    assertThat(bar0.size()).isEqualTo(0x4000);
    assertThat(bar0.msixMappable()).as("the MSI-X table is in BAR0").isTrue();
    assertThat(nvme.irqInfo(VfioDevice.MSIX).count()).isEqualTo(65);

    try (EventFd vector0 = EventFd.create();
        MappedRegion regs = bar0.map()) {
      nvme.setIrqs(VfioDevice.MSIX, VfioDevice.IrqAction.TRIGGER, 0, vector0);
      assertThat(regs.readLong(CAP) & 0xffff).as("MQES").isEqualTo(0x7ff);
      regs.writeInt(AQA, 15 | 15 << 16);
      regs.writeLong(ASQ, IOVA);
      regs.writeLong(ACQ, IOVA + 0x1000);
      regs.writeInt(CC, 6 << 16 | 4 << 20 | 1);
      await(regs, 1);

      MemorySegment identify = memory.asSlice(0x2000, 4096);
      MemorySegment command = memory.asSlice(0, 64);
      command.set(JAVA_INT, 0, 0x06 | 7 << 16); // Identify, command id 7
      command.set(JAVA_LONG, 24, IOVA + 0x2000);
      command.set(JAVA_INT, 40, 1); // CNS 1: the controller
      regs.writeInt(SQ0_TAIL, 1);
      assertThat(vector0.await(Duration.ofSeconds(5))).as("MSI-X vector 0").isEqualTo(1);
      MemorySegment completion = memory.asSlice(0x1000, 16);
      assertThat(completion.get(JAVA_INT, 12) & 0xffff).as("command id").isEqualTo(7);
      assertThat(completion.get(JAVA_INT, 12) >>> 17).as("status").isZero();
      regs.writeInt(CQ0_HEAD, 1);
      assertThat(new String(identify.asSlice(24, 14).toArray(JAVA_BYTE), StandardCharsets.US_ASCII))
          .isEqualTo("QEMU NVMe Ctrl");

      nvme.reset();
      assertThat(regs.readInt(CC)).as("CC after FLR").isZero();
      await(regs, 0);
      assertThat(config.readShort(0x04) & 0x6)
          .as("COMMAND survives as vfio-pci restores it")
          .isEqualTo(0x6);
    }
  }
}
