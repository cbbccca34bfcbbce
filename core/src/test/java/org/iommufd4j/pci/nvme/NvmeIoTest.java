package org.iommufd4j.pci.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.pci.nvme.NvmeDriver.PAGE;
import static org.iommufd4j.pci.nvme.NvmeDriver.U64;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.iommufd4j.pci.nvme.NvmeDriver.Cqe;
import org.iommufd4j.pci.nvme.NvmeDriver.Queue;
import org.iommufd4j.pci.nvme.NvmeDriver.Sqe;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * NVM commands, PRPs, queues and interrupts as a driver sees them, data checked in the namespace.
 */
class NvmeIoTest {
  private static final long SEED = Long.getLong("seed", 1414);
  private static final int BLOCKS = (1 << 20) / 512;

  private NvmeDriver d;

  @BeforeEach
  void open() {
    d = new NvmeDriver();
    d.enable(16);
  }

  @AfterEach
  void close() {
    d.close();
  }

  private byte[] stored(long lba, int blocks) throws IOException {
    MemorySegment m = MemorySegment.ofArray(new byte[blocks * 512]);
    d.namespace.read(lba * 512, m);
    return m.toArray(ValueLayout.JAVA_BYTE);
  }

  private static byte[] pattern(SplittableRandom random, int length) {
    byte[] b = new byte[length];
    random.nextBytes(b);
    return b;
  }

  @ParameterizedTest(name = "{1} blocks at buffer offset 0x{0}")
  @CsvSource({
    "0, 1",
    "0, 8",
    "200, 8",
    "0, 9",
    "e00, 9",
    "0, 16",
    "4, 17",
    "0, 256",
    "200, 1024",
    "0, 1024"
  })
  void writesAndReadsLandWhereThePrpsSay(String offset, int blocks) throws IOException {
    SplittableRandom random = new SplittableRandom(SEED + blocks);
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(blocks / 8 + 2) + Long.parseLong(offset, 16);
    byte[] data = pattern(random, blocks * 512);
    d.memory(buffer, data.length).copyFrom(MemorySegment.ofArray(data));
    assertThat(q.run(d.io(0x01, 3, blocks, buffer)).status()).isZero();
    assertThat(stored(3, blocks)).isEqualTo(data);

    long back = d.allocate(blocks / 8 + 2) + Long.parseLong(offset, 16);
    assertThat(q.run(d.io(0x02, 3, blocks, back)).status()).isZero();
    assertThat(d.memory(back, data.length).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
  }

  @Test
  void aTransferAboveMdtsIsRefused() {
    Queue q = d.createQueuePair(1, 16, 0);
    assertThat(q.run(d.io(0x02, 0, 1025, d.allocate(130))).statusCode()).isEqualTo(0x002);
  }

  @Test
  void prpEntriesWithOffsetsWhereNoneMayBeAreInvalid() {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(8);
    assertThat(q.run(Sqe.rw(0x02, 0, 1, buffer + 2, 0)).statusCode())
        .as("PRP1 & 3")
        .isEqualTo(0x013);
    assertThat(q.run(Sqe.rw(0x02, 0, 16, buffer, buffer + PAGE + 0x200)).statusCode())
        .as("PRP2 as the second page")
        .isEqualTo(0x013);
    Sqe list = d.io(0x02, 0, 24, buffer);
    long listIova = list.bytes.get(U64, 32);
    d.memory(listIova + 8, 8).set(U64, 0, buffer + 2 * PAGE + 0x10);
    assertThat(q.run(list).statusCode()).as("a list entry").isEqualTo(0x013);
    assertThat(q.run(Sqe.rw(0x02, 0, 24, buffer, listIova + 4)).statusCode())
        .as("the list pointer")
        .isEqualTo(0x013);
  }

  @Test
  void aPrpListSpanningListPagesIsFollowed() throws IOException {
    // the list starts 8 bytes before the end of a page: its only entry there chains to the next
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(5);
    long lists = d.allocate(2);
    MemorySegment firstList = d.memory(lists + PAGE - 8, 8);
    firstList.set(U64, 0, lists + PAGE);
    for (int i = 0; i < 3; i++) {
      d.memory(lists + PAGE + 8L * i, 8).set(U64, 0, buffer + (i + 1L) * PAGE);
    }
    byte[] data = pattern(new SplittableRandom(SEED), 4 * PAGE);
    d.memory(buffer, data.length).copyFrom(MemorySegment.ofArray(data));
    assertThat(q.run(Sqe.rw(0x01, 100, 32, buffer, lists + PAGE - 8)).status()).isZero();
    assertThat(stored(100, 32)).isEqualTo(data);
  }

  @Test
  void aDmaFaultCompletesWithDataTransferErrorAndTheControllerCarriesOn() throws IOException {
    Queue q = d.createQueuePair(1, 16, 0);
    long unmapped = NvmeDriver.HOST_IOVA + NvmeDriver.HOST_SIZE + 0x10_0000;
    assertThat(q.run(Sqe.rw(0x02, 0, 1, unmapped, 0)).statusCode()).isEqualTo(0x004);
    assertThat(q.run(Sqe.rw(0x01, 0, 1, unmapped, 0)).statusCode()).isEqualTo(0x004);
    long buffer = d.allocate(1);
    assertThat(q.run(Sqe.rw(0x01, 0, 16, buffer, unmapped)).statusCode())
        .as("second page")
        .isEqualTo(0x004);
    assertThat(q.run(Sqe.rw(0x01, 0, 32, buffer, unmapped)).statusCode())
        .as("the list")
        .isEqualTo(0x004);
    assertThat(stored(0, 32)).containsOnly(0);
    assertThat(q.run(d.io(0x01, 0, 1, buffer)).status()).isZero();
    assertThat(d.csts()).isEqualTo(1);
  }

  @ParameterizedTest(name = "SLBA {0} NLB {1}")
  @CsvSource({"2047, 2", "2048, 1", "-1, 1", "9223372036854775807, 2"})
  void accessesPastTheNamespaceAreOutOfRange(long lba, int blocks) {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(1);
    assertThat(q.run(Sqe.rw(0x02, lba, blocks, buffer, buffer)).statusCode()).isEqualTo(0x080);
    assertThat(q.run(Sqe.rw(0x01, lba, blocks, buffer, buffer)).statusCode()).isEqualTo(0x080);
    assertThat(q.run(Sqe.rw(0x08, lba, blocks, 0, 0)).statusCode()).isEqualTo(0x080);
  }

  @Test
  void unknownOpcodesNamespacesAndProtectionInformationAreRefused() {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(1);
    assertThat(q.run(new Sqe(0x06).nsid(1)).statusCode())
        .as("Identify on an I/O queue")
        .isEqualTo(0x001);
    assertThat(q.run(new Sqe(0x05).nsid(1)).statusCode()).as("Compare").isEqualTo(0x001);
    assertThat(q.run(Sqe.rw(0x02, 0, 1, buffer, 0).nsid(0)).statusCode()).isEqualTo(0x00b);
    assertThat(q.run(Sqe.rw(0x02, 0, 1, buffer, 0).nsid(2)).statusCode()).isEqualTo(0x00b);
    assertThat(q.run(Sqe.rw(0x02, 0, 1, buffer, 0).nsid(-1)).statusCode()).isEqualTo(0x00b);
    assertThat(q.run(Sqe.rw(0x02, 0, 1, buffer, 0).dw(12, 1 << 26)).statusCode())
        .as("PRINFO")
        .isEqualTo(0x002);
    assertThat(q.run(new Sqe(0x00).nsid(1)).status()).as("Flush").isZero();
    assertThat(q.run(new Sqe(0x00).nsid(-1)).status()).as("Flush of all").isZero();
    assertThat(q.run(new Sqe(0x00).nsid(2)).statusCode()).isEqualTo(0x00b);
  }

  @Test
  void forceUnitAccessAndLimitedRetryAreAcceptedAndTheDataLands() throws IOException {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(1);
    d.memory(buffer, PAGE).fill((byte) 0x3c);
    int fuaAndLr = 1 << 30 | 1 << 31;
    Sqe write = Sqe.rw(0x01, 40, 8, buffer, 0);
    assertThat(q.run(write.dw(12, write.dw(12) | fuaAndLr)).status()).isZero();
    assertThat(stored(40, 8)).containsOnly(0x3c);
    d.memory(buffer, PAGE).fill((byte) 0);
    Sqe read = Sqe.rw(0x02, 40, 8, buffer, 0);
    assertThat(q.run(read.dw(12, read.dw(12) | fuaAndLr)).status()).isZero();
    assertThat(d.memory(buffer, PAGE).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0x3c);
  }

  /** Writes an SGL descriptor (NVMe 1.4, 4.4) at {@code at}: address, length, type and subtype. */
  private static void sgl(MemorySegment m, long at, long address, int length, int identifier) {
    m.set(U64, at, address);
    m.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, length);
    m.set(ValueLayout.JAVA_BYTE, at + 15, (byte) identifier);
  }

  /** A Read or Write of {@code blocks} at {@code lba} whose SGL1 is the given descriptor. */
  private static Sqe sglIo(int opcode, long lba, int blocks, long address, int length, int type) {
    Sqe c = Sqe.rw(opcode, lba, blocks, 0, 0).dw(0, opcode | 1 << 14);
    sgl(c.bytes, 24, address, length, type);
    return c;
  }

  @Test
  void sglsAreAdvertisedAndScatterAndGatherThroughSegments() throws IOException {
    long id = d.allocate(1);
    assertThat(d.admin(Sqe.identify(1, 0, id)).status()).isZero();
    assertThat(d.memory(id + 536, 4).get(ValueLayout.JAVA_INT_UNALIGNED, 0))
        .as("SGLS")
        .isEqualTo(1);
    Queue q = d.createQueuePair(1, 16, 0);
    long data = d.allocate(3);
    byte[] written = pattern(new SplittableRandom(SEED), 4096);
    // three unaligned pieces, 1000 + 2000 + 1096 bytes, gathered from a Last Segment's list
    long[] at = {data + 3, data + 0x1801, data + 0x2400};
    int[] size = {1000, 2000, 1096};
    long list = d.allocate(1);
    MemorySegment l = d.memory(list, 48);
    for (int i = 0, from = 0; i < 3; from += size[i], i++) {
      MemorySegment.copy(
          written, from, d.memory(at[i], size[i]), ValueLayout.JAVA_BYTE, 0, size[i]);
      sgl(l, 16L * i, at[i], size[i], 0x00);
    }
    assertThat(q.run(sglIo(0x01, 100, 8, list, 48, 0x30)).status()).isZero();
    assertThat(stored(100, 8)).isEqualTo(written);

    // read back scattered: a data block in the command's Segment list, then a Last Segment
    long back = d.allocate(2);
    long lists = d.allocate(1);
    MemorySegment first = d.memory(lists, 32);
    sgl(first, 0, back + 0x10, 512, 0x00);
    sgl(first, 16, lists + 0x800, 16, 0x30);
    sgl(d.memory(lists + 0x800, 16), 0, back + 0x1000, 4096 - 512, 0x00);
    assertThat(q.run(sglIo(0x02, 100, 8, lists, 32, 0x20)).status()).isZero();
    byte[] read = new byte[4096];
    MemorySegment.copy(d.memory(back + 0x10, 512), ValueLayout.JAVA_BYTE, 0, read, 0, 512);
    MemorySegment.copy(d.memory(back + 0x1000, 3584), ValueLayout.JAVA_BYTE, 0, read, 512, 3584);
    assertThat(read).isEqualTo(written);
    assertThat(q.run(sglIo(0x02, 100, 1, back, 512, 0x00)).status()).as("one data block").isZero();
  }

  @Test
  void badSglsGetTheirStatuses() {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(1);
    long list = d.allocate(1);
    MemorySegment l = d.memory(list, 64);
    assertThat(q.run(sglIo(0x02, 0, 1, buffer, 512, 0x00).dw(0, 0x02 | 2 << 14)).statusCode())
        .as("PSDT 10b: metadata SGLs")
        .isEqualTo(0x002);
    assertThat(q.run(sglIo(0x02, 0, 1, buffer, 512, 0x10)).statusCode())
        .as("Bit Bucket")
        .isEqualTo(0x011);
    assertThat(q.run(sglIo(0x02, 0, 1, buffer, 512, 0x01)).statusCode())
        .as("offset subtype")
        .isEqualTo(0x011);
    assertThat(q.run(sglIo(0x02, 0, 1, buffer, 512, 0x40)).statusCode())
        .as("Keyed Data Block")
        .isEqualTo(0x011);
    assertThat(q.run(sglIo(0x02, 0, 1, buffer, 1024, 0x00)).statusCode())
        .as("more data than the command moves")
        .isEqualTo(0x00f);
    assertThat(q.run(sglIo(0x02, 0, 2, buffer, 512, 0x00)).statusCode())
        .as("less data than the command moves")
        .isEqualTo(0x00f);
    assertThat(q.run(sglIo(0x02, 0, 1, list, 24, 0x30)).statusCode())
        .as("a list length not a multiple of 16")
        .isEqualTo(0x00d);
    sgl(l, 0, list + 0x100, 16, 0x30);
    sgl(l, 16, buffer, 512, 0x00);
    assertThat(q.run(sglIo(0x02, 0, 1, list, 32, 0x20)).statusCode())
        .as("a segment descriptor not last in its list")
        .isEqualTo(0x00d);
    sgl(l, 0, list + 0x100, 16, 0x20);
    assertThat(q.run(sglIo(0x02, 0, 1, list, 16, 0x30)).statusCode())
        .as("a segment inside the last segment")
        .isEqualTo(0x00d);
    sgl(l, 0, list, 16, 0x20);
    assertThat(q.run(sglIo(0x02, 0, 1, list, 16, 0x20)).statusCode())
        .as("a segment that leads to itself")
        .isEqualTo(0x00e);
    assertThat(q.run(sglIo(0x02, 0, 1, buffer, 512, 0x00)).status())
        .as("and then a good one")
        .isZero();
  }

  @Test
  void writeZeroesAndDeallocateLeaveZeroesAndOtherBlocksAlone() throws IOException {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(8);
    d.memory(buffer, 8 * PAGE).fill((byte) 0x5a);
    assertThat(q.run(d.io(0x01, 0, 64, buffer)).status()).isZero();
    assertThat(q.run(Sqe.rw(0x08, 2, 3, 0, 0)).status()).isZero();
    long ranges = d.allocate(1);
    MemorySegment r = d.memory(ranges, 32);
    r.set(ValueLayout.JAVA_INT_UNALIGNED, 4, 4);
    r.set(U64, 8, 10);
    r.set(ValueLayout.JAVA_INT_UNALIGNED, 20, 2);
    r.set(U64, 24, 60);
    Sqe dsm = new Sqe(0x09).nsid(1).prp1(ranges).dw(10, 1);
    assertThat(q.run(dsm).status()).as("no deallocate: a hint").isZero();
    assertThat(stored(10, 1)).containsOnly(0x5a);
    assertThat(q.run(dsm.dw(11, 4)).status()).isZero();
    byte[] after = stored(0, 64);
    for (int lba = 0; lba < 64; lba++) {
      boolean zeroed = (lba >= 2 && lba < 5) || (lba >= 10 && lba < 14) || lba >= 60 && lba < 62;
      assertThat(Arrays.copyOfRange(after, lba * 512, lba * 512 + 512))
          .as("LBA %d", lba)
          .containsOnly(zeroed ? 0 : 0x5a);
    }
    r.set(U64, 24, BLOCKS - 1);
    assertThat(q.run(dsm).statusCode()).as("a range past the end").isEqualTo(0x080);
    assertThat(stored(10, 1)).containsOnly(0);
  }

  @Test
  void smartLogCountsCommandsAndDataUnits() {
    Queue q = d.createQueuePair(1, 16, 0);
    long buffer = d.allocate(2);
    for (int i = 0; i < 3; i++) {
      q.run(d.io(0x01, 0, 8, buffer));
    }
    q.run(d.io(0x02, 0, 1, buffer));
    long log = d.allocate(1);
    assertThat(d.admin(Sqe.getLog(0x02, 512, log)).status()).isZero();
    MemorySegment m = d.memory(log, 512);
    assertThat(m.get(U64, 32)).as("data units read").isEqualTo(1);
    assertThat(m.get(U64, 48)).as("data units written").isEqualTo(1);
    assertThat(m.get(U64, 64)).as("read commands").isEqualTo(1);
    assertThat(m.get(U64, 80)).as("write commands").isEqualTo(3);
  }

  @ParameterizedTest(name = "queue depth {0}")
  @ValueSource(ints = {1, 4, 32, 127})
  void queueDepthsUpToTheQueueSizeCompleteEveryCommandOnce(int depth) throws IOException {
    SplittableRandom random = new SplittableRandom(SEED + depth);
    Queue q = d.createQueuePair(1, 128, 0);
    Map<Integer, Integer> lbaByCid = new HashMap<>();
    long buffers = d.allocate(depth);
    byte[][] data = new byte[depth][];
    for (int i = 0; i < depth; i++) {
      data[i] = pattern(random, PAGE);
      d.memory(buffers + (long) i * PAGE, PAGE).copyFrom(MemorySegment.ofArray(data[i]));
      lbaByCid.put(q.put(d.io(0x01, 8L * i, 8, buffers + (long) i * PAGE)), i);
    }
    q.ring();
    d.settle();
    List<Cqe> done = q.reap();
    assertThat(done).hasSize(depth);
    assertThat(done).allSatisfy(c -> assertThat(c.status()).isZero());
    assertThat(done.stream().map(Cqe::cid).distinct()).hasSize(depth);
    assertThat(done.getLast().sqHead()).isEqualTo(q.tail);
    for (int i = 0; i < depth; i++) {
      assertThat(stored(8L * i, 8)).isEqualTo(data[i]);
    }
  }

  @Test
  void aFullCompletionQueueHoldsBackSubmissionsUntilItsHeadMoves() {
    long sq = d.allocate(1);
    long cq = d.allocate(1);
    assertThat(d.admin(Sqe.createCq(1, 4, cq, 0)).status()).isZero();
    assertThat(d.admin(Sqe.createSq(1, 16, sq, 1)).status()).isZero();
    Queue q = d.new Queue(1, sq, cq, 16, 4);
    for (int i = 0; i < 10; i++) {
      q.put(new Sqe(0x00).nsid(1));
    }
    q.ring();
    d.settle();
    int total = 0;
    for (int round = 0; round < 5 && total < 10; round++) {
      List<Cqe> done = q.reap(); // consumes and rings the head doorbell
      assertThat(done).hasSizeLessThanOrEqualTo(3);
      total += done.size();
      d.settle();
    }
    assertThat(total).isEqualTo(10);
  }

  @Test
  void completionsOnTwoQueuesInterruptTheirOwnMsixVectors() {
    d.enableMsix();
    d.sink.take();
    Queue a = d.createQueuePair(1, 8, 3);
    Queue b = d.createQueuePair(2, 8, 7);
    assertThat(d.sink.take()).as("admin completions on vector 0").containsOnly("msix 0");
    a.submit(new Sqe(0x00).nsid(1));
    b.submit(new Sqe(0x00).nsid(1));
    d.settle();
    assertThat(d.sink.take()).containsExactlyInAnyOrder("msix 3", "msix 7");
    assertThat(a.reap()).hasSize(1);
    assertThat(b.reap()).hasSize(1);
  }

  @Test
  void coalescingInterruptsOnceTheThresholdIsPassedOrTheAggregationTimeHasRun() {
    d.enableMsix();
    Queue q = d.createQueuePair(1, 16, 1);
    // THR 3 (0's based: 4 entries), TIME 10 (1 ms)
    assertThat(d.admin(Sqe.setFeatures(0x08, 3 | 10 << 8)).status()).isZero();
    d.sink.take();
    for (int i = 0; i < 3; i++) {
      q.put(new Sqe(0x00).nsid(1));
    }
    q.ring();
    d.settle();
    assertThat(q.reap()).as("the entries are posted at once").hasSize(3);
    assertThat(d.sink.take()).as("3 entries, no time passed").isEmpty();
    d.clock.advance(999_999);
    assertThat(d.sink.take()).as("after 999.999 us").isEmpty();
    d.clock.advance(1);
    assertThat(d.sink.take()).as("after 1 ms").containsExactly("msix 1");

    for (int i = 0; i < 4; i++) {
      q.put(new Sqe(0x00).nsid(1));
    }
    q.ring();
    d.settle();
    assertThat(d.sink.take()).as("4 entries: the threshold").containsExactly("msix 1");
    assertThat(q.reap()).hasSize(4);
    d.clock.advance(10_000_000);
    assertThat(d.sink.take()).as("nothing left to signal").isEmpty();
  }

  @Test
  void queuesSharingAVectorAggregateTogether() {
    d.enableMsix();
    Queue a = d.createQueuePair(1, 8, 3);
    Queue b = d.createQueuePair(2, 8, 3);
    assertThat(d.admin(Sqe.setFeatures(0x08, 3 | 10 << 8)).status()).isZero();
    d.sink.take();
    a.put(new Sqe(0x00).nsid(1));
    a.put(new Sqe(0x00).nsid(1));
    a.ring();
    b.put(new Sqe(0x00).nsid(1));
    b.ring();
    d.settle();
    assertThat(d.sink.take()).as("3 entries on vector 3").isEmpty();
    b.submit(new Sqe(0x00).nsid(1));
    d.settle();
    assertThat(d.sink.take()).as("the fourth, on the other queue").containsExactly("msix 3");
    d.clock.advance(10_000_000);
    assertThat(d.sink.take()).isEmpty();
  }

  @Test
  void anAdminCompletionInterruptsAtOnceEvenOnAVectorItSharesWithAnIoQueue() {
    d.enableMsix();
    Queue q = d.createQueuePair(1, 8, 0);
    assertThat(d.admin(Sqe.setFeatures(0x08, 7 | 0xff << 8)).status()).isZero();
    d.sink.take();
    q.submit(new Sqe(0x00).nsid(1));
    d.settle();
    assertThat(d.sink.take()).as("an I/O completion on vector 0 waits").isEmpty();
    assertThat(d.admin(Sqe.getFeatures(0x08, 0)).dw0()).isEqualTo(7 | 0xff << 8);
    assertThat(d.sink.take())
        .as("an admin one does not, and takes the I/O one along")
        .containsExactly("msix 0");
  }

  @Test
  void theAdminQueueAndVectorsWithCoalescingDisabledInterruptAtOnce() {
    d.enableMsix();
    Queue coalesced = d.createQueuePair(1, 8, 1);
    Queue disabled = d.createQueuePair(2, 8, 2);
    assertThat(d.admin(Sqe.setFeatures(0x09, 2 | 1 << 16)).status()).as("CD on vector 2").isZero();
    d.sink.take();
    assertThat(d.admin(Sqe.setFeatures(0x08, 0xff | 0xff << 8)).status()).isZero();
    assertThat(d.sink.take()).as("admin completions are not coalesced").containsExactly("msix 0");
    coalesced.submit(new Sqe(0x00).nsid(1));
    disabled.submit(new Sqe(0x00).nsid(1));
    d.settle();
    assertThat(d.sink.take()).containsExactly("msix 2");
    d.clock.advance(25_500_000);
    assertThat(d.sink.take()).as("TIME 255: 25.5 ms").containsExactly("msix 1");
  }

  @Test
  void aResetDropsCompletionsWaitingForTheirInterrupt() {
    d.enableMsix();
    Queue q = d.createQueuePair(1, 8, 1);
    assertThat(d.admin(Sqe.setFeatures(0x08, 7 | 10 << 8)).status()).isZero();
    q.submit(new Sqe(0x00).nsid(1));
    d.settle();
    d.sink.take();
    d.disable();
    d.clock.advance(10_000_000);
    assertThat(d.sink.take()).isEmpty();
    assertThat(d.clock.armedTimers()).isZero();
  }

  @Test
  void aQueueWithoutInterruptsEnabledRaisesNone() {
    d.enableMsix();
    long cq = d.allocate(1);
    assertThat(d.admin(Sqe.createCq(1, 8, cq, 2).dw(11, 1 | 2 << 16)).status()).isZero();
    assertThat(d.admin(Sqe.createSq(1, 8, d.allocate(1), 1)).status()).isZero();
    d.sink.take();
    d.reg(0x1000 + 8, 4, 0); // nothing submitted
    Queue q = d.new Queue(1, 0, cq, 8);
    d.settle();
    assertThat(q.reap()).isEmpty();
    assertThat(d.sink.take()).isEmpty();
  }

  @Test
  void withoutMsixCompletionsAssertIntxUntilConsumedAndIntmsMasksIt() {
    d.sink.take();
    Queue q = d.createQueuePair(1, 8, 0);
    assertThat(d.sink.take()).containsExactly("intx+", "intx-", "intx+", "intx-");
    q.submit(new Sqe(0x00).nsid(1));
    d.settle();
    assertThat(d.sink.take()).containsExactly("intx+");
    d.reg(0x0c, 4, 1);
    assertThat(d.reg(0x0c, 4)).isEqualTo(1);
    assertThat(d.reg(0x10, 4)).isEqualTo(1);
    assertThat(d.sink.take()).containsExactly("intx-");
    d.reg(0x10, 4, 1);
    assertThat(d.sink.take()).containsExactly("intx+");
    assertThat(q.reap()).hasSize(1);
    assertThat(d.sink.take()).containsExactly("intx-");
  }

  @Test
  void aSubmissionQueueThatCannotBeReadIsFatalUntilTheControllerIsReset() {
    long unmapped = NvmeDriver.HOST_IOVA + NvmeDriver.HOST_SIZE + 0x10_0000;
    assertThat(d.admin(Sqe.createCq(1, 8, d.allocate(1), 0)).status()).isZero();
    assertThat(d.admin(Sqe.createSq(1, 8, unmapped, 1)).status()).isZero();
    d.reg(0x1000 + 8, 4, 1);
    d.settle();
    assertThat(d.csts() & 3).isEqualTo(3);
    d.disable();
    assertThat(d.csts()).isZero();
    d.enable(16);
    assertThat(d.admin(new Sqe(0x0a).dw(10, 7)).status()).isZero();
  }

  @Test
  void aCompletionQueueThatCannotBeWrittenIsFatal() {
    long unmapped = NvmeDriver.HOST_IOVA + NvmeDriver.HOST_SIZE + 0x10_0000;
    long sq = d.allocate(1);
    assertThat(d.admin(Sqe.createCq(1, 8, unmapped, 0)).status()).isZero();
    assertThat(d.admin(Sqe.createSq(1, 8, sq, 1)).status()).isZero();
    d.new Queue(1, sq, unmapped, 8).submit(new Sqe(0x00).nsid(1));
    d.settle();
    assertThat(d.csts() & 3).isEqualTo(3);
  }

  @Test
  void seededRandomIoMatchesAReferenceArray() throws IOException {
    SplittableRandom random = new SplittableRandom(SEED);
    Queue[] queues = {d.createQueuePair(1, 64, 0), d.createQueuePair(2, 16, 0)};
    byte[] reference = new byte[BLOCKS * 512];
    long buffers = d.allocate(64 * 33);
    for (int batch = 0; batch < 40; batch++) {
      Queue q = queues[random.nextInt(queues.length)];
      int depth = 1 + random.nextInt(q.size - 1);
      List<long[]> reads = new ArrayList<>();
      boolean[] touched = new boolean[BLOCKS];
      for (int i = 0; i < depth; i++) {
        int blocks = 1 + random.nextInt(random.nextBoolean() ? 8 : 256);
        int lba = random.nextInt(BLOCKS - blocks + 1);
        boolean overlaps = false;
        for (int b = lba; b < lba + blocks; b++) {
          overlaps |= touched[b];
        }
        if (overlaps) {
          continue; // commands in one batch may run in any order: keep them apart
        }
        Arrays.fill(touched, lba, lba + blocks, true);
        long buffer = buffers + (long) i * 33 * PAGE + 4L * random.nextInt(PAGE / 4);
        int op = random.nextInt(4);
        if (op == 0) {
          byte[] data = pattern(random, blocks * 512);
          d.memory(buffer, data.length).copyFrom(MemorySegment.ofArray(data));
          System.arraycopy(data, 0, reference, lba * 512, data.length);
          q.put(d.io(0x01, lba, blocks, buffer));
        } else if (op == 1) {
          Arrays.fill(reference, lba * 512, (lba + blocks) * 512, (byte) 0);
          q.put(Sqe.rw(0x08, lba, blocks, 0, 0));
        } else {
          reads.add(new long[] {q.put(d.io(0x02, lba, blocks, buffer)), buffer, lba, blocks});
        }
      }
      byte[] before = reference.clone();
      q.ring();
      d.settle();
      List<Cqe> done = q.reap();
      assertThat(done).allSatisfy(c -> assertThat(c.status()).isZero());
      for (long[] read : reads) {
        int from = (int) read[2] * 512;
        int to = from + (int) read[3] * 512;
        assertThat(d.memory(read[1], to - from).toArray(ValueLayout.JAVA_BYTE))
            .as("seed %d batch %d read at LBA %d", SEED, batch, read[2])
            .isEqualTo(Arrays.copyOfRange(before, from, to));
      }
    }
    assertThat(stored(0, BLOCKS)).as("seed %d", SEED).isEqualTo(reference);
  }
}
