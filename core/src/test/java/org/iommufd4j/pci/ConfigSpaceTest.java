package org.iommufd4j.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** A device's own config space: layout, write masks, RW1C bits, BAR sizing, reset. */
class ConfigSpaceTest {
  private static final long SEED = Long.getLong("seed", 1234);

  @Test
  void capabilitiesAreChainedFrom0x40InTheOrderAdded() {
    ConfigSpace c =
        ConfigSpace.builder(1, 2)
            .bar(Bar.memory32(0, 4096))
            .powerManagement()
            .msi(1, false, false)
            .msix(1, 0, 0, 0, 0x100)
            .build();
    assertThat(c.read(0x06, 2) & 0x10).isEqualTo(0x10);
    assertThat(c.read(0x34, 1)).isEqualTo(0x40);
    assertThat(c.findCapability(0x01)).isEqualTo(0x40);
    assertThat(c.findCapability(0x05)).isEqualTo(0x48);
    assertThat(c.findCapability(0x11)).as("after a 10-byte MSI, dword aligned").isEqualTo(0x54);
    assertThat(c.read(0x55, 1)).isZero();
  }

  @Test
  void withoutCapabilitiesTheListBitIsClear() {
    ConfigSpace c = ConfigSpace.builder(1, 2).build();
    assertThat(c.read(0x06, 2)).isZero();
    assertThat(c.findCapability(0x05)).isZero();
    assertThat(c.size()).isEqualTo(256);
  }

  @Test
  void onlyWritableBitsChangeAndRw1cBitsClearOnOne() {
    ConfigSpace c = ConfigSpace.builder(0x1234, 0x5678).build();
    c.write(0x00, 4, 0);
    assertThat(c.read(0x00, 4)).isEqualTo(0x5678_1234);
    c.write(0x04, 2, 0xffff);
    assertThat(c.read(0x04, 2)).as("IO, memory, master, SERR, INTx disable").isEqualTo(0x0507);
    c.setBits(0x06, 2, 0xf900, true);
    c.write(0x06, 2, 0x2000);
    assertThat(c.read(0x06, 2)).isEqualTo(0xd900);
    c.write(0x06, 2, 0);
    assertThat(c.read(0x06, 2)).isEqualTo(0xd900);
  }

  @Test
  void everySizedBarReadsItsSizeMaskAndTypeBits() {
    SplittableRandom random = new SplittableRandom(SEED);
    for (int round = 0; round < 200; round++) {
      Bar.Type type = Bar.Type.values()[random.nextInt(3)];
      int log =
          switch (type) {
            case IO -> 2 + random.nextInt(7);
            case MEMORY_32 -> 4 + random.nextInt(28);
            case MEMORY_64 -> 4 + random.nextInt(40);
          };
      boolean prefetch = type != Bar.Type.IO && random.nextBoolean();
      int index = random.nextInt(type == Bar.Type.MEMORY_64 ? 5 : 6);
      Bar bar = new Bar(index, type, prefetch, 1L << log, List.of());
      ConfigSpace c = ConfigSpace.builder(1, 2).bar(bar).build();
      int off = 0x10 + 4 * index;
      c.write(off, 4, -1);
      long expected = ~((1L << log) - 1) & (type == Bar.Type.IO ? ~0x3L : ~0xfL);
      assertThat(c.read(off, 4))
          .as("%s (seed %d)", bar, SEED)
          .isEqualTo((int) expected | bar.flags());
      if (type == Bar.Type.MEMORY_64) {
        c.write(off + 4, 4, -1);
        assertThat(c.read(off + 4, 4)).isEqualTo((int) (expected >>> 32));
      }
      assertThat(c.barAddress(bar))
          .isEqualTo(type == Bar.Type.MEMORY_64 ? expected : expected & 0xffff_ffffL);
    }
  }

  @Test
  void resetRestoresPowerOnValues() {
    ConfigSpace c = ConfigSpace.builder(1, 2).bar(Bar.memory32(0, 4096)).msi(4, true, true).build();
    byte[] powerOn = c.snapshot();
    c.write(0x04, 2, 0x6);
    c.write(0x10, 4, 0x1000);
    c.write(0x42, 2, 0x21);
    c.write(0xf0, 4, 7);
    c.reset();
    assertThat(c.snapshot()).isEqualTo(powerOn);
  }

  @Test
  void expressDevicesHave4KibAndAnExtendedChain() {
    ConfigSpace c =
        ConfigSpace.builder(1, 2)
            .pciExpress(false)
            .extendedCapability(0x03, 1, new byte[8])
            .extendedCapability(0x18, 1, new byte[4])
            .build();
    assertThat(c.size()).isEqualTo(4096);
    assertThat(c.read(0x100, 4)).isEqualTo(0x10c1_0003);
    assertThat(c.read(0x10c, 4)).isEqualTo(0x0001_0018);
  }

  @Test
  void misuseIsRefusedWhenBuilding() {
    assertThatThrownBy(
            () -> ConfigSpace.builder(1, 2).extendedCapability(3, 1, new byte[4]).build())
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(
            () ->
                ConfigSpace.builder(1, 2)
                    .bar(Bar.memory64(0, 4096, false))
                    .bar(Bar.memory32(1, 4096)))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ConfigSpace.builder(1, 2).msix(4, 0, 0, 0, 0x40))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Bar.memory32(0, 3000)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ConfigSpace.builder(1, 2).build().read(0x02, 4))
        .isInstanceOf(IllegalArgumentException.class);
  }
}
