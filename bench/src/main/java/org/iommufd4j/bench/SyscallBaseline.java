package org.iommufd4j.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/** The baseline every emulated operation is compared with: one bare system call through FFM. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {BenchConfig.NATIVE_ACCESS, BenchConfig.UNSAFE})
public class SyscallBaseline {
  @Benchmark
  public int getppid() {
    return LibC.getppid();
  }

  /**
   * A fault-safe read of 72 bytes (the largest iommufd struct) of this process's memory: what a raw
   * ioctl with its struct in native memory pays to read it, and again to write the reply.
   */
  @Benchmark
  public boolean processVmReadv72(Struct72 s) {
    return ProcessMemory.self().read(s.source.address(), s.copy);
  }

  /** A native struct and a native buffer to copy it into. */
  @State(Scope.Thread)
  public static class Struct72 {
    final Arena arena = Arena.ofConfined();
    final MemorySegment source = arena.allocate(72, 8);
    final MemorySegment copy = arena.allocate(72, 8);

    @TearDown
    public void close() {
      arena.close();
    }
  }
}
