package org.iommufd4j.bench;

import java.util.concurrent.TimeUnit;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * MAP + UNMAP throughput of one context with one IOAS per thread: run with {@code -t 1} and {@code
 * -t 2}; with no shared locks, two threads should reach at least 1.7x one thread.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {BenchConfig.NATIVE_ACCESS, BenchConfig.UNSAFE})
public class TwoIoasBench {

  /** The shared context. */
  @State(Scope.Benchmark)
  public static class Shared {
    Iommufd iommufd;

    @Setup
    public void setup() {
      iommufd = Iommufd.emulated();
    }

    @TearDown
    public void tearDown() {
      iommufd.close();
    }
  }

  /** Each thread's own IOAS, with some live mappings. */
  @State(Scope.Thread)
  public static class PerThread {
    Ioas ioas;

    @Setup
    public void setup(Shared shared) {
      ioas = shared.iommufd.createIoas();
      for (int i = 0; i < 1000; i++) {
        ioas.mapFixed(0x1000_0000L + i * 8192L, BenchConfig.USER_VA, 4096, Protection.READ);
      }
    }
  }

  @Benchmark
  public long mapUnmapOwnIoas(PerThread t) {
    t.ioas.mapFixed(0x1000, BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
    return t.ioas.unmap(0x1000, 4096);
  }
}
