package org.iommufd4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
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
 * MAP + UNMAP of 4 KiB at a fixed IOVA with {@code live} other mappings in the IOAS and no domain:
 * the typed API against the raw byte ABI (issue target: the typed path beats one system call, the
 * raw path stays within 2x of the typed one). The raw calls run twice: with the structs in native
 * memory, which the emulator reads and writes only with process_vm_readv/writev (one of each per
 * call: it cannot know the caller left the memory accessible), and in heap arrays, which it copies
 * directly.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(
    value = 1,
    jvmArgsAppend = {BenchConfig.NATIVE_ACCESS, BenchConfig.UNSAFE})
public class IoasMapUnmapBench {
  private static final long IOVA = 0x1000;
  private static final long LENGTH = 4096;

  @Param({"10000"})
  int live;

  private Iommufd iommufd;
  private Ioas ioas;
  private Arena arena;
  private MemorySegment mapArg;
  private MemorySegment unmapArg;
  private MemorySegment heapMapArg;
  private MemorySegment heapUnmapArg;

  @Setup
  public void setup() {
    iommufd = Iommufd.emulated();
    ioas = iommufd.createIoas();
    for (int i = 0; i < live; i++) {
      ioas.mapFixed(
          0x1000_0000L + i * 2 * LENGTH, BenchConfig.USER_VA, LENGTH, Protection.READ_WRITE);
    }
    arena = Arena.ofConfined();
    mapArg = arena.allocate(IommuIoasMap.SIZE, 8);
    mapArg.set(JAVA_INT, 0, IommuIoasMap.SIZE);
    mapArg.set(
        JAVA_INT,
        IommuIoasMap.FLAGS,
        IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
            | IommuIoasMap.IOMMU_IOAS_MAP_READABLE
            | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE);
    mapArg.set(JAVA_INT, IommuIoasMap.IOAS_ID, ioas.id());
    mapArg.set(JAVA_LONG, IommuIoasMap.USER_VA, BenchConfig.USER_VA);
    mapArg.set(JAVA_LONG, IommuIoasMap.LENGTH, LENGTH);
    mapArg.set(JAVA_LONG, IommuIoasMap.IOVA, IOVA);
    unmapArg = arena.allocate(IommuIoasUnmap.SIZE, 8);
    unmapArg.set(JAVA_INT, 0, IommuIoasUnmap.SIZE);
    unmapArg.set(JAVA_INT, IommuIoasUnmap.IOAS_ID, ioas.id());
    unmapArg.set(JAVA_LONG, IommuIoasUnmap.IOVA, IOVA);
    heapMapArg = MemorySegment.ofArray(new long[IommuIoasMap.SIZE / 8]).copyFrom(mapArg);
    heapUnmapArg = MemorySegment.ofArray(new long[IommuIoasUnmap.SIZE / 8]).copyFrom(unmapArg);
  }

  @TearDown
  public void tearDown() {
    iommufd.close();
    arena.close();
  }

  @Benchmark
  public long typedMapUnmap4k() {
    ioas.mapFixed(IOVA, BenchConfig.USER_VA, LENGTH, Protection.READ_WRITE);
    return ioas.unmap(IOVA, LENGTH);
  }

  /** As {@link #typedMapUnmap4k} through the overload that returns no {@code Mapping}. */
  @Benchmark
  public long typedMapAtUnmap4k() {
    ioas.mapAt(IOVA, BenchConfig.USER_VA, LENGTH, Protection.READ_WRITE);
    return ioas.unmap(IOVA, LENGTH);
  }

  @Benchmark
  public int rawMapUnmap4k() {
    int rc = iommufd.ioctl(Command.IOMMU_IOAS_MAP.request(), mapArg);
    unmapArg.set(JAVA_LONG, IommuIoasUnmap.LENGTH, LENGTH);
    return rc | iommufd.ioctl(Command.IOMMU_IOAS_UNMAP.request(), unmapArg);
  }

  @Benchmark
  public int rawHeapMapUnmap4k() {
    int rc = iommufd.ioctl(Command.IOMMU_IOAS_MAP.request(), heapMapArg);
    heapUnmapArg.set(JAVA_LONG, IommuIoasUnmap.LENGTH, LENGTH);
    return rc | iommufd.ioctl(Command.IOMMU_IOAS_UNMAP.request(), heapUnmapArg);
  }
}
