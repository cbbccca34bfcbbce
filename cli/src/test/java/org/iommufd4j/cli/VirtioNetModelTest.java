package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.iommufd4j.bridge.testbed.PresentedFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.virtio.NetBackend;
import org.iommufd4j.pci.virtio.VirtioNetDevice;
import org.junit.jupiter.api.Test;

/** {@code --device virtio-net,...}: its options, how it is presented, how pairs are wired. */
class VirtioNetModelTest {

  @Test
  void optionsAreCheckedWhenParsed() {
    assertThat(
            DeviceSpec.parse("virtio-net@0000:00:04.0,backend=pair,mac=02:00:00:00:00:01").model())
        .isEqualTo(DeviceModel.VIRTIO_NET);
    DeviceSpec.parse("virtio-net,backend=pcap=/tmp/x.pcap,queues=2,mrg_rxbuf=off,event_idx=off");
    DeviceSpec.parse("virtio-net,backend=tap,ifname=vnet7"); // the tap is made with the device
    assertThatThrownBy(() -> DeviceSpec.parse("virtio-net,backend=tun"))
        .hasMessageContaining("backend=tun is none of loopback, pair, pcap=FILE, tap");
    assertThatThrownBy(() -> DeviceSpec.parse("virtio-net,backend=pair,ifname=vnet7"))
        .hasMessageContaining("ifname= goes with backend=tap only");
    assertThatThrownBy(() -> DeviceSpec.parse("virtio-net,mac=02:00:00:00:00"))
        .hasMessageContaining("is not a MAC address");
    assertThatThrownBy(() -> DeviceSpec.parse("virtio-net,queues=9"))
        .hasMessageContaining("queue pairs 9 (1..8)");
    assertThatThrownBy(() -> DeviceSpec.parse("virtio-net,mrg_rxbuf=yes"))
        .hasMessageContaining("mrg_rxbuf=yes is not on or off");
  }

  @Test
  void aNicIsPresentedWithItsIoBarAndMsixBar() {
    try (Devices devices =
        Devices.create(List.of(DeviceSpec.parse("virtio-net,backend=loopback")))) {
      PresentedFunction f = devices.presented().getFirst();
      assertThat(
              List.of(
                  f.vendor(), f.device(), f.subsystemVendor(), f.subsystemDevice(), f.classCode()))
          .containsExactly(0x1af4, 0x1000, 0x1af4, 1, 0x020000);
      assertThat(f.bars())
          .containsExactly(PresentedFunction.Bar.io(0, 64), PresentedFunction.Bar.mem32(1, 4096));
      assertThat(devices.devices().getFirst().function().model())
          .isInstanceOf(VirtioNetDevice.class);
    }
  }

  @Test
  void eachNicHasItsOwnStableMacUnlessOneIsGiven() {
    try (Devices devices =
        Devices.create(
            List.of(
                DeviceSpec.parse("virtio-net,backend=pair"),
                DeviceSpec.parse("virtio-net@0000:00:1f.7,backend=pair"),
                DeviceSpec.parse("virtio-net,mac=02:00:00:00:00:01")))) {
      assertThat(devices.devices())
          .extracting(d -> ((VirtioNetDevice) d.function().model()).mac())
          .containsExactly("52:54:00:00:04:00", "02:00:00:00:00:01", "52:54:00:00:1f:07");
    }
  }

  @Test
  void pairEndsAreWiredTwoByTwoPerClock() {
    VirtualClock one = new VirtualClock();
    VirtualClock other = new VirtualClock();
    NetBackend a = DeviceModel.PairedPorts.next(one);
    NetBackend elsewhere = DeviceModel.PairedPorts.next(other);
    NetBackend b = DeviceModel.PairedPorts.next(one);
    NetBackend c = DeviceModel.PairedPorts.next(one);
    List<String> seen = new ArrayList<>();
    a.connect((frame, pair) -> seen.add("a got " + Arrays.toString(frame)));
    b.connect((frame, pair) -> seen.add("b got " + Arrays.toString(frame)));
    elsewhere.connect((frame, pair) -> seen.add("elsewhere got " + Arrays.toString(frame)));
    a.send(new byte[] {1}, 0);
    b.send(new byte[] {2}, 0);
    c.send(new byte[] {3}, 0);
    assertThat(seen).containsExactly("b got [1]", "a got [2]");
  }
}
