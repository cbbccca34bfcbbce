package org.iommufd4j.bench;

import java.util.concurrent.TimeUnit;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Mapping;
import org.iommufd4j.Protection;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Automatic IOVA allocation with {@code live} mappings packed from the bottom of the IOVA space, so
 * the first hole that fits lies above all of them: the kernel's linear first-fit scan walks every
 * area here; the gap-augmented tree should not (target: cost at 100k and 1M live within 2x of the
 * cost at 0 live).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {BenchConfig.NATIVE_ACCESS, BenchConfig.UNSAFE, "-Xmx4g"})
public class AutoAllocBench {
  @Param({"0", "100000", "1000000"})
  int live;

  private Iommufd iommufd;
  private Ioas ioas;

  @Setup
  public void setup() {
    iommufd = Iommufd.emulated();
    ioas = iommufd.createIoas();
    for (int i = 0; i < live; i++) {
      ioas.map(BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
    }
  }

  @TearDown
  public void tearDown() {
    iommufd.close();
  }

  @Benchmark
  public long mapAutoThenUnmap4k() {
    Mapping m = ioas.map(BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
    return ioas.unmap(m);
  }

  /** As {@link #mapAutoThenUnmap4k} through the overload that answers the IOVA as a primitive. */
  @Benchmark
  public long mapIovaThenUnmap4k() {
    long iova = ioas.mapIova(BenchConfig.USER_VA, 4096, Protection.READ_WRITE);
    return ioas.unmap(iova, 4096);
  }
}
