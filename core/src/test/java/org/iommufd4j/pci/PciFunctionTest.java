package org.iommufd4j.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** BAR routing, address assignment and the bus-master gate of the PCI core. */
class PciFunctionTest {
  @Test
  void plainMemoryRangesAreStorageAndTheRestGoesToTheModel() {
    ConfigSpace c =
        ConfigSpace.builder(1, 2)
            .bar(Bar.memory64(0, 1 << 16, true).withPlainMemory(0x8000, 0x1000))
            .build();
    PciDevice.Ports[] ports = new PciDevice.Ports[1];
    PciFunction fn =
        PciFunction.create(
            p -> {
              ports[0] = p;
              return new FixedDevice(c);
            },
            new NoDma(),
            new VirtualClock(),
            new RecordingSink());
    FixedDevice model = (FixedDevice) fn.model();
    fn.barWrite(0, 0x8010, 8, 0x1122_3344_5566_7788L);
    assertThat(fn.barRead(0, 0x8010, 8)).isEqualTo(0x1122_3344_5566_7788L);
    assertThat(fn.barRead(0, 0x8012, 2)).isEqualTo(0x5566);
    assertThat(ports[0].memory().segment(0).get(ValueLayout.JAVA_BYTE, 0x8010))
        .isEqualTo((byte) 0x88);
    assertThat(fn.barRead(0, 0x20, 4)).as("a register").isEqualTo(0x20);
    fn.barWrite(0, 0x20, 4, 1);
    fn.barWrite(0, 0x8ffe, 4, 1); // straddles the end of the plain range: a register access
    assertThat(model.writes).isEqualTo(2);
    assertThat(fn.barRead(1, 0, 4)).as("no such BAR").isEqualTo(0xffff_ffffL);
    assertThat(fn.barRead(0, 1 << 16, 2)).as("past the end").isEqualTo(0xffff);
  }

  @Test
  void barsGetNaturallyAlignedFirmwareAddresses() {
    ConfigSpace c =
        ConfigSpace.builder(1, 2)
            .bar(Bar.memory32(0, 4096))
            .bar(Bar.memory32(1, 1 << 20))
            .bar(Bar.memory64(2, 1L << 32, true))
            .bar(Bar.io(4, 64))
            .build();
    PciFunction.create(
        p -> new FixedDevice(c), new NoDma(), new VirtualClock(), new RecordingSink());
    assertThat(c.barAddress(c.bars().get(0))).isEqualTo(0xfc00_0000L);
    assertThat(c.barAddress(c.bars().get(1))).isEqualTo(0xfc10_0000L);
    assertThat(c.barAddress(c.bars().get(2))).isEqualTo(0x80_0000_0000L);
    assertThat(c.barAddress(c.bars().get(3))).isEqualTo(0xc000L);
  }

  @Test
  void modelDmaFaultsWhileBusMasteringIsOff() {
    ConfigSpace c = ConfigSpace.builder(1, 2).build();
    DmaPort[] port = new DmaPort[1];
    int[] reached = new int[1];
    DmaPort counting =
        new DmaPort() {
          @Override
          public void read(long iova, MemorySegment dst) {
            reached[0]++;
          }

          @Override
          public void write(long iova, MemorySegment src) {
            reached[0]++;
          }
        };
    PciFunction fn =
        PciFunction.create(
            p -> {
              port[0] = p.dma();
              return new FixedDevice(c);
            },
            counting,
            new VirtualClock(),
            new RecordingSink());
    var buf = MemorySegment.ofArray(new byte[8]);
    assertThatThrownBy(() -> port[0].read(0x1000, buf)).isInstanceOf(DmaFaultException.class);
    fn.config().write(0x04, 2, 0x4);
    port[0].read(0x1000, buf);
    port[0].write(0x1000, buf);
    assertThat(reached[0]).isEqualTo(2);
  }
}
