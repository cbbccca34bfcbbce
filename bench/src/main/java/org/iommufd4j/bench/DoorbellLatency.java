package org.iommufd4j.bench;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.ExecutorClock;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.PlainMemory;
import org.iommufd4j.pci.nvme.NvmeController;
import org.iommufd4j.pci.nvme.NvmeNamespace;

/**
 * Shared-memory doorbells (issue 13: a doorbell store seen by the model, median at most 2 µs; issue
 * 14: an idle NVMe controller under 1 % of a core).
 *
 * <ul>
 *   <li><b>store → model</b>: a plain 4-byte store into a doorbell page mapped from the device's
 *       memfd, as a program's store through its BAR mapping, until a model's {@code doorbell} runs;
 *       both ends read {@code CLOCK_MONOTONIC} ({@code System.nanoTime}), so the figure is the
 *       one-way time. Back to back (the poller spinning: a busy device) and with 5 ms of silence
 *       before each store (the poller asleep: an idle device's first doorbell).
 *   <li><b>idle</b>: an NVMe controller whose doorbell page is shared and that gets no store for 10
 *       s: the poller thread's CPU time and the whole process's, as a share of one core.
 * </ul>
 *
 * Run: {@code java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar
 * org.iommufd4j.bench.DoorbellLatency [stores]}.
 */
public final class DoorbellLatency {
  private DoorbellLatency() {}

  /** A model that is one page of registers and one page of doorbells, noting when one rings. */
  private static final class Bells implements PciDevice {
    private final ConfigSpace config =
        ConfigSpace.builder(0x1234, 0xbe11)
            .bar(Bar.memory32(0, 0x2000).withDoorbells(0x1000, 0x1000))
            .build();
    volatile long seenAt;
    volatile int seen;

    @Override
    public ConfigSpace configSpace() {
      return config;
    }

    @Override
    public long read(int bar, long offset, int size) {
      return 0;
    }

    @Override
    public void write(int bar, long offset, int size, long value) {}

    @Override
    public void doorbell(int bar, long offset, int value) {
      seenAt = System.nanoTime();
      seen = value;
    }

    @Override
    public void reset() {}
  }

  public static void main(String[] args) throws InterruptedException {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    System.out.printf("load average %.2f%n", loadAverage());
    try (ExecutorClock clock = new ExecutorClock("bench")) {
      Bells model = new Bells();
      PciFunction fn =
          PciFunction.create(p -> model, DmaPort.UNATTACHED, clock, Interrupts.Sink.DISCARD);
      MemorySegment bell = map(fn, 0x1000);
      storeToModel("store -> model, back to back", model, bell, n, 0);
      storeToModel("store -> model, after 5 ms idle", model, bell, Math.max(n / 100, 50), 5);

      PciFunction nvme =
          PciFunction.create(
              p -> new NvmeController(p, NvmeNamespace.inMemory(1 << 20)),
              DmaPort.UNATTACHED,
              clock,
              Interrupts.Sink.DISCARD);
      map(nvme, 0x1000);
      idle();
      Reference.reachabilityFence(fn); // the pollers end with their devices
      Reference.reachabilityFence(nvme);
    }
  }

  private static void storeToModel(
      String name, Bells model, MemorySegment bell, int n, long idleMillis)
      throws InterruptedException {
    long[] t = new long[n];
    int warmup = idleMillis == 0 ? n / 10 : 0;
    int value = model.seen;
    for (int i = -warmup; i < n; i++) {
      if (idleMillis > 0) {
        Thread.sleep(idleMillis);
      }
      value++;
      long start = System.nanoTime();
      bell.set(ValueLayout.JAVA_INT, 0, value);
      while (model.seen != value) {
        Thread.yield(); // the poller may need this CPU: the machine has two
      }
      if (i >= 0) {
        t[i] = model.seenAt - start;
      }
    }
    Arrays.sort(t);
    System.out.printf(
        "%-32s min %6.2f  p10 %7.2f  median %8.2f  p99 %9.2f  max %9.2f us (%d stores)%n",
        name,
        t[0] / 1e3,
        t[n / 10] / 1e3,
        t[n / 2] / 1e3,
        t[(int) (n * 0.99)] / 1e3,
        t[n - 1] / 1e3,
        n);
  }

  /** The NVMe controller's poller and this process over 10 s with no store. */
  private static void idle() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    var os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200)); // both pollers past their spin
    long[] pollers =
        Thread.getAllStackTraces().keySet().stream()
            .filter(th -> th.getName().equals("iommufd4j-doorbells"))
            .mapToLong(Thread::threadId)
            .toArray();
    // the floor, side by side: a thread that only sleeps as long as an idle poller does
    Thread floor =
        Thread.ofPlatform()
            .daemon()
            .start(
                () -> {
                  for (; ; ) {
                    LockSupport.parkNanos(PlainMemory.MAX_SLEEP_NANOS);
                  }
                });
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
    long floorBefore = threads.getThreadCpuTime(floor.threadId());
    long[] before = new long[pollers.length];
    for (int i = 0; i < pollers.length; i++) {
      before[i] = threads.getThreadCpuTime(pollers[i]);
    }
    long process = os.getProcessCpuTime();
    long start = System.nanoTime();
    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(10));
    long wall = System.nanoTime() - start;
    double processShare = (double) (os.getProcessCpuTime() - process) / wall;
    for (int i = 0; i < pollers.length; i++) {
      System.out.printf(
          "idle poller %d: %.3f %% of a core over %.1f s%n",
          i, 100.0 * (threads.getThreadCpuTime(pollers[i]) - before[i]) / wall, wall / 1e9);
    }
    System.out.printf(
        "floor (a thread parking %d ms at a time): %.3f %% of a core%n",
        PlainMemory.MAX_SLEEP_NANOS / 1_000_000,
        100.0 * (threads.getThreadCpuTime(floor.threadId()) - floorBefore) / wall);
    System.out.printf(
        "idle process (JVM, %d pollers, the floor, the devices' clock): %.3f %% of a core;"
            + " load average %.2f%n",
        pollers.length, 100 * processShare, loadAverage());
  }

  private static MemorySegment map(PciFunction fn, long offset) {
    PciFunction.SharedPages shared = fn.sharedPages(0);
    long address =
        LibC.mmap(0, 4096, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, shared.fd(), offset);
    if (address < 0) {
      throw new IllegalStateException("mmap of the doorbell page: " + -address);
    }
    return MemorySegment.ofAddress(address).reinterpret(4096);
  }

  private static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }
}
