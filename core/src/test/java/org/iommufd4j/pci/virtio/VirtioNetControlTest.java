package org.iommufd4j.pci.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The control queue: receive modes, MAC filter, MAC address, multiqueue. */
class VirtioNetControlTest {
  private static final byte[] OURS = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  private static final byte[] OTHER = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
  private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
  private static final byte[] MULTICAST = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};

  private final VirtioRig rig = new VirtioRig();

  @AfterEach
  void close() {
    rig.close();
  }

  /** Sends {@code command} (class, command, data) on control queue {@code queue}; the ack byte. */
  static int command(VirtioRig rig, LegacyDriver d, int queue, byte[] command) {
    long in = d.allocate(command.length);
    long ack = d.allocate(1);
    MemorySegment.copy(command, 0, d.memory, ValueLayout.JAVA_BYTE, in, command.length);
    d.memory.set(ValueLayout.JAVA_BYTE, ack, (byte) 0x55);
    d.queues.get(queue).add(new long[] {in, ack}, new int[] {command.length, 1}, 1);
    d.notify(queue);
    rig.settle();
    d.queues.get(queue).takeUsed();
    return d.memory.get(ValueLayout.JAVA_BYTE, ack);
  }

  private static byte[] to(byte[] destination) {
    byte[] f = new byte[60];
    System.arraycopy(destination, 0, f, 0, 6);
    return f;
  }

  /** Which of the frames to these destinations come back on loopback. */
  private List<byte[]> echoed(LegacyDriver d, byte[]... destinations) {
    for (int i = 0; i < destinations.length; i++) {
      d.giveBuffer(0, 2048);
    }
    d.notify(0);
    for (byte[] destination : destinations) {
      d.send(1, to(destination));
    }
    d.notify(1);
    rig.settle();
    d.queues.get(1).takeUsed();
    return d.receive(0).stream().map(f -> java.util.Arrays.copyOf(f, 6)).toList();
  }

  @Test
  void promiscuousAfterResetThenOnlyBroadcastAndTheMacWhenTurnedOff() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(-1, 3);
    assertThat(echoed(d, OURS, OTHER, MULTICAST)).containsExactly(OURS, OTHER, MULTICAST);
    assertThat(command(rig, d, 2, new byte[] {0, 0, 0})).as("PROMISC off").isZero();
    assertThat(echoed(d, OURS, OTHER, BROADCAST, MULTICAST)).containsExactly(OURS, BROADCAST);
    assertThat(command(rig, d, 2, new byte[] {0, 1, 1})).as("ALLMULTI on").isZero();
    assertThat(echoed(d, OTHER, MULTICAST)).containsExactly(MULTICAST);
  }

  @Test
  void theMacTablesLetListedAddressesIn() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(-1, 3);
    command(rig, d, 2, new byte[] {0, 0, 0});
    byte[] tables = new byte[2 + 4 + 6 + 4 + 6];
    tables[0] = 1; // MAC
    tables[1] = 0; // TABLE_SET
    tables[2] = 1;
    System.arraycopy(OTHER, 0, tables, 6, 6);
    tables[12] = 1;
    System.arraycopy(MULTICAST, 0, tables, 16, 6);
    assertThat(command(rig, d, 2, tables)).isZero();
    assertThat(echoed(d, OTHER, MULTICAST, new byte[] {0x02, 0, 0, 0, 0, 9}))
        .containsExactly(OTHER, MULTICAST);
    byte[] truncated = java.util.Arrays.copyOf(tables, tables.length - 1);
    assertThat(command(rig, d, 2, truncated)).as("a table shorter than its count").isEqualTo(1);
  }

  @Test
  void addrSetChangesTheMacTheFilterAndTheConfigurationShow() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(-1, 3);
    command(rig, d, 2, new byte[] {0, 0, 0});
    byte[] set = new byte[8];
    set[0] = 1;
    set[1] = 1;
    System.arraycopy(OTHER, 0, set, 2, 6);
    assertThat(command(rig, d, 2, set)).isZero();
    assertThat(d.read(VirtioNetDevice.CONFIG + 5, 1)).isEqualTo(0x57);
    assertThat(echoed(d, OURS, OTHER)).containsExactly(OTHER);
  }

  @Test
  void unknownCommandsAndCommandsForFeaturesNotNegotiatedAreRefused() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(~(1 << VirtioNetDevice.F_CTRL_RX), 3);
    assertThat(command(rig, d, 2, new byte[] {0, 0, 0})).as("CTRL_RX not negotiated").isEqualTo(1);
    assertThat(command(rig, d, 2, new byte[] {9, 9})).isEqualTo(1);
    assertThat(command(rig, d, 2, new byte[] {4, 0, 1, 0})).as("no MQ offered").isEqualTo(1);
  }

  @Test
  void multiqueueSpreadsFramesOverTheActivePairs() {
    VirtioRig.Nic nic =
        rig.nic(
            NetBackend.loopback(),
            new VirtioNetDevice.Options(
                VirtioNetDevice.Options.parseMac(VirtioNetDevice.Options.DEFAULT_MAC),
                2,
                true,
                true));
    LegacyDriver d = nic.driver();
    d.init(-1, 5);
    int control = 4;
    d.giveBuffer(2, 2048);
    d.notify(2);
    d.send(3, to(OURS)); // pair 1 is not active yet: nothing moves
    d.notify(3);
    rig.settle();
    assertThat(d.queues.get(3).takeUsed()).isEmpty();
    assertThat(command(rig, d, control, new byte[] {4, 0, 3, 0})).as("3 pairs of 2").isEqualTo(1);
    assertThat(command(rig, d, control, new byte[] {4, 0, 2, 0})).isZero();
    d.notify(3);
    rig.settle();
    assertThat(d.receive(2)).hasSize(1);
    assertThat(d.receive(0)).isEmpty();
  }
}
