package org.iommufd4j.bench;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.Configuration;
import org.iommufd4j.DomainModel;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.memory.UserMemory;
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
 * An emulated device's 64 KiB DMA write through a VT-d domain into memory the IOAS maps (issue 13:
 * at least 2 GB/s), the path a device model's {@code DmaPort.write} takes once {@code VfioFunction}
 * has found its binding: the domain's translation page by page, then the user memory's write.
 *
 * <ul>
 *   <li>{@code child}: the buffer is in another process (a {@code sleep} this benchmark starts),
 *       written with {@code process_vm_writev} as the bridge server's {@code RemoteMemory} writes a
 *       client's memory outside a call (a model's DMA runs on no client's call).
 *   <li>{@code self}: the buffer is in this process (the in-process library, a plain copy).
 * </ul>
 *
 * <p>{@code oneCopy64k} is the floor under it: the same user memory written in one call, where the
 * DMA path writes page by page (one {@code process_vm_writev} per 4 KiB page for both targets).
 * Reported as the time of one 64 KiB write; GB/s = 65536 / ns.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {BenchConfig.NATIVE_ACCESS, BenchConfig.UNSAFE})
public class DeviceDmaBench {
  private static final long LENGTH = 64 << 10;
  private static final long IOVA = 0x1000_0000L;

  @Param({"child", "self"})
  String target;

  private Arena arena;
  private Process child;
  private Iommufd iommufd;
  private EmulatedDevice device;
  private MemorySegment source;
  private UserMemory memory;
  private long buffer;

  @Setup
  public void setup() throws Exception {
    arena = Arena.ofShared();
    source = arena.allocate(LENGTH, 4096);
    for (long i = 0; i < LENGTH; i++) {
      source.set(ValueLayout.JAVA_BYTE, i, (byte) i);
    }
    Configuration.Builder config =
        Configuration.builder().privateHost(true).memlockLimit(Configuration.UNLIMITED);
    if (target.equals("child")) {
      child = new ProcessBuilder("sleep", "3600").start();
      int pid = (int) child.pid();
      buffer = stackBottom(pid);
      memory = ProcessMemory.of(pid);
    } else {
      buffer = arena.allocate(LENGTH, 4096).address();
      memory = ProcessMemory.self();
    }
    config.userMemory(memory);
    iommufd = Iommufd.emulated(config.build());
    Ioas ioas = iommufd.createIoas();
    device = iommufd.createDevice(DomainModel.vtd());
    device.attach(ioas);
    ioas.mapFixed(IOVA, buffer, LENGTH, Protection.READ_WRITE);
    device.dmaWrite(IOVA, source);
    MemorySegment back = arena.allocate(LENGTH);
    device.dmaRead(IOVA, back);
    if (back.mismatch(source) != -1) {
      throw new IllegalStateException("the DMA did not reach the " + target + "'s buffer");
    }
  }

  /**
   * The lowest 64 KiB of the child's stack mapping, far below anything {@code sleep} touches (the
   * kernel maps 132 KiB or more; its frames are at the top). Waits for the exec to finish.
   */
  private static long stackBottom(int pid) throws IOException, InterruptedException {
    Path maps = Path.of("/proc/" + pid + "/maps");
    for (int tries = 0; tries < 500; tries++) {
      String text = Files.readString(maps);
      if (text.contains("sleep")) {
        for (String line : text.split("\n")) {
          if (line.endsWith("[stack]")) {
            String[] range = line.substring(0, line.indexOf(' ')).split("-");
            long start = Long.parseUnsignedLong(range[0], 16);
            long end = Long.parseUnsignedLong(range[1], 16);
            if (end - start >= 2 * LENGTH) {
              return start;
            }
          }
        }
      }
      Thread.sleep(10);
    }
    throw new IllegalStateException("no stack of 128 KiB in " + maps);
  }

  @TearDown
  public void tearDown() {
    iommufd.close();
    if (child != null) {
      child.destroy();
    }
    arena.close();
  }

  @Benchmark
  public void dmaWrite64k() {
    device.dmaWrite(IOVA, source);
  }

  @Benchmark
  public boolean oneCopy64k() {
    return memory.write(buffer, source);
  }
}
