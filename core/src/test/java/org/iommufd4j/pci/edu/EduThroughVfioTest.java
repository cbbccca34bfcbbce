package org.iommufd4j.pci.edu;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.RecordingSink;
import org.iommufd4j.pci.VfioPciConfig;
import org.iommufd4j.pci.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a VFIO driver for edu does, in the order it does it, through the classes the VFIO layer puts
 * together: probe config space through vfio-pci, size BAR0, enable decoding and bus mastering,
 * choose MSI, and DMA into memory it mapped in its IOAS.
 */
class EduThroughVfioTest {
  private EduRig rig;
  private Arena arena;
  private Iommufd iommufd;
  private Ioas ioas;
  private EmulatedDevice iommuPort;
  private VirtualClock clock;
  private RecordingSink sink;
  private PciFunction edu;
  private VfioPciConfig config;

  @BeforeEach
  void open() {
    rig = new EduRig();
    arena = rig.arena;
    iommufd = rig.iommufd;
    ioas = rig.ioas;
    iommuPort = rig.iommuPort;
    clock = rig.clock;
    sink = rig.sink;
    edu = rig.edu;
    config = new VfioPciConfig(edu.config(), new VfioPciConfig.Events() {});
  }

  @AfterEach
  void close() {
    rig.close();
  }

  private int cfgRead(int offset, int size) {
    MemorySegment buf = arena.allocate(size);
    config.read(offset, buf);
    return size == 4
        ? buf.get(ValueLayout.JAVA_INT_UNALIGNED, 0)
        : size == 2
            ? buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0) & 0xffff
            : buf.get(ValueLayout.JAVA_BYTE, 0) & 0xff;
  }

  private void cfgWrite(int offset, int size, int value) {
    MemorySegment buf = arena.allocate(4);
    buf.set(ValueLayout.JAVA_INT_UNALIGNED, 0, value);
    config.write(offset, buf.asSlice(0, size));
  }

  @Test
  void aDriverProbesSizesEnablesAndGetsItsDmaAndMsi() {
    assertThat(cfgRead(0x00, 4)).isEqualTo(0x11e8_1234);
    int bar0 = cfgRead(0x10, 4);
    cfgWrite(0x10, 4, -1);
    assertThat(~(cfgRead(0x10, 4) & ~0xf) + 1).as("BAR0 size").isEqualTo(1 << 20);
    cfgWrite(0x10, 4, bar0);
    cfgWrite(0x04, 2, cfgRead(0x04, 2) | 0x6);

    int msi = cfgRead(0x34, 1);
    assertThat(cfgRead(msi, 1)).isEqualTo(0x05);
    config.setIrqType(VfioPciConfig.IrqType.MSI, 1); // VFIO_DEVICE_SET_IRQS, MSI, 1 eventfd
    cfgWrite(msi + 2, 2, cfgRead(msi + 2, 2) | 0x1);

    MemorySegment memory = arena.allocate(4096, 4096);
    memory.asSlice(0, 8).set(ValueLayout.JAVA_LONG, 0, 0x0123_4567_89ab_cdefL);
    long iova = ioas.map(memory, Protection.READ_WRITE).iova();
    edu.barWrite(0, 0x80, 8, iova);
    edu.barWrite(0, 0x88, 8, EduDevice.DMA_START);
    edu.barWrite(0, 0x90, 8, 8);
    edu.barWrite(0, 0x98, 8, 0x1);
    clock.advance(Duration.ofMillis(100));
    edu.barWrite(0, 0x80, 8, EduDevice.DMA_START);
    edu.barWrite(0, 0x88, 8, iova + 8);
    edu.barWrite(0, 0x98, 8, 0x7);
    clock.advance(Duration.ofMillis(100));

    assertThat(memory.get(ValueLayout.JAVA_LONG, 8)).isEqualTo(0x0123_4567_89ab_cdefL);
    assertThat(sink.take()).containsExactly("msi 0");
    assertThat(edu.barRead(0, 0x24, 4)).isEqualTo(0x100);
    assertThat(((EduDevice) edu.model()).dmaFaults()).isEmpty();
  }

  @Test
  void withoutBusMasteringThroughVfioTheDmaFaultsAndTheDeviceCarriesOn() {
    cfgWrite(0x04, 2, 0x2);
    edu.barWrite(0, 0x80, 4, 0x1000);
    edu.barWrite(0, 0x88, 4, EduDevice.DMA_START);
    edu.barWrite(0, 0x90, 4, 8);
    edu.barWrite(0, 0x98, 4, 0x5);
    clock.advance(Duration.ofMillis(100));
    assertThat(((EduDevice) edu.model()).dmaFaults()).hasSize(1);
    assertThat(sink.take()).as("INTx: MSI was never chosen").containsExactly("intx+");
  }
}
