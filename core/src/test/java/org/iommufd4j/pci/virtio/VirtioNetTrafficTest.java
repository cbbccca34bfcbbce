package org.iommufd4j.pci.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.pci.virtio.VirtioNetDevice.F_MRG_RXBUF;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.pci.ExecutorClock;
import org.iommufd4j.pci.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Frames through the NIC: transmit, the backends, receive, with and without the options. */
class VirtioNetTrafficTest {
  private static final long SEED = Long.getLong("seed", 1515);
  private static final int NO_MERGEABLE = ~(1 << F_MRG_RXBUF);

  private VirtioRig rig = new VirtioRig();

  @AfterEach
  void close() {
    rig.close();
  }

  static byte[] frame(SplittableRandom random, int length) {
    byte[] f = new byte[length];
    random.nextBytes(f);
    return f;
  }

  @ParameterizedTest(name = "msix={0} mergeable={1}")
  @CsvSource({"false,false", "false,true", "true,false", "true,true"})
  void whatAPortSendsOnLoopbackComesBackToIt(boolean msix, boolean mergeable) {
    VirtioRig.Nic nic = rig.nic(NetBackend.loopback());
    LegacyDriver d = nic.driver();
    if (msix) {
      d.enableMsix();
    }
    d.init(mergeable ? -1 : NO_MERGEABLE, 3);
    assertThat(d.has(F_MRG_RXBUF)).isEqualTo(mergeable);
    for (int i = 0; i < 8; i++) {
      d.giveBuffer(0, 2048);
    }
    d.notify(0);
    SplittableRandom random = new SplittableRandom(SEED);
    List<byte[]> sent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      sent.add(frame(random, 60 + 300 * i));
      d.send(1, sent.get(i));
    }
    d.notify(1);
    rig.settle();

    assertThat(d.queues.get(1).takeUsed()).extracting(LegacyDriver.Used::length).containsOnly(0);
    assertThat(d.receive(0)).containsExactlyElementsOf(sent);
    if (msix) {
      assertThat(nic.sink().take()).contains("msix 1", "msix 2").doesNotContain("intx+");
    } else {
      assertThat(nic.sink().take()).contains("intx+");
      assertThat(d.read(VirtioNetDevice.ISR, 1)).isEqualTo(VirtioNetDevice.ISR_QUEUE);
    }
    assertThat(((VirtualClock) rig.clock).armedTimers()).as("idle: nothing armed").isZero();
  }

  @Test
  void portsOfAPairReceiveWhatTheOtherSends() {
    NetBackend.Pair wire = NetBackend.pair();
    VirtioRig.Nic a = rig.nic(wire.left());
    VirtioRig.Nic b = rig.nic(wire.right());
    for (VirtioRig.Nic n : List.of(a, b)) {
      n.driver().init(-1, 3);
      n.driver().giveBuffer(0, 2048);
      n.driver().notify(0);
    }
    byte[] ab = frame(new SplittableRandom(1), 100);
    byte[] ba = frame(new SplittableRandom(2), 200);
    a.driver().send(1, ab);
    a.driver().notify(1);
    b.driver().send(1, ba);
    b.driver().notify(1);
    rig.settle();
    assertThat(a.driver().receive(0)).containsExactly(ba);
    assertThat(b.driver().receive(0)).containsExactly(ab);
  }

  @Test
  void aFrameLargerThanOneBufferTakesSeveralMergeableBuffers() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(-1, 3);
    for (int i = 0; i < 4; i++) {
      d.giveBuffer(0, 1024);
    }
    byte[] big = frame(new SplittableRandom(3), 3000);
    d.send(1, big);
    d.notify(1);
    rig.settle();
    List<LegacyDriver.Used> used = new ArrayList<>(d.queues.get(0).takeUsed());
    assertThat(used).extracting(LegacyDriver.Used::length).containsExactly(1024, 1024, 964);
    long first = d.queues.get(0).chains.get(used.get(0).id())[0];
    assertThat(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, first + 10))
        .as("num_buffers")
        .isEqualTo((short) 3);
    d.queues.get(0).lastUsed = 0;
    assertThat(d.receive(0)).containsExactly(big);
  }

  @Test
  void withoutMergeableBuffersAFrameFillsOneChainOfSeveralDescriptors() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(NO_MERGEABLE, 3);
    long header = d.allocate(10);
    long part1 = d.allocate(700);
    long part2 = d.allocate(1000);
    d.queues.get(0).add(new long[] {header, part1, part2}, new int[] {10, 700, 1000}, 3);
    byte[] f = frame(new SplittableRandom(4), 1514);
    d.send(1, f);
    d.notify(1);
    rig.settle();
    assertThat(d.receive(0)).containsExactly(f);
  }

  @Test
  void framesWaitForReceiveBuffersUntilTheDriverGivesSome() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(-1, 3);
    byte[] f = frame(new SplittableRandom(5), 64);
    d.send(1, f);
    d.notify(1);
    rig.settle();
    assertThat(d.receive(0)).isEmpty();
    assertThat(((VirtualClock) rig.clock).armedTimers()).as("no busy wait for buffers").isZero();
    d.giveBuffer(0, 2048);
    d.notify(0);
    rig.settle();
    assertThat(d.receive(0)).containsExactly(f);
  }

  @Test
  void framesBeyondTheBacklogAreDroppedAndCountedWhileTheDriverGivesNoBuffers() {
    VirtioRig.Nic nic = rig.nic(NetBackend.loopback());
    LegacyDriver d = nic.driver();
    d.init(-1, 3);
    int sent = 0;
    while (sent < VirtioNetDevice.RX_BACKLOG + 100) {
      for (int i = 0; i < 200; i++, sent++) {
        d.send(1, new byte[60]);
      }
      d.notify(1);
      rig.settle();
      d.queues.get(1).takeUsed();
    }
    assertThat(nic.device().droppedOnReceive()).isEqualTo(sent - VirtioNetDevice.RX_BACKLOG);
    for (int i = 0; i < 256; i++) {
      d.giveBuffer(0, 2048);
    }
    d.notify(0);
    rig.settle();
    assertThat(d.receive(0)).as("the backlog, as far as buffers go").hasSize(256);
  }

  @Test
  void whileBusMasteringIsOffNothingMoves() {
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(-1, 3);
    d.giveBuffer(0, 2048);
    d.access.configWrite(0x04, 2, 0x3);
    d.send(1, new byte[60]);
    d.notify(1);
    rig.settle();
    assertThat(d.queues.get(1).takeUsed()).isEmpty();
    d.access.configWrite(0x04, 2, 0x7);
    d.notify(1);
    rig.settle();
    assertThat(d.receive(0)).hasSize(1);
  }

  @Test
  void seededRandomTrafficBetweenAPairArrivesWholeAndInOrder() {
    SplittableRandom random = new SplittableRandom(SEED);
    NetBackend.Pair wire = NetBackend.pair();
    VirtioRig.Nic a = rig.nic(wire.left());
    VirtioRig.Nic b = rig.nic(wire.right());
    a.driver().init(random.nextBoolean() ? -1 : NO_MERGEABLE, 3);
    b.driver().init(random.nextBoolean() ? -1 : NO_MERGEABLE, 3);
    List<byte[]> sent = new ArrayList<>();
    List<byte[]> received = new ArrayList<>();
    for (int round = 0; round < 40; round++) {
      int buffers = 1 + random.nextInt(32);
      int bufferSize = b.driver().has(F_MRG_RXBUF) ? 256 + random.nextInt(1800) : 1526;
      for (int i = 0; i < buffers; i++) {
        b.driver().giveBuffer(0, bufferSize);
      }
      b.driver().notify(0);
      int frames = random.nextInt(buffers + 1);
      if (b.driver().has(F_MRG_RXBUF)) {
        frames = Math.min(frames, buffers / ((1526 + bufferSize - 1) / bufferSize));
      }
      for (int i = 0; i < frames; i++) {
        byte[] f = frame(random, 14 + random.nextInt(1501));
        sent.add(f);
        a.driver().send(1, f);
      }
      a.driver().notify(1);
      rig.settle();
      received.addAll(b.driver().receive(0));
      a.driver().queues.get(1).takeUsed();
      b.driver().init(b.driver().features, 3); // buffers left over go with a reset
    }
    assertThat(received).hasSameSizeAs(sent);
    for (int i = 0; i < sent.size(); i++) {
      assertThat(received.get(i)).as("frame %d (seed %d)", i, SEED).isEqualTo(sent.get(i));
    }
  }

  @Test
  void thePcapBackendWritesEveryFrameSent(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("out.pcap");
    LegacyDriver d = rig.nic(NetBackend.pcap(file)).driver();
    d.init(-1, 3);
    List<byte[]> sent =
        List.of(
            new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14},
            frame(new SplittableRandom(6), 1514));
    sent.forEach(f -> d.send(1, f));
    d.notify(1);
    rig.settle();
    ByteBuffer pcap = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(pcap.getInt()).isEqualTo(0xa1b2c3d4);
    assertThat(pcap.getShort()).isEqualTo((short) 2);
    assertThat(pcap.getShort()).isEqualTo((short) 4);
    pcap.position(20);
    assertThat(pcap.getInt()).as("Ethernet").isEqualTo(1);
    for (byte[] f : sent) {
      pcap.position(pcap.position() + 8);
      assertThat(pcap.getInt()).isEqualTo(f.length);
      assertThat(pcap.getInt()).isEqualTo(f.length);
      byte[] data = new byte[f.length];
      pcap.get(data);
      assertThat(data).isEqualTo(f);
    }
    assertThat(pcap.remaining()).isZero();
    assertThat(d.receive(0)).isEmpty();
  }

  @ParameterizedTest(name = "mergeable={0}")
  @CsvSource({"false", "true"})
  void aBurstOfSmallFramesCostsAboutOneDmaAccessAFrameOnEachSide(boolean mergeable) {
    NetBackend.Pair wire = NetBackend.pair();
    VirtioRig.Nic a = rig.nic(wire.left());
    VirtioRig.Nic b = rig.nic(wire.right());
    a.driver().init(mergeable ? -1 : NO_MERGEABLE, 3);
    b.driver().init(mergeable ? -1 : NO_MERGEABLE, 3);
    int burst = 32;
    for (int i = 0; i < burst; i++) {
      b.driver().giveBuffer(0, 2048);
    }
    b.driver().notify(0);
    rig.settle();
    SplittableRandom random = new SplittableRandom(SEED);
    List<byte[]> sent = new ArrayList<>();
    for (int round = 0; round < 4; round++) {
      a.dma().clear();
      b.dma().clear();
      for (int i = 0; i < burst; i++) {
        sent.add(frame(random, 64));
        a.driver().send(1, sent.getLast());
      }
      a.driver().notify(1);
      ((VirtualClock) rig.clock).runPending(); // the work, not the idle rounds after it
      // one access a frame for its bytes, a handful a burst for the rings (it was 4 to 5 a frame)
      assertThat(a.dma().accesses()).as("transmit side").isLessThan(2L * burst);
      assertThat(b.dma().accesses()).as("receive side").isLessThan(2L * burst);
      rig.settle();
      assertThat(b.driver().receive(0)).hasSize(burst);
      for (int i = 0; i < burst; i++) {
        b.driver().giveBuffer(0, 2048);
      }
      b.driver().notify(0);
      rig.settle();
    }
  }

  @Test
  void onRealTimeThePollerCarriesFramesAndThenSleeps() throws InterruptedException {
    rig.close();
    try (ExecutorClock clock = new ExecutorClock("virtio-test")) {
      rig = new VirtioRig(clock);
      NetBackend.Pair wire = NetBackend.pair();
      VirtioRig.Nic a = rig.nic(wire.left());
      VirtioRig.Nic b = rig.nic(wire.right());
      a.driver().init(-1, 3);
      b.driver().init(-1, 3);
      for (int i = 0; i < 64; i++) {
        b.driver().giveBuffer(0, 2048);
      }
      b.driver().notify(0);
      List<byte[]> sent = new ArrayList<>();
      SplittableRandom random = new SplittableRandom(SEED);
      for (int i = 0; i < 64; i++) {
        sent.add(frame(random, 64));
        a.driver().send(1, sent.get(i));
      }
      a.driver().notify(1);
      List<byte[]> received = new ArrayList<>();
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (received.size() < sent.size() && System.nanoTime() < deadline) {
        synchronized (b.device()) {
          received.addAll(b.driver().receive(0));
        }
        Thread.sleep(1);
      }
      assertThat(received).containsExactlyElementsOf(sent);
    }
  }
}
