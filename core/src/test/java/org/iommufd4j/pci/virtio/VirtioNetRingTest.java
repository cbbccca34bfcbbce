package org.iommufd4j.pci.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.pci.virtio.VirtioNetDevice.F_EVENT_IDX;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import org.iommufd4j.pci.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Split-ring edge cases, and rings no driver should write. */
class VirtioNetRingTest {
  private final VirtioRig rig = new VirtioRig();
  private final Recorder wire = new Recorder();
  private final VirtioRig.Nic nic = rig.nic(wire);
  private final LegacyDriver d = nic.driver();

  /** A backend that keeps what was sent. */
  static final class Recorder implements NetBackend {
    final List<byte[]> frames = new ArrayList<>();

    @Override
    public void connect(Port port) {}

    @Override
    public void send(byte[] frame, int queuePair) {
      frames.add(frame);
    }
  }

  @AfterEach
  void close() {
    rig.close();
  }

  private LegacyDriver.Queue tx() {
    return d.queues.get(1);
  }

  private static byte[] numbered(int n) {
    byte[] f = new byte[20];
    f[16] = (byte) (n >>> 24);
    f[17] = (byte) (n >>> 16);
    f[18] = (byte) (n >>> 8);
    f[19] = (byte) n;
    return f;
  }

  @Test
  void sixteenBitIndicesWrapAroundWithoutLosingAFrame() {
    d.init(-1, 3);
    int total = 65536 + 3000;
    int sent = 0;
    while (sent < total) {
      int batch = Math.min(200, total - sent);
      for (int i = 0; i < batch; i++) {
        d.send(1, numbered(sent + i));
      }
      sent += batch;
      d.notify(1);
      rig.settle();
      assertThat(tx().takeUsed()).hasSize(batch);
    }
    assertThat(wire.frames).hasSize(total);
    for (int i = 0; i < total; i += 997) {
      assertThat(wire.frames.get(i)).isEqualTo(numbered(i));
    }
    assertThat(tx().usedIdx()).isEqualTo(total & 0xffff);
    assertThat(tx().availEvent()).as("avail_event wrapped with it").isEqualTo(total & 0xffff);
  }

  @Test
  void anIndirectTableCarriesAFrameOutAndIn() {
    VirtioRig.Nic loop = rig.nic(NetBackend.loopback());
    LegacyDriver l = loop.driver();
    l.init(-1, 3);
    // receive: an indirect table of two writable buffers
    long rxTable = l.allocate(32);
    long rxA = l.allocate(12);
    long rxB = l.allocate(2000);
    writeDescriptor(l, rxTable, 0, l.iova + rxA, 12, 2 | 1, 1);
    writeDescriptor(l, rxTable, 1, l.iova + rxB, 2000, 2, 0);
    LegacyDriver.Queue rx = l.queues.get(0);
    rx.descriptor(0, l.iova + rxTable, 32, 4, 0);
    rx.nextDescriptor = 1;
    rx.publish(0);
    // transmit: one indirect descriptor whose table chains header and frame out of order
    byte[] f = VirtioNetTrafficTest.frame(new SplittableRandom(7), 300);
    long txTable = l.allocate(48);
    long header = l.allocate(12);
    long part1 = l.allocate(100);
    long part2 = l.allocate(200);
    l.memory.asSlice(header, 12).fill((byte) 0);
    l.memory.asSlice(part1, 100).copyFrom(MemorySegment.ofArray(f).asSlice(0, 100));
    l.memory.asSlice(part2, 200).copyFrom(MemorySegment.ofArray(f).asSlice(100, 200));
    writeDescriptor(l, txTable, 0, l.iova + header, 12, 1, 2);
    writeDescriptor(l, txTable, 2, l.iova + part1, 100, 1, 1);
    writeDescriptor(l, txTable, 1, l.iova + part2, 200, 0, 0);
    LegacyDriver.Queue tx = l.queues.get(1);
    tx.descriptor(0, l.iova + txTable, 48, 4, 0);
    tx.publish(0);
    l.notify(1);
    rig.settle();
    List<LegacyDriver.Used> used = rx.takeUsed();
    assertThat(used).containsExactly(new LegacyDriver.Used(0, 312));
    byte[] got = new byte[300];
    MemorySegment.copy(l.memory, ValueLayout.JAVA_BYTE, rxB, got, 0, 300);
    assertThat(got).isEqualTo(f);
    assertThat(l.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, rxA + 10))
        .as("num_buffers")
        .isEqualTo((short) 1);
  }

  private static void writeDescriptor(
      LegacyDriver l, long table, int index, long address, int length, int flags, int next) {
    long at = table + 16L * index;
    l.memory.set(ValueLayout.JAVA_LONG_UNALIGNED, at, address);
    l.memory.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, length);
    l.memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12, (short) flags);
    l.memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14, (short) next);
  }

  @Test
  void withEventIndexTheDriverChoosesWhichUsedEntryInterrupts() {
    d.enableMsix();
    d.init(-1, 3);
    assertThat(d.has(F_EVENT_IDX)).isTrue();
    tx().setUsedEvent(5); // interrupt when the used index passes 5
    for (int i = 0; i < 3; i++) {
      d.send(1, numbered(i));
    }
    d.notify(1);
    rig.settle();
    assertThat(nic.sink().take()).as("used 0..2: not yet").isEmpty();
    for (int i = 0; i < 4; i++) {
      d.send(1, numbered(i));
    }
    d.notify(1);
    rig.settle();
    assertThat(nic.sink().take()).as("used 3..6 passes 5").containsExactly("msix 2");
    assertThat(tx().availEvent()).as("asleep: notify me at the next chain").isEqualTo(7);
  }

  @Test
  void withoutEventIndexNoInterruptFlagSilencesTheQueueAndNoNotifyIsClearedWhenAsleep() {
    d.enableMsix();
    d.init(~(1 << F_EVENT_IDX), 3);
    tx().setAvailFlags(1);
    d.send(1, numbered(0));
    d.notify(1);
    rig.settle();
    assertThat(nic.sink().take()).isEmpty();
    assertThat(tx().usedFlags()).isZero();
    tx().setAvailFlags(0);
    d.send(1, numbered(1));
    d.notify(1);
    rig.settle();
    assertThat(nic.sink().take()).containsExactly("msix 2");
    assertThat(wire.frames).hasSize(2);
  }

  @Test
  void aFrameTooShortForItsHeaderIsDroppedAndItsBufferReturned() {
    d.init(-1, 3);
    long at = d.allocate(8);
    tx().add(new long[] {at}, new int[] {8}, 0);
    d.notify(1);
    rig.settle();
    assertThat(tx().takeUsed()).hasSize(1);
    assertThat(wire.frames).isEmpty();
    assertThat(d.status() & LegacyDriver.NEEDS_RESET).isZero();
  }

  /** Ways to break the transmit ring (addresses are the driver's buffer area). */
  enum Breakage {
    DESCRIPTOR_LOOP(
        (d, q) -> {
          q.descriptor(0, buffer(d), 16, 1, 1);
          q.descriptor(1, buffer(d), 16, 1, 0);
          q.publish(0);
        }),
    HEAD_OUT_OF_RANGE((d, q) -> q.publish(256)),
    NEXT_OUT_OF_RANGE(
        (d, q) -> {
          q.descriptor(0, buffer(d), 16, 1, 300);
          q.publish(0);
        }),
    AVAILABLE_INDEX_TOO_FAR_AHEAD((d, q) -> q.setAvailIdx(257)),
    NESTED_INDIRECT(
        (d, q) -> {
          q.descriptor(0, d.iova + q.base + 16 * 8, 16, 4, 0); // a table: descriptor 8
          q.descriptor(8, buffer(d), 16, 4, 0); // which is indirect itself
          q.publish(0);
        }),
    INDIRECT_TABLE_OF_ODD_LENGTH(
        (d, q) -> {
          q.descriptor(0, buffer(d), 20, 4, 0);
          q.publish(0);
        }),
    INDIRECT_WITH_NEXT(
        (d, q) -> {
          q.descriptor(0, buffer(d), 16, 4 | 1, 1);
          q.publish(0);
        }),
    READABLE_AFTER_WRITABLE(
        (d, q) -> {
          q.descriptor(0, buffer(d), 16, 2 | 1, 1);
          q.descriptor(1, buffer(d), 16, 0, 0);
          q.publish(0);
        }),
    UNMAPPED_RING(
        (d, q) -> {
          d.write(VirtioNetDevice.QUEUE_SELECT, 2, 1);
          d.write(VirtioNetDevice.QUEUE_PFN, 4, 0xfff00); // nothing is mapped there
        }),
    UNMAPPED_BUFFER(
        (d, q) -> {
          q.descriptor(0, 0xdead_0000L, 64, 0, 0);
          q.publish(0);
        });

    private final BiConsumer<LegacyDriver, LegacyDriver.Queue> action;

    Breakage(BiConsumer<LegacyDriver, LegacyDriver.Queue> action) {
      this.action = action;
    }

    void breakRing(LegacyDriver d) {
      action.accept(d, d.queues.get(1));
    }

    private static long buffer(LegacyDriver d) {
      return d.iova + LegacyDriver.BUFFERS;
    }
  }

  @ParameterizedTest
  @EnumSource(Breakage.class)
  void aBrokenRingStopsItsQueueAndAsksForAResetWithoutHangingTheDevice(Breakage how) {
    d.init(-1, 3);
    d.giveBuffer(0, 2048);
    nic.sink().take();
    how.breakRing(d);
    d.notify(1);
    rig.settle();

    assertThat(d.status() & LegacyDriver.NEEDS_RESET).isNotZero();
    assertThat(nic.sink().take()).contains("intx+");
    assertThat(d.read(VirtioNetDevice.ISR, 1) & VirtioNetDevice.ISR_CONFIG).isNotZero();
    assertThat(((VirtualClock) rig.clock).armedTimers()).isZero();
    assertThat(wire.frames).isEmpty();

    d.init(-1, 3); // a reset brings the device back
    assertThat(d.status() & LegacyDriver.NEEDS_RESET).isZero();
    d.send(1, numbered(1));
    d.notify(1);
    rig.settle();
    assertThat(wire.frames).containsExactly(numbered(1));
  }

  @Test
  void aMergeableReceiveBufferTooSmallForTheHeaderStopsTheReceiveQueue() {
    VirtioRig.Nic loop = rig.nic(NetBackend.loopback());
    LegacyDriver l = loop.driver();
    l.init(-1, 3);
    l.giveBuffer(0, 8);
    l.send(1, numbered(0));
    l.notify(1);
    rig.settle();
    assertThat(l.status() & LegacyDriver.NEEDS_RESET).isNotZero();
    assertThat(l.queues.get(0).takeUsed()).isEmpty();
    assertThat(l.queues.get(1).takeUsed()).as("transmit carried on").hasSize(1);
  }

  @Test
  void aStoppedQueueStaysStoppedWhileTheOthersWork() {
    VirtioRig.Nic loop = rig.nic(NetBackend.loopback());
    LegacyDriver l = loop.driver();
    l.init(-1, 3);
    l.giveBuffer(0, 2048);
    l.queues.get(1).publish(300); // head out of range
    l.notify(1);
    rig.settle();
    assertThat(l.status() & LegacyDriver.NEEDS_RESET).isNotZero();
    l.queues.get(1).publish(0);
    l.notify(1);
    rig.settle();
    assertThat(l.queues.get(1).takeUsed()).isEmpty();
    // the control queue still answers
    assertThat(VirtioNetControlTest.command(rig, l, 2, new byte[] {0, 0, 1})).isZero();
  }
}
