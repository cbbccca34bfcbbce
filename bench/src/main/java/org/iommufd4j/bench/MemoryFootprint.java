package org.iommufd4j.bench;

import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;

/**
 * Heap bytes per live 4 KiB mapping with no domain (issue 17's target: at most 64 at 1M mappings).
 * Run: {@code java -Xmx4g -cp bench/target/benchmarks.jar org.iommufd4j.bench.MemoryFootprint [n]}.
 */
public final class MemoryFootprint {
  private MemoryFootprint() {}

  private static long usedAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }

  /** Returns the measured bytes per mapping. */
  public static double measure(int mappings) throws InterruptedException {
    try (Iommufd iommufd = Iommufd.emulated()) {
      Ioas ioas = iommufd.createIoas();
      long before = usedAfterGc();
      for (int i = 0; i < mappings; i++) {
        ioas.map(BenchConfig.USER_VA + (long) i * 4096, 4096, Protection.READ_WRITE);
      }
      long after = usedAfterGc();
      double perMapping = (after - before) / (double) mappings;
      if (ioas.unmapAll() != (long) mappings * 4096) {
        throw new AssertionError("unexpected unmap length");
      }
      return perMapping;
    }
  }

  public static void main(String[] args) throws InterruptedException {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    System.out.printf(
        "heap per live 4 KiB mapping, no domain, %d mappings: %.1f bytes%n", n, measure(n));
  }
}
