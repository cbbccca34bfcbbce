package org.iommufd4j.pci.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.ExecutorClock;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.RecordingSink;
import org.iommufd4j.pci.nvme.NvmeDriver.Cqe;
import org.iommufd4j.pci.nvme.NvmeDriver.Queue;
import org.iommufd4j.pci.nvme.NvmeDriver.Sqe;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Garbage from the driver, real time, and a namespace in a file. */
class NvmeRobustnessTest {
  private static final long SEED = Long.getLong("seed", 1415);

  @Test
  void randomCommandsAndDoorbellsNeverHangOrBreakTheController() {
    SplittableRandom random = new SplittableRandom(SEED);
    try (NvmeDriver d = new NvmeDriver()) {
      d.enable(64);
      Queue io = d.createQueuePair(1, 64, 0);
      long scratch = d.allocate(16);
      long[] addresses = {
        0, scratch, scratch + 3, scratch + 0x800, NvmeDriver.HOST_IOVA - 4096, 1L << 38, -1L
      };
      for (int round = 0; round < 300; round++) {
        Queue q = random.nextBoolean() ? d.admin : io;
        int count = 1 + random.nextInt(8);
        int answered = 0; // commands that complete now: all but event requests
        boolean lastHeld = false;
        for (int i = 0; i < count; i++) {
          Sqe c =
              new Sqe(
                  random.nextInt(16)
                      | random.nextInt(4) << 8
                      | (random.nextInt(8) == 0 ? 1 << 14 : 0));
          for (int dw = 1; dw < 16; dw++) {
            c.dw(dw, random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(8));
          }
          c.prp1(addresses[random.nextInt(addresses.length)]);
          c.prp2(addresses[random.nextInt(addresses.length)]);
          if (q == d.admin && (c.dw(0) & 0xff) <= 0x05 && (c.dw(0) & 0xff) != 0x02) {
            c.dw(10, c.dw(10) & 0xffff_0000 | 2 + random.nextInt(8)); // leave queue 1 alone
          }
          if (q == d.admin && (c.dw(0) & 0xff) == 0x01) {
            c.dw(11, c.dw(11) & 0xffff | (2 + random.nextInt(8)) << 16); // and its CQ
          }
          q.put(c);
          lastHeld = q == d.admin && (c.dw(0) & 0xff) == 0x0c;
          answered += lastHeld ? 0 : 1;
        }
        q.ring();
        if (random.nextInt(20) == 0) {
          // a doorbell of a queue that does not exist or a value past any queue's end: an error
          // event, never a queue moved behind the driver's back
          d.reg(0x1000 + 4 * random.nextInt(140), 4, 2048 + random.nextInt(1 << 20));
        }
        d.settle();
        List<Cqe> done = q.reap();
        if ((d.csts() & 2) != 0) {
          break; // a queue pointer made it fatal: allowed, checked below
        }
        assertThat(done.size())
            .as("seed %d round %d", SEED, round)
            .isGreaterThanOrEqualTo(answered);
        if (!lastHeld) {
          assertThat(done.getLast().sqHead()).as("all fetched").isEqualTo(q.tail);
        }
      }
      d.settle();
      assertThat(d.clock.armedTimers()).as("nothing left spinning").isZero();
      d.disable();
      d.enable(4);
      Queue fresh = d.createQueuePair(3, 8, 0);
      long buffer = d.allocate(1);
      assertThat(fresh.run(d.io(0x01, 0, 8, buffer)).status()).isZero();
    }
  }

  @Test
  void onARealClockDoorbellsReturnAtOnceAndCompletionsFollow() throws Exception {
    try (NvmeDriver d = new NvmeDriver();
        ExecutorClock clock = new ExecutorClock("nvme-test")) {
      PciFunction f =
          PciFunction.create(
              ports -> new NvmeController(ports, d.namespace),
              DmaPort.of(d.iommuPort),
              clock,
              new RecordingSink());
      f.config().write(0x04, 2, 0x6);
      long sq = d.allocate(1);
      long cq = d.allocate(1);
      f.barWrite(0, 0x24, 4, 3 | 3 << 16);
      f.barWrite(0, 0x28, 8, sq);
      f.barWrite(0, 0x30, 8, cq);
      f.barWrite(0, 0x14, 4, 6 << 16 | 4 << 20 | 1);
      assertThat(f.barRead(0, 0x1c, 4) & 1).isEqualTo(1);
      MemorySegment entry = d.memory(sq, 64);
      entry.set(NvmeDriver.U32, 0, 0x06 | 42 << 16);
      entry.set(NvmeDriver.U32, 40, 1);
      long buffer = d.allocate(1);
      entry.set(NvmeDriver.U64, 24, buffer);
      f.barWrite(0, 0x1000, 4, 1);
      MemorySegment completion = d.memory(cq, 16);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while ((completion.get(NvmeDriver.U32, 12) & 1 << 16) == 0 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(completion.get(NvmeDriver.U32, 12)).isEqualTo(42 | 1 << 16);
      assertThat(d.memory(buffer, 2).get(ValueLayout.JAVA_SHORT_UNALIGNED, 0))
          .isEqualTo((short) 0x1b36);
    }
  }

  @Test
  void aFileNamespaceIsCreatedSparseAndHoldsWhatWasWritten(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("disk.img");
    byte[] data = new byte[4096];
    new SplittableRandom(SEED).nextBytes(data);
    try (NvmeDriver d = new NvmeDriver(NvmeNamespace.file(file, 64L << 20))) {
      assertThat(Files.size(file)).isEqualTo(64L << 20);
      d.enable(4);
      Queue q = d.createQueuePair(1, 8, 0);
      long buffer = d.allocate(1);
      d.memory(buffer, 4096).copyFrom(MemorySegment.ofArray(data));
      assertThat(q.run(d.io(0x01, 1000, 8, buffer)).status()).isZero();
      assertThat(q.run(new Sqe(0x00).nsid(1)).status()).isZero();
    }
    byte[] onDisk = Files.readAllBytes(file);
    assertThat(java.util.Arrays.copyOfRange(onDisk, 1000 * 512, 1000 * 512 + 4096)).isEqualTo(data);
    try (NvmeNamespace again = NvmeNamespace.file(file, 0)) {
      assertThat(again.blocks()).as("an existing file keeps its size").isEqualTo((64L << 20) / 512);
    }
    try (NvmeNamespace fresh = NvmeNamespace.file(dir.resolve("new.img"), 0)) {
      assertThat(fresh.blocks() * 512).isEqualTo(NvmeNamespace.DEFAULT_SIZE);
    }
  }
}
