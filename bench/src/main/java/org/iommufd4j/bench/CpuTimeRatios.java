package org.iommufd4j.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.function.LongSupplier;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Mapping;
import org.iommufd4j.Protection;
import org.iommufd4j.kernel.LibC;

/**
 * The engine's issue-17 ratios measured in this thread's CPU time rather than wall-clock time: on a
 * machine shared with other builds a thread is often descheduled, which wall-clock figures count
 * and CPU time does not. Each case runs in batches; the cases take turns, round after round, so
 * that a change of load hits all of them. Prints per case the minimum and median CPU nanoseconds
 * per operation over its batches, then the ratios. Run: {@code java -Xmx4g
 * --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar
 * org.iommufd4j.bench.CpuTimeRatios [rounds]}.
 */
public final class CpuTimeRatios {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int BATCH = 20_000;
  private static final int BATCHES_PER_ROUND = 5;

  private CpuTimeRatios() {}

  /** CPU nanoseconds per operation of one batch. */
  private static double batch(LongSupplier op) {
    return batch(op, BATCH);
  }

  private static double batch(LongSupplier op, int n) {
    long sink = 0;
    long start = THREADS.getCurrentThreadCpuTime();
    for (int i = 0; i < n; i++) {
      sink += op.getAsLong();
    }
    long cpu = THREADS.getCurrentThreadCpuTime() - start;
    if (sink == 42) {
      System.out.print("");
    }
    return cpu / (double) n;
  }

  private static Ioas packed(Iommufd iommufd, int live) {
    Ioas ioas = iommufd.createIoas();
    for (int i = 0; i < live; i++) {
      ioas.map(BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
    }
    return ioas;
  }

  /** A thread's own IOAS with 1000 live mappings, and MAP+UNMAP of 4 KiB at a fixed IOVA in it. */
  private static LongSupplier ownIoas(Iommufd iommufd) {
    Ioas ioas = iommufd.createIoas();
    for (int i = 0; i < 1000; i++) {
      ioas.mapFixed(0x1000_0000L + i * 8192L, BenchConfig.USER_VA, 4096, Protection.READ);
    }
    return () -> {
      ioas.mapFixed(0x1000, BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
      return ioas.unmap(0x1000, 4096);
    };
  }

  /**
   * Two threads on two IOASes of one context against one: what they share (locks, cache lines,
   * allocation) shows as more CPU time per operation when both run at once, whatever CPUs the
   * machine has free. The scaling printed is {@code 2 x alone / together}, what two free CPUs would
   * give.
   */
  private static void twoThreads(Iommufd iommufd, int rounds) {
    LongSupplier first = ownIoas(iommufd);
    LongSupplier second = ownIoas(iommufd);
    for (int warm = 0; warm < 20; warm++) {
      batch(first);
      batch(second);
    }
    int n = 10 * BATCH; // tens of milliseconds: long enough for the two batches to overlap
    double[] alone = new double[rounds];
    double[] together = new double[2 * rounds];
    for (int r = 0; r < rounds; r++) {
      alone[r] = batch(first, n);
      CyclicBarrier start = new CyclicBarrier(2);
      double[] other = new double[1];
      Thread t =
          Thread.ofPlatform()
              .start(
                  () -> {
                    await(start);
                    other[0] = batch(second, n);
                  });
      await(start);
      together[2 * r] = batch(first, n);
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException(e);
      }
      together[2 * r + 1] = other[0];
    }
    Arrays.sort(alone);
    Arrays.sort(together);
    double a = alone[rounds / 2];
    double b = together[rounds];
    System.out.printf(
        "two IOASes, one thread: median %.1f; two threads at once: median %.1f CPU ns/op;"
            + " scaling on two free CPUs: %.2f%n",
        a, b, 2 * a / b);
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    try (Iommufd iommufd = Iommufd.emulated()) {
      Ioas fixed = iommufd.createIoas();
      for (int i = 0; i < 10_000; i++) {
        fixed.mapFixed(0x1000_0000L + i * 8192L, BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
      }
      Map<String, LongSupplier> cases = new LinkedHashMap<>();
      cases.put("getppid", LibC::getppid);
      cases.put(
          "typed MAP+UNMAP 4 KiB fixed, 10k live",
          () -> {
            fixed.mapFixed(0x1000, BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
            return fixed.unmap(0x1000, 4096);
          });
      for (int live : new int[] {0, 100_000, 1_000_000}) {
        Ioas ioas = packed(iommufd, live);
        cases.put(
            "automatic MAP+UNMAP 4 KiB, " + live + " live",
            () -> {
              Mapping m = ioas.map(BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
              return ioas.unmap(m);
            });
      }
      Map<String, double[]> samples = new LinkedHashMap<>();
      cases.keySet().forEach(k -> samples.put(k, new double[rounds * BATCHES_PER_ROUND]));
      for (int warm = 0; warm < 20; warm++) {
        cases.values().forEach(CpuTimeRatios::batch);
      }
      for (int r = 0; r < rounds; r++) {
        for (var e : cases.entrySet()) {
          for (int b = 0; b < BATCHES_PER_ROUND; b++) {
            samples.get(e.getKey())[r * BATCHES_PER_ROUND + b] = batch(e.getValue());
          }
        }
      }
      Map<String, Double> median = new LinkedHashMap<>();
      for (var e : samples.entrySet()) {
        double[] s = e.getValue().clone();
        Arrays.sort(s);
        median.put(e.getKey(), s[s.length / 2]);
        System.out.printf(
            "%-42s min %8.1f  median %8.1f  CPU ns/op%n", e.getKey(), s[0], s[s.length / 2]);
      }
      twoThreads(iommufd, rounds);
      double ppid = median.get("getppid");
      System.out.printf(
          "typed fixed / getppid: %.2f%n",
          median.get("typed MAP+UNMAP 4 KiB fixed, 10k live") / ppid);
      double auto0 = median.get("automatic MAP+UNMAP 4 KiB, 0 live");
      System.out.printf(
          "automatic 100k / 0 live: %.2f; 1M / 0 live: %.2f%n",
          median.get("automatic MAP+UNMAP 4 KiB, 100000 live") / auto0,
          median.get("automatic MAP+UNMAP 4 KiB, 1000000 live") / auto0);
    }
  }
}
