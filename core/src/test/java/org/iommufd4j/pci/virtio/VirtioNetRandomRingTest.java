package org.iommufd4j.pci.virtio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.pci.VirtualClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded randomised rings ({@code -Dseed=N} repeats a run): a driver that follows the rules in
 * every way it may (descriptors in any order and reused at once, chains of any shape, indirect
 * tables, frames spread over mergeable buffers) gets every frame through intact; a driver that
 * scribbles over its rings gets at worst a stopped queue and NEEDS_RESET, never a hung or crashed
 * device, and a reset brings the device back.
 */
class VirtioNetRandomRingTest {
  private static final long SEED = Long.getLong("seed", 2026);
  private static final int NO_MERGEABLE = ~(1 << VirtioNetDevice.F_MRG_RXBUF);
  private static final Duration NEVER_HANGS = Duration.ofSeconds(30);

  private final VirtioRig rig = new VirtioRig();

  @AfterEach
  void close() {
    rig.close();
  }

  /** A driver's ring: descriptors taken from a shuffled free list, given back when used. */
  private static final class RandomQueue {
    final LegacyDriver d;
    final LegacyDriver.Queue q;
    final SplittableRandom random;
    final List<Integer> free = new ArrayList<>();

    /** Each outstanding head's buffers in chain order: {offset in memory, length}. */
    final List<List<long[]>> chains = new ArrayList<>();

    RandomQueue(LegacyDriver d, int index, SplittableRandom random) {
      this.d = d;
      this.q = d.queues.get(index);
      this.random = random;
      for (int i = 0; i < q.size; i++) {
        free.add(i);
        chains.add(null);
      }
    }

    /**
     * Makes {@code buffers} (offset, length) available as one chain, direct or through an indirect
     * table, the last {@code writable} device-writable; false if too few descriptors are free.
     */
    boolean add(List<long[]> buffers, int writable) {
      boolean indirect = buffers.size() > 1 && random.nextInt(3) == 0;
      if (free.size() < (indirect ? 1 : buffers.size())) {
        return false;
      }
      int[] order = new int[buffers.size()];
      if (indirect) { // a table's chain starts at its slot 0, the other slots in any order
        List<Integer> slots = new ArrayList<>();
        for (int i = 1; i < buffers.size(); i++) {
          slots.add(i);
        }
        shuffle(slots);
        for (int i = 1; i < order.length; i++) {
          order[i] = slots.get(i - 1);
        }
      } else {
        for (int i = 0; i < order.length; i++) {
          order[i] = free.remove(random.nextInt(free.size()));
        }
      }
      long table = indirect ? d.allocate(16 * buffers.size()) : 0;
      for (int i = 0; i < buffers.size(); i++) {
        int flags = (i >= buffers.size() - writable ? 2 : 0) | (i + 1 < order.length ? 1 : 0);
        int next = i + 1 < order.length ? order[i + 1] : 0;
        long address = d.iova + buffers.get(i)[0];
        int length = (int) buffers.get(i)[1];
        if (indirect) {
          long at = table + 16L * order[i];
          d.memory.set(ValueLayout.JAVA_LONG_UNALIGNED, at, address);
          d.memory.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, length);
          d.memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12, (short) flags);
          d.memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14, (short) next);
        } else {
          q.descriptor(order[i], address, length, flags, next);
        }
      }
      int head = indirect ? free.remove(random.nextInt(free.size())) : order[0];
      if (indirect) {
        q.descriptor(head, d.iova + table, 16 * buffers.size(), 4, 0);
      }
      chains.set(head, buffers);
      q.publish(head);
      return true;
    }

    /** A used chain: its head, the bytes the device wrote, its buffers. */
    record Taken(int head, int length, List<long[]> buffers) {}

    /** The chains used since the last call; their descriptors go back to the free list. */
    List<Taken> takeUsed() {
      List<Taken> taken = new ArrayList<>();
      for (LegacyDriver.Used u : q.takeUsed()) {
        int d = u.id();
        assertThat(chains.get(d)).as("queue %d: head %d is outstanding", q.index, d).isNotNull();
        taken.add(new Taken(d, u.length(), chains.get(d)));
        chains.set(d, null);
        free.add(d); // the head and, for a direct chain, the descriptors it links
        int flags = q.descriptorFlags(d);
        while ((flags & 1) != 0 && (flags & 4) == 0) {
          d = q.descriptorNext(d);
          free.add(d);
          flags = q.descriptorFlags(d);
        }
      }
      shuffle(free);
      return taken;
    }

    private <T> void shuffle(List<T> list) {
      for (int i = list.size() - 1; i > 0; i--) {
        int j = random.nextInt(i + 1);
        T t = list.get(i);
        list.set(i, list.get(j));
        list.set(j, t);
      }
    }
  }

  /** {@code total} bytes cut into 1 to 4 random pieces, each in a buffer of its own. */
  private static List<long[]> pieces(LegacyDriver d, SplittableRandom random, int total) {
    int count = Math.min(total, 1 + random.nextInt(4));
    List<long[]> out = new ArrayList<>();
    int left = total;
    for (int i = 0; i < count; i++) {
      int length = i == count - 1 ? left : 1 + random.nextInt(left - (count - 1 - i));
      out.add(new long[] {d.allocate(length), length});
      left -= length;
    }
    return out;
  }

  @ParameterizedTest(name = "mergeable={0}")
  @ValueSource(booleans = {true, false})
  void aDriverThatFollowsTheRulesInAnyOrderGetsEveryFrameThroughIntact(boolean mergeable) {
    SplittableRandom random = new SplittableRandom(SEED);
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    d.init(mergeable ? -1 : NO_MERGEABLE, 3);
    int header = d.headerLength();
    RandomQueue rx = new RandomQueue(d, 0, random.split());
    RandomQueue tx = new RandomQueue(d, 1, random.split());
    List<byte[]> sent = new ArrayList<>();
    List<byte[]> received = new ArrayList<>();
    for (int round = 0; round < 150; round++) {
      // at most 48 waiting, so that the driver's buffer area is not reused under them; without
      // mergeable buffers each holds a whole frame and its header
      int give = Math.min(random.nextInt(24), 48 - (rx.q.availIdx - rx.q.lastUsed));
      for (int i = 0; i < give; i++) {
        int room = mergeable ? header + random.nextInt(1600) : header + 1600;
        List<long[]> buffers = pieces(d, random, room);
        if (mergeable && buffers.getFirst()[1] < header) { // the header's buffer holds it whole
          buffers = List.of(new long[] {d.allocate(room), room});
        }
        if (!rx.add(buffers, buffers.size())) {
          break;
        }
      }
      int frames = random.nextInt(16);
      for (int i = 0; i < frames; i++) {
        byte[] frame = VirtioNetTrafficTest.frame(random, 14 + random.nextInt(1587));
        List<long[]> buffers = pieces(d, random, header + frame.length);
        byte[] bytes = new byte[header + frame.length];
        System.arraycopy(frame, 0, bytes, header, frame.length);
        int at = 0;
        for (long[] b : buffers) {
          MemorySegment.copy(bytes, at, d.memory, ValueLayout.JAVA_BYTE, b[0], (int) b[1]);
          at += (int) b[1];
        }
        if (!tx.add(buffers, 0)) {
          break;
        }
        sent.add(frame);
      }
      d.notify(1);
      d.notify(0);
      rig.settle();
      assertThat(tx.takeUsed()).allMatch(u -> u.length() == 0);
      received.addAll(frames(d, rx, header, mergeable));
    }
    assertThat(d.status() & LegacyDriver.NEEDS_RESET).isZero();
    assertThat(sent).hasSizeGreaterThan(500);
    // frames wait for buffers in order; the last may still wait
    assertThat(received).hasSizeGreaterThan(sent.size() / 2);
    assertThat(sent.subList(0, received.size())).containsExactlyElementsOf(received);
  }

  /** The frames in the used receive buffers, header removed. */
  private static List<byte[]> frames(
      LegacyDriver d, RandomQueue rx, int header, boolean mergeable) {
    List<byte[]> out = new ArrayList<>();
    List<RandomQueue.Taken> used = rx.takeUsed();
    for (int i = 0; i < used.size(); ) {
      long first = used.get(i).buffers().getFirst()[0];
      int buffers =
          mergeable ? d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, first + 10) & 0xffff : 1;
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      for (int b = 0; b < buffers; b++, i++) {
        int left = used.get(i).length();
        for (long[] piece : used.get(i).buffers()) {
          int n = (int) Math.min(left, piece[1]);
          bytes.writeBytes(d.memory.asSlice(piece[0], n).toArray(ValueLayout.JAVA_BYTE));
          left -= n;
        }
      }
      byte[] all = bytes.toByteArray();
      out.add(Arrays.copyOfRange(all, header, all.length));
    }
    return out;
  }

  @ParameterizedTest(name = "seed offset {0}")
  @ValueSource(ints = {0, 1, 2, 3})
  void aRingScribbledOverAtRandomNeverHangsTheDeviceAndAResetBringsItBack(int offset) {
    SplittableRandom random = new SplittableRandom(SEED + offset);
    LegacyDriver d = rig.nic(NetBackend.loopback()).driver();
    int stopped = 0;
    for (int round = 0; round < 50; round++) {
      d.init(random.nextBoolean() ? -1 : NO_MERGEABLE, 3);
      for (int i = 0; i < 4; i++) {
        d.giveBuffer(0, 2048);
        d.send(1, VirtioNetTrafficTest.frame(random, 60 + random.nextInt(200)));
      }
      for (int i = 0, n = 1 + random.nextInt(40); i < n; i++) {
        scribble(d, random);
      }
      for (int q = 0; q < 3; q++) {
        d.notify(q);
      }
      assertTimeoutPreemptively(NEVER_HANGS, rig::settle);
      assertThat(((VirtualClock) rig.clock).armedTimers()).as("asleep").isZero();
      if ((d.status() & LegacyDriver.NEEDS_RESET) != 0) {
        stopped++;
      }
    }
    assertThat(stopped).as("most scribbles break a rule").isGreaterThan(10);

    d.init(-1, 3); // a reset brings the device back
    d.giveBuffer(0, 2048);
    byte[] frame = VirtioNetTrafficTest.frame(random, 100);
    d.send(1, frame);
    d.notify(1);
    rig.settle();
    assertThat(d.status() & LegacyDriver.NEEDS_RESET).isZero();
    assertThat(d.receive(0)).containsExactly(frame);
  }

  /**
   * One random write into a ring: a descriptor, an available entry, the available index or flags,
   * or the used event. Addresses point mostly into the driver's memory, lengths anywhere.
   */
  private static void scribble(LegacyDriver d, SplittableRandom random) {
    LegacyDriver.Queue q = d.queues.get(random.nextInt(3));
    switch (random.nextInt(6)) {
      case 0 ->
          q.descriptor(
              random.nextInt(q.size),
              random.nextInt(4) == 0
                  ? random.nextLong()
                  : d.iova + random.nextLong(VirtioRig.MEMORY - 64),
              random.nextBoolean() ? random.nextInt(4096) : random.nextInt(),
              random.nextInt(8),
              random.nextBoolean() ? random.nextInt(q.size) : random.nextInt(0x10000));
      case 1 -> q.publish(random.nextBoolean() ? random.nextInt(q.size) : random.nextInt(0x10000));
      case 2 -> q.setAvailIdx(random.nextInt(0x10000));
      case 3 -> q.setAvailIdx((q.availIdx + random.nextInt(8)) & 0xffff);
      case 4 -> q.setAvailFlags(random.nextInt(2));
      default -> q.setUsedEvent(random.nextInt(0x10000));
    }
  }
}
