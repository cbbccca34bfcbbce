package org.iommufd4j.pci.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.pci.virtio.VirtioNetDevice.*;

import java.util.List;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The legacy register block in I/O BAR0, as a legacy driver reads and writes it. */
class VirtioNetRegistersTest {
  private final VirtioRig rig = new VirtioRig();
  private final VirtioRig.Nic nic = rig.nic(NetBackend.loopback());
  private final LegacyDriver driver = nic.driver();

  @AfterEach
  void close() {
    rig.close();
  }

  @Test
  void presentsItselfAsATransitionalVirtioNetWithAnIoBarAndMsixInBar1() {
    ConfigSpace c = nic.function().config();
    assertThat(c.read(0x00, 2)).isEqualTo(0x1af4);
    assertThat(c.read(0x02, 2)).isEqualTo(0x1000);
    assertThat(c.read(0x2c, 2)).isEqualTo(0x1af4);
    assertThat(c.read(0x2e, 2)).as("subsystem id: network").isEqualTo(1);
    assertThat(c.read(0x08, 4) >>> 8).isEqualTo(0x020000);
    assertThat(c.read(0x3d, 1)).as("INTA#").isEqualTo(1);
    assertThat(c.bars())
        .extracting(Bar::index, Bar::type, Bar::size)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(0, Bar.Type.IO, 64L),
            org.assertj.core.groups.Tuple.tuple(1, Bar.Type.MEMORY_32, 4096L));
    int msix = c.findCapability(0x11);
    assertThat(msix).isNotZero();
    assertThat((c.read(msix + 2, 2) & 0x7ff) + 1).as("2 * pairs + 2 vectors").isEqualTo(4);
    assertThat(c.read(msix + 4, 4)).as("table in BAR1 at 0").isEqualTo(1);
    assertThat(c.read(msix + 8, 4)).as("PBA in BAR1 at 0x800").isEqualTo(0x801);
  }

  @Test
  void guestFeaturesKeepOnlyWhatTheHostOffers() {
    long host = driver.read(HOST_FEATURES, 4);
    assertThat(host)
        .isEqualTo(
            1L << F_MAC
                | 1L << F_MRG_RXBUF
                | 1L << F_STATUS
                | 1L << F_CTRL_VQ
                | 1L << F_CTRL_RX
                | 1L << F_CTRL_MAC_ADDR
                | 1L << F_ANY_LAYOUT
                | 1L << F_INDIRECT_DESC
                | 1L << F_EVENT_IDX);
    driver.write(HOST_FEATURES, 4, 0);
    assertThat(driver.read(HOST_FEATURES, 4)).as("read-only").isEqualTo(host);
    driver.write(GUEST_FEATURES, 4, 0xffff_ffffL);
    assertThat(driver.read(GUEST_FEATURES, 4)).isEqualTo(host);
  }

  @Test
  void featuresThatAreTurnedOffAreNotOfferedAndMoreQueuePairsOfferMultiqueue() {
    VirtioRig.Nic plain =
        rig.nic(
            NetBackend.loopback(),
            new VirtioNetDevice.Options(
                VirtioNetDevice.Options.parseMac(VirtioNetDevice.Options.DEFAULT_MAC),
                4,
                false,
                false));
    long host = plain.driver().read(HOST_FEATURES, 4);
    assertThat(host & (1L << F_MRG_RXBUF | 1L << F_EVENT_IDX)).isZero();
    assertThat(host & 1L << F_MQ).isNotZero();
    assertThat(plain.driver().read(CONFIG + 8, 2)).as("max_virtqueue_pairs").isEqualTo(4);
  }

  @Test
  void eachQueueHasItsSizeAndPageFrameAndAbsentQueuesReadZero() {
    int[] sizes = {256, 256, 64, 0, 0};
    for (int q = 0; q < sizes.length; q++) {
      driver.write(QUEUE_SELECT, 2, q);
      assertThat(driver.read(QUEUE_SELECT, 2)).isEqualTo(q);
      assertThat(driver.read(QUEUE_SIZE, 2)).as("queue %d", q).isEqualTo(sizes[q]);
      driver.write(QUEUE_SIZE, 2, 16);
      assertThat(driver.read(QUEUE_SIZE, 2)).as("read-only").isEqualTo(sizes[q]);
      driver.write(QUEUE_PFN, 4, 0x1234 + q);
      assertThat(driver.read(QUEUE_PFN, 4)).isEqualTo(sizes[q] == 0 ? 0 : 0x1234 + q);
    }
    driver.write(QUEUE_SELECT, 2, 1);
    assertThat(driver.read(QUEUE_PFN, 4)).isEqualTo(0x1235);
  }

  @Test
  void writingZeroToTheStatusOrAPageFrameResetsTheDevice() {
    for (int how = 0; how < 2; how++) {
      driver.init(-1, 3);
      assertThat(driver.status()).isEqualTo(0xf);
      assertThat(driver.read(GUEST_FEATURES, 4)).isNotZero();
      driver.write(QUEUE_SELECT, 2, 1);
      if (how == 0) {
        driver.write(STATUS, 1, 0);
      } else {
        driver.write(QUEUE_PFN, 4, 0); // QEMU resets the whole device here
      }
      assertThat(driver.status()).isZero();
      assertThat(driver.read(GUEST_FEATURES, 4)).isZero();
      assertThat(driver.read(QUEUE_SELECT, 2)).isZero();
      for (int q = 0; q < 3; q++) {
        driver.write(QUEUE_SELECT, 2, q);
        assertThat(driver.read(QUEUE_PFN, 4)).isZero();
      }
    }
  }

  @Test
  void aDriverCannotSetOrClearNeedsReset() {
    driver.write(STATUS, 1, 0x40 | 3);
    assertThat(driver.status()).isEqualTo(3);
  }

  @Test
  void theIsrClearsOnReadAndLowersIntx() {
    nic.device().setLinkUp(false); // no driver yet: no interrupt
    assertThat(nic.sink().take()).isEmpty();
    driver.init(-1, 3);
    nic.device().setLinkUp(true);
    assertThat(nic.sink().take()).containsExactly("intx+");
    assertThat(driver.read(ISR, 1)).isEqualTo(ISR_CONFIG);
    assertThat(nic.sink().take()).containsExactly("intx-");
    assertThat(driver.read(ISR, 1)).isZero();
  }

  @Test
  void theMacAndLinkStatusAreInTheDeviceConfiguration() {
    assertThat(config(0, 6)).containsExactly(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);
    assertThat(driver.read(CONFIG + 6, 2)).as("link up").isEqualTo(1);
    nic.device().setLinkUp(false);
    assertThat(driver.read(CONFIG + 6, 2)).isZero();
    assertThat(driver.read(CONFIG + 8, 2)).as("max_virtqueue_pairs").isEqualTo(1);
  }

  @Test
  void theMacIsWritableUntilTheDriverNegotiatesSettingItOverTheControlQueue() {
    driver.write(CONFIG, 4, 0x0403_0201L);
    driver.write(CONFIG + 4, 2, 0x0605);
    assertThat(config(0, 6)).containsExactly(1, 2, 3, 4, 5, 6);
    driver.init(1 << F_CTRL_MAC_ADDR | 1 << F_CTRL_VQ, 3);
    assertThat(config(0, 6))
        .as("reset brings the MAC back")
        .containsExactly(0x52, 0x54, 0, 0x12, 0x34, 0x56);
    driver.write(CONFIG, 4, 0);
    assertThat(config(0, 6)).containsExactly(0x52, 0x54, 0, 0x12, 0x34, 0x56);
  }

  @Test
  void withMsixEnabledTheVectorRegistersAppearAndTheConfigurationMovesBehindThem() {
    assertThat(driver.read(CONFIG_VECTOR, 2)).as("MAC bytes 0-1 without MSI-X").isEqualTo(0x5452);
    driver.enableMsix();
    assertThat(driver.read(CONFIG_VECTOR, 2)).isEqualTo(0xffff);
    assertThat(driver.read(CONFIG_MSIX, 2)).isEqualTo(0x5452);
    driver.write(CONFIG_VECTOR, 2, 3);
    assertThat(driver.read(CONFIG_VECTOR, 2)).isEqualTo(3);
    driver.write(CONFIG_VECTOR, 2, 4);
    assertThat(driver.read(CONFIG_VECTOR, 2)).as("a vector the table lacks").isEqualTo(0xffff);
    driver.write(QUEUE_SELECT, 2, 2);
    driver.write(QUEUE_VECTOR, 2, 2);
    assertThat(driver.read(QUEUE_VECTOR, 2)).isEqualTo(2);
    driver.write(QUEUE_SELECT, 2, 1);
    assertThat(driver.read(QUEUE_VECTOR, 2)).isEqualTo(0xffff);
    driver.write(STATUS, 1, 0);
    driver.write(QUEUE_SELECT, 2, 2);
    assertThat(driver.read(QUEUE_VECTOR, 2)).as("reset").isEqualTo(0xffff);
  }

  @Test
  void aConfigurationChangeUnderMsixGoesToTheConfigVectorAndSetsTheIsr() {
    driver.enableMsix();
    driver.init(-1, 3);
    nic.device().setLinkUp(false);
    assertThat(nic.sink().take()).containsExactly("msix 0");
    assertThat(driver.read(ISR, 1)).isEqualTo(ISR_CONFIG);
    assertThat(nic.sink().take()).isEmpty();
  }

  @Test
  void unknownRegistersReadAllOnesAndOtherBarsReadZero() {
    assertThat(driver.read(QUEUE_NOTIFY, 2)).isEqualTo(0xffff);
    assertThat(nic.function().barRead(1, 0x1000 - 8, 4)).isZero();
  }

  private List<Integer> config(int offset, int length) {
    return java.util.stream.IntStream.range(0, length)
        .mapToObj(i -> (int) driver.read(driver.configOffset() + offset + i, 1))
        .toList();
  }
}
