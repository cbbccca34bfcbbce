package org.iommufd4j.bench;

import java.util.concurrent.TimeUnit;
import org.iommufd4j.kernel.LibC;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

/** The baseline every emulated operation is compared with: one bare system call through FFM. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {BenchConfig.NATIVE_ACCESS, BenchConfig.UNSAFE})
public class SyscallBaseline {
  @Benchmark
  public int getppid() {
    return LibC.getppid();
  }
}
