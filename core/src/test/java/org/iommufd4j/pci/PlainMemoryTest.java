package org.iommufd4j.pci;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.kernel.LibC;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Plain-memory BAR ranges: one storage for pwrite, the model and a program's mapping; doorbells.
 */
class PlainMemoryTest {
  private static final long SEED = Long.getLong("seed", 8817);

  private final ConfigSpace config =
      ConfigSpace.builder(1, 2)
          .bar(
              Bar.memory32(0, 0x8000)
                  .withDoorbells(0x1000, 0x800)
                  .withPlainMemory(0x1800, 0x800) // with the doorbells: page 0x1000 is shared
                  .withPlainMemory(0x2800, 0x800) // half a page: trapped
                  .withPlainMemory(0x4000, 0x2000)) // a page of it is the MSI-X table: trapped
          .msix(4, 0, 0x5000, 0, 0x7000)
          .build();
  private final PciDevice.Ports[] ports = new PciDevice.Ports[1];
  private final PciFunction fn =
      PciFunction.create(
          p -> {
            ports[0] = p;
            return new FixedDevice(config);
          },
          new NoDma(),
          new VirtualClock(),
          new RecordingSink());
  private final FixedDevice model = (FixedDevice) fn.model();
  private MemorySegment mapped;

  @AfterEach
  void unmap() {
    if (mapped != null) {
      LibC.munmap(mapped.address(), mapped.byteSize());
    }
  }

  private List<Long> told() {
    return model.doorbells.stream().map(d -> d[1] << 32 | d[2] & 0xffff_ffffL).toList();
  }

  @Test
  void aDoorbellStoreThroughTheCoreIsToldBeforeItReturnsAndOnlyIfItChangesTheValue() {
    fn.barWrite(0, 0x1008, 4, 5);
    assertThat(told()).containsExactly(0x1008L << 32 | 5);
    fn.barWrite(0, 0x1008, 4, 5);
    assertThat(told()).as("the same value again").hasSize(1);
    fn.barWrite(0, 0x1010, 8, 0x0000_0007_0000_0006L);
    assertThat(told()).endsWith(0x1010L << 32 | 6, 0x1014L << 32 | 7);
    fn.barWrite(0, 0x1009, 1, 0x01); // part of a word: the whole word is told
    assertThat(told()).endsWith(0x1008L << 32 | 0x105);
    assertThat(fn.barRead(0, 0x1008, 4)).as("doorbells read back").isEqualTo(0x105);
    fn.barWrite(0, 0x1800, 4, 9);
    assertThat(told()).as("plain memory outside the doorbells").hasSize(4);
  }

  @Test
  void onlyWholePagesOfPlainMemoryClearOfTheMsixTableAreShared() {
    PciFunction.SharedPages shared = fn.sharedPages(0);
    assertThat(shared.pages())
        .containsExactly(new Bar.Range(0x1000, 0x1000), new Bar.Range(0x4000, 0x1000));
    assertThat(fn.sharedPages(1)).as("no such BAR").isNull();
  }

  @Test
  void storesThroughASharedMappingReachTheModelFromThePoller() throws InterruptedException {
    mapped = map(0x1000);
    fn.barWrite(0, 0x1800, 4, 0x1234);
    assertThat(mapped.get(JAVA_INT, 0x800)).as("one storage").isEqualTo(0x1234);
    mapped.set(JAVA_INT, 0x20, 42);
    awaitTold(0x1020L << 32 | 42);

    SplittableRandom random = new SplittableRandom(SEED);
    int last = 0;
    for (int i = 0; i < 10_000; i++) { // stores faster than any look: coalesced, last one wins
      last = random.nextInt(1, Integer.MAX_VALUE);
      mapped.set(JAVA_INT, 0x24, last);
    }
    awaitTold(0x1024L << 32 | last);
    int heard = told().size();
    mapped.set(JAVA_INT, 0x24, last);
    Thread.sleep(20);
    assertThat(told()).as("a store of the value there is not seen").hasSize(heard);
  }

  @Test
  void aResetOrAClearZeroesMemorySoTheSameDoorbellValueIsToldAgain() {
    fn.barWrite(0, 0x1000, 4, 3);
    fn.barWrite(0, 0x4000, 4, 3);
    fn.reset();
    assertThat(fn.barRead(0, 0x1000, 4)).isZero();
    assertThat(fn.barRead(0, 0x4000, 4)).isZero();
    fn.barWrite(0, 0x1000, 4, 3);
    ports[0].memory().clear(0, 0x1000, 4);
    fn.barWrite(0, 0x1000, 4, 3);
    assertThat(told()).containsExactly(0x1000L << 32 | 3, 0x1000L << 32 | 3, 0x1000L << 32 | 3);
    assertThat(ports[0].memory().segment(0).get(JAVA_BYTE, 0x1000)).isEqualTo((byte) 3);
  }

  @Test
  void anIdleDeviceCostsThePollerUnderFivePercentOfACore() throws InterruptedException {
    mapped = map(0x1000);
    mapped.set(JAVA_INT, 0, 1);
    awaitTold(0x1000L << 32 | 1);
    Thread poller = ports[0].memory().poller();
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Thread.sleep(100); // past the spin after the last store
    long cpu = threads.getThreadCpuTime(poller.threadId());
    long start = System.nanoTime();
    Thread.sleep(1000);
    double share =
        (double) (threads.getThreadCpuTime(poller.threadId()) - cpu) / (System.nanoTime() - start);
    // about 0.1 % measured; the bound only catches a poller that never sleeps
    assertThat(share).as("CPU share of the idle poller").isLessThan(0.05);
  }

  private MemorySegment map(long offset) {
    PciFunction.SharedPages shared = fn.sharedPages(0);
    long address =
        LibC.mmap(
            0, 0x1000, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, shared.fd(), offset);
    assertThat(address).isPositive();
    return MemorySegment.ofAddress(address).reinterpret(0x1000);
  }

  private void awaitTold(long doorbell) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!told().contains(doorbell)) {
      assertThat(System.nanoTime()).as("told %x", doorbell).isLessThan(deadline);
      Thread.sleep(1);
    }
  }
}
