package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Threads issuing random operations on one shared IOAS (each in its own IOVA window, so every
 * result is predictable whatever the interleaving) and on IOASes of their own, with a mock domain
 * pinning on the shared one and devices attaching and detaching on their own. Every result must
 * match the thread's sequential model, nothing may deadlock (bounded waits), invariants hold
 * throughout, and a failure prints the interleaving that led to it.
 */
class ConcurrencyStressTest {
  private static final long SEED = Long.getLong("seed", 1234L);
  private static final int THREADS = 4;
  private static final int OPS = Integer.getInteger("stress.ops", 2500);
  private static final int SLOTS = 64;
  private static final long SLOT = 0x10000;
  private static final long WINDOW = SLOTS * SLOT;
  private static final long BASE = 0x1000_0000L;

  private record Event(long seq, int thread, String op, String result) {}

  private final AtomicLong seq = new AtomicLong();
  private final ConcurrentLinkedQueue<Event> log = new ConcurrentLinkedQueue<>();

  private void record(int thread, String op, Object result) {
    log.add(new Event(seq.incrementAndGet(), thread, op, String.valueOf(result)));
  }

  private String interleaving() {
    List<Event> events = new ArrayList<>(log);
    events.sort(Comparator.comparingLong(Event::seq));
    StringBuilder sb = new StringBuilder("last events (seq thread op -> result):\n");
    for (Event e : events.subList(Math.max(0, events.size() - 40), events.size())) {
      sb.append(String.format("  %6d t%d %s -> %s%n", e.seq(), e.thread(), e.op(), e.result()));
    }
    return sb.toString();
  }

  private static Errno errnoOf(Runnable r) {
    try {
      r.run();
      return null;
    } catch (IommufdException e) {
      return e.errno();
    }
  }

  @Test
  void randomOperationsFromManyThreadsMatchEachThreadsSerialModel() throws Exception {
    Iommufd iommufd =
        Iommufd.emulated(
            Configuration.builder()
                .privateHost(true)
                .memlockLimit(Configuration.UNLIMITED)
                .build());
    Arena arena = Arena.ofShared();
    MemorySegment memory = arena.allocate(THREADS * WINDOW, 1 << 21);
    Ioas shared = iommufd.createIoas();
    EmulatedDevice sharedDevice = iommufd.createDevice(DomainModel.selftestMock());
    sharedDevice.attach(shared);
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    List<Future<?>> futures = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      futures.add(pool.submit(() -> runThread(iommufd, shared, memory, thread)));
    }
    pool.shutdown();
    if (!pool.awaitTermination(300, TimeUnit.SECONDS)) {
      fail("threads did not finish within 300 s (deadlock?)\n" + threadDump() + interleaving());
    }
    for (Future<?> f : futures) {
      try {
        f.get();
      } catch (ExecutionException e) {
        throw new AssertionError(
            "seed=" + SEED + ": " + e.getCause().getMessage() + "\n" + interleaving(),
            e.getCause());
      }
    }
    assertThat(((EmulatedIommufd) iommufd).checkInvariants()).as(interleaving()).isEmpty();
    iommufd.close();
    assertThat(((EmulatedIommufd) iommufd).context().host().totalPins()).isZero();
    arena.close();
  }

  private void runThread(Iommufd iommufd, Ioas shared, MemorySegment memory, int thread) {
    SplittableRandom rnd = new SplittableRandom(SEED * 31 + thread);
    Ioas own = iommufd.createIoas();
    EmulatedDevice device = iommufd.createDevice(DomainModel.selftestMock());
    boolean attached = false;
    boolean[] mapped = new boolean[SLOTS];
    boolean[] copied = new boolean[SLOTS];
    long window = BASE + thread * WINDOW;
    long buffer = memory.address() + thread * WINDOW;
    for (int i = 0; i < OPS; i++) {
      int slot = rnd.nextInt(SLOTS);
      long iova = window + slot * SLOT;
      long length = SLOT / 2 * (1 + rnd.nextInt(2));
      String where = "seed=" + SEED + " thread=" + thread + " op=" + i;
      switch (rnd.nextInt(7)) {
        case 0, 1 -> {
          Errno e =
              errnoOf(
                  () -> shared.mapFixed(iova, buffer + slot * SLOT, SLOT, Protection.READ_WRITE));
          record(thread, "map shared slot " + slot, e);
          assertThat(e).as(where).isEqualTo(mapped[slot] ? Errno.EEXIST : null);
          mapped[slot] = true;
        }
        case 2 -> {
          long[] n = {0};
          Errno e = errnoOf(() -> n[0] = shared.unmap(iova, length));
          record(thread, "unmap shared slot " + slot + " len " + length, e == null ? n[0] : e);
          if (!mapped[slot]) {
            assertThat(e).as(where).isEqualTo(Errno.ENOENT);
          } else if (length < SLOT) {
            assertThat(e).as(where + " (partial cover)").isEqualTo(Errno.ENOENT);
          } else {
            assertThat(e).as(where).isNull();
            assertThat(n[0]).as(where).isEqualTo(SLOT);
            mapped[slot] = false;
          }
        }
        case 3 -> {
          Errno e = errnoOf(() -> own.copyFixed(iova, shared, iova, SLOT, Protection.READ));
          record(thread, "copy slot " + slot + " to own", e);
          Errno expected = !mapped[slot] ? Errno.ENOENT : copied[slot] ? Errno.EEXIST : null;
          assertThat(e).as(where).isEqualTo(expected);
          copied[slot] |= e == null;
        }
        case 4 -> {
          long[] n = {0};
          Errno e = errnoOf(() -> n[0] = own.unmap(iova, SLOT));
          record(thread, "unmap own slot " + slot, e == null ? n[0] : e);
          assertThat(e).as(where).isEqualTo(copied[slot] ? null : Errno.ENOENT);
          copied[slot] = false;
        }
        case 5 -> {
          if (attached) {
            device.detach();
          } else {
            device.attach(own);
          }
          attached = !attached;
          record(thread, attached ? "attach own" : "detach own", "ok");
        }
        default -> {
          IovaRanges r = shared.iovaRanges();
          record(thread, "iova ranges shared", r.alignment());
          assertThat(r.alignment()).as(where).isEqualTo(2048);
        }
      }
    }
    long expectedOwn = 0;
    for (boolean c : copied) {
      expectedOwn += c ? SLOT : 0;
    }
    assertThat(own.unmapAll()).as("thread %d own IOAS at the end", thread).isEqualTo(expectedOwn);
    long expectedShared = 0;
    for (boolean m : mapped) {
      expectedShared += m ? SLOT : 0;
    }
    long[] n = {0};
    Errno e = errnoOf(() -> n[0] = shared.unmap(window, WINDOW));
    assertThat(e == null ? n[0] : 0)
        .as("thread %d window at the end", thread)
        .isEqualTo(expectedShared);
    device.close();
  }

  private static String threadDump() {
    StringBuilder sb = new StringBuilder();
    for (var info : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
      sb.append(info);
    }
    return sb.toString();
  }
}
