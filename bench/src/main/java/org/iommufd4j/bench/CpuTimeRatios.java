package org.iommufd4j.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
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
    long sink = 0;
    long start = THREADS.getCurrentThreadCpuTime();
    for (int i = 0; i < BATCH; i++) {
      sink += op.getAsLong();
    }
    long cpu = THREADS.getCurrentThreadCpuTime() - start;
    if (sink == 42) {
      System.out.print("");
    }
    return cpu / (double) BATCH;
  }

  private static Ioas packed(Iommufd iommufd, int live) {
    Ioas ioas = iommufd.createIoas();
    for (int i = 0; i < live; i++) {
      ioas.map(BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
    }
    return ioas;
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
