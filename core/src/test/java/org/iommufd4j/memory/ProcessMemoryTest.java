package org.iommufd4j.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.iommufd4j.kernel.LibC;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ProcessMemoryTest {
  private static final long SEED = Long.parseLong(System.getProperty("seed", "1234"));
  private static final int PAGE = 4096;
  private static final long KERNEL_ADDRESS = 0xffff_8000_0000_0000L;
  private static final long NON_CANONICAL_ADDRESS = 0x0000_8000_0000_0000L;
  private static final int RW = LibC.PROT_READ | LibC.PROT_WRITE;
  private static final int RO = LibC.PROT_READ;
  private static final int NONE = LibC.PROT_NONE;

  private final ProcessMemory self = ProcessMemory.self();
  private final Arena arena = Arena.ofConfined();
  private final List<long[]> mappings = new ArrayList<>();

  @AfterEach
  void unmapAndClose() {
    for (long[] m : mappings) {
      LibC.munmap(m[0], m[1]);
    }
    arena.close();
  }

  /** Fresh anonymous pages; {@code prots} gives each page's protection. */
  private long mmap(int... prots) {
    long length = (long) prots.length * PAGE;
    long a = LibC.mmap(0, length, RW, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
    assertThat(a).as("mmap").isPositive();
    mappings.add(new long[] {a, length});
    for (int i = 0; i < prots.length; i++) {
      segment(a + (long) i * PAGE, PAGE).fill((byte) (0x40 + i));
      assertThat(LibC.mprotect(a + (long) i * PAGE, PAGE, prots[i])).isZero();
    }
    return a;
  }

  /** A view of memory this test mapped itself (never of a caller's address). */
  private static MemorySegment segment(long address, long length) {
    return MemorySegment.ofAddress(address).reinterpret(length);
  }

  /** A page that was mapped and is now unmapped (neighbours still mapped). */
  private long unmappedPageBetweenMappedOnes() {
    long a = mmap(RW, RW, RW);
    assertThat(LibC.munmap(a + PAGE, PAGE)).isZero();
    return a + PAGE;
  }

  @Test
  void readCopiesNativeMemory() {
    MemorySegment src = arena.allocate(72);
    for (int i = 0; i < 72; i++) {
      src.set(JAVA_BYTE, i, (byte) i);
    }
    MemorySegment dst = arena.allocate(72);
    assertThat(self.read(src.address(), dst)).isTrue();
    assertThat(dst.mismatch(src)).isEqualTo(-1);
  }

  @Test
  void readIntoAHeapSegmentCopiesToo() {
    MemorySegment src = arena.allocate(8);
    src.set(JAVA_LONG, 0, 0xcafe_babe_dead_beefL);
    long[] heap = new long[1];
    assertThat(self.read(src.address(), MemorySegment.ofArray(heap))).isTrue();
    assertThat(heap[0]).isEqualTo(0xcafe_babe_dead_beefL);
  }

  @Test
  void writeCopiesFromNativeAndHeapSegments() {
    MemorySegment target = arena.allocate(16);
    MemorySegment src = arena.allocate(8).fill((byte) 0x11);
    assertThat(self.write(target.address(), src)).isTrue();
    assertThat(self.write(target.address() + 8, MemorySegment.ofArray(new long[] {-1L}))).isTrue();
    assertThat(target.get(JAVA_LONG, 0)).isEqualTo(0x1111_1111_1111_1111L);
    assertThat(target.get(JAVA_LONG, 8)).isEqualTo(-1L);
  }

  @Test
  void readOfNullAndLowAddressesReturnsFalse() {
    MemorySegment dst = arena.allocate(8);
    for (long address : new long[] {0, 1, 8, 0xfff, 0x1000, 0xffff}) {
      assertThat(self.read(address, dst)).as("address=0x%x", address).isFalse();
      assertThat(self.write(address, dst)).as("address=0x%x", address).isFalse();
      assertThat(self.isPinnable(address, 8, false)).as("address=0x%x", address).isFalse();
    }
  }

  @Test
  void kernelAndNonCanonicalAddressesReturnFalse() {
    MemorySegment dst = arena.allocate(8);
    for (long address : new long[] {KERNEL_ADDRESS, NON_CANONICAL_ADDRESS, -8, -4096}) {
      assertThat(self.read(address, dst)).as("address=0x%x", address).isFalse();
      assertThat(self.write(address, dst)).as("address=0x%x", address).isFalse();
      assertThat(self.isPinnable(address, 8, true)).as("address=0x%x", address).isFalse();
    }
  }

  @Test
  void readOfUnmappedAddressReturnsFalse() {
    long hole = unmappedPageBetweenMappedOnes();
    MemorySegment dst = arena.allocate(8);
    assertThat(self.read(hole, dst)).isFalse();
    assertThat(self.read(hole + PAGE - 8, dst)).isFalse();
    assertThat(self.isPinnable(hole, 1, false)).isFalse();
  }

  @Test
  void protNonePageIsNeitherReadableWritableNorPinnable() {
    long a = mmap(NONE);
    MemorySegment buffer = arena.allocate(16);
    assertThat(self.read(a, buffer)).isFalse();
    assertThat(self.write(a, buffer)).isFalse();
    assertThat(self.isPinnable(a, PAGE, false)).isFalse();
    assertThat(self.isPinnable(a, PAGE, true)).isFalse();
  }

  @Test
  void rangesCrossingIntoAnUnmappedPageReturnFalse() {
    long hole = unmappedPageBetweenMappedOnes();
    long mapped = hole - PAGE;
    MemorySegment dst = arena.allocate(16);
    assertThat(self.read(hole - 16, dst)).isTrue();
    assertThat(self.read(hole - 8, dst)).isFalse();
    assertThat(self.write(hole - 8, dst)).isFalse();
    assertThat(self.isPinnable(mapped, PAGE, true)).isTrue();
    assertThat(self.isPinnable(mapped, PAGE + 1, false)).isFalse();
    assertThat(self.isPinnable(hole - 1, 2, false)).isFalse();
    // and out of the hole into the next mapped page
    assertThat(self.isPinnable(hole + PAGE - 1, 2, false)).isFalse();
    assertThat(self.isPinnable(hole + PAGE, 1, false)).isTrue();
  }

  @Test
  void readOnlyMappingIsReadableButNotWritableAndKeepsItsContents() {
    long a = mmap(RO);
    byte[] before = segment(a, PAGE).toArray(JAVA_BYTE);
    MemorySegment src = arena.allocate(8).fill((byte) 0x77);
    assertThat(self.isPinnable(a, PAGE, true)).isFalse();
    assertThat(self.isPinnable(a, 1, true)).isFalse();
    assertThat(self.write(a, src)).isFalse();
    assertThat(self.isPinnable(a, PAGE, false)).isTrue();
    MemorySegment dst = arena.allocate(PAGE);
    assertThat(self.read(a, dst)).isTrue();
    assertThat(dst.toArray(JAVA_BYTE)).isEqualTo(before);
    assertThat(segment(a, PAGE).toArray(JAVA_BYTE)).isEqualTo(before);
  }

  @Test
  void isPinnableDoesNotChangeContents() {
    long a = mmap(RW, RW);
    byte[] before = segment(a, 2 * PAGE).toArray(JAVA_BYTE);
    assertThat(self.isPinnable(a + 100, PAGE, true)).isTrue();
    assertThat(self.isPinnable(a, 2 * PAGE, false)).isTrue();
    assertThat(segment(a, 2 * PAGE).toArray(JAVA_BYTE)).isEqualTo(before);
  }

  @Test
  void untouchedReservedMemoryIsPinnableAndReadsAsZeros() {
    long length = 1L << 30;
    long a =
        LibC.mmap(0, length, RW, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
    assertThat(a).isPositive();
    mappings.add(new long[] {a, length});
    long middle = a + length / 2 + 123;
    assertThat(self.isPinnable(middle, 3 * PAGE, true)).isTrue();
    MemorySegment dst = arena.allocate(64).fill((byte) 1);
    assertThat(self.read(middle, dst)).isTrue();
    assertThat(dst.mismatch(arena.allocate(64))).isEqualTo(-1);
  }

  @Test
  void emptyRangesSucceedAnywhere() {
    for (long address : new long[] {0, -1, KERNEL_ADDRESS, Long.MAX_VALUE}) {
      assertThat(self.read(address, MemorySegment.NULL)).isTrue();
      assertThat(self.write(address, MemorySegment.NULL)).isTrue();
      assertThat(self.isPinnable(address, 0, true)).isTrue();
    }
  }

  @Test
  void rangesEndingPast2To64ReturnFalse() {
    MemorySegment dst = arena.allocate(16);
    assertThat(self.read(-8, dst)).isFalse();
    assertThat(self.write(-8, dst)).isFalse();
    assertThat(self.isPinnable(-PAGE, 2 * PAGE, false)).isFalse();
    assertThat(self.isPinnable(-1, 1, false)).isFalse();
    long a = arena.allocate(8).address();
    assertThat(self.isPinnable(a, -1L, false)).isFalse(); // length 2^64 - 1
    assertThat(self.isPinnable(a, -a + 1, false)).isFalse(); // ends at 2^64 + 1
  }

  @Test
  void hugeLengthsReturnFalseQuickly() {
    long a = mmap(RW);
    assertThat(self.isPinnable(a, Long.MAX_VALUE, false)).isFalse();
    assertThat(self.isPinnable(a, 1L << 47, true)).isFalse();
    assertThat(ProcessMemory.of(LibC.getpid()).isPinnable(a, Long.MAX_VALUE, false)).isFalse();
  }

  @Test
  void transfersLargerThanAChunkAreSplitAndStillDetectFaults() {
    // A 4097-byte chunk makes every transfer take several syscalls that straddle pages.
    ProcessMemory chunked = new ProcessMemory(LibC.getpid(), true, 4097);
    long a = mmap(RW, RW, RW, RW, NONE);
    MemorySegment dst = arena.allocate(4L * PAGE - 3);
    assertThat(chunked.read(a + 3, dst)).isTrue();
    assertThat(dst.mismatch(segment(a + 3, dst.byteSize()))).isEqualTo(-1);
    MemorySegment src = arena.allocate(3L * PAGE).fill((byte) 0x5a);
    assertThat(chunked.write(a + 5, src)).isTrue();
    assertThat(segment(a + 5, src.byteSize()).mismatch(src)).isEqualTo(-1);
    assertThat(chunked.read(a + 3, arena.allocate(4L * PAGE))).isFalse();
    assertThat(chunked.write(a + PAGE, arena.allocate(4L * PAGE))).isFalse();
  }

  @Test
  void heapSegmentsLargerThanTheBounceBufferAreCopiedWhole() {
    int length = 200_000;
    MemorySegment target = arena.allocate(length);
    SplittableRandom random = new SplittableRandom(SEED);
    byte[] data = new byte[length];
    random.nextBytes(data);
    assertThat(self.write(target.address(), MemorySegment.ofArray(data))).isTrue();
    assertThat(target.toArray(JAVA_BYTE)).as("seed=%d", SEED).isEqualTo(data);
    byte[] back = new byte[length];
    assertThat(self.read(target.address(), MemorySegment.ofArray(back))).isTrue();
    assertThat(back).as("seed=%d", SEED).isEqualTo(data);
  }

  @Test
  void heapReadRunningIntoAHoleReturnsFalse() {
    long hole = unmappedPageBetweenMappedOnes();
    assertThat(self.read(hole - PAGE, MemorySegment.ofArray(new byte[PAGE + 1]))).isFalse();
  }

  @Test
  void readIntoAReadOnlySegmentIsAProgrammingError() {
    MemorySegment s = arena.allocate(8);
    assertThatThrownBy(() -> self.read(s.address(), s.asReadOnly()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> self.read(0, null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void otherProcessPathWorksOnOurOwnPid() {
    ProcessMemory viaPid = ProcessMemory.of(LibC.getpid());
    assertThat(viaPid.pid()).isEqualTo(LibC.getpid());
    long a = mmap(RW, RO, NONE);
    MemorySegment dst = arena.allocate(16);
    assertThat(viaPid.read(a + PAGE - 8, dst)).isTrue();
    assertThat(dst.get(JAVA_BYTE, 0)).isEqualTo((byte) 0x40);
    assertThat(dst.get(JAVA_BYTE, 15)).isEqualTo((byte) 0x41);
    assertThat(viaPid.write(a, dst)).isTrue();
    assertThat(viaPid.write(a + PAGE, dst)).isFalse();
    assertThat(viaPid.read(a + 2 * PAGE, dst)).isFalse();
    assertThat(viaPid.isPinnable(a, PAGE, true)).isTrue();
    assertThat(viaPid.isPinnable(a, 2 * PAGE, true)).isFalse();
    assertThat(viaPid.isPinnable(a, 2 * PAGE, false)).isTrue();
    assertThat(viaPid.isPinnable(a + PAGE, 2 * PAGE, false)).isFalse();
    assertThat(viaPid.isPinnable(0, 1, false)).isFalse();
  }

  @Test
  void nonexistentProcessReturnsFalse() {
    ProcessMemory gone = ProcessMemory.of(Integer.MAX_VALUE); // above any pid_max
    MemorySegment s = arena.allocate(8);
    assertThat(gone.read(s.address(), s)).isFalse();
    assertThat(gone.write(s.address(), s)).isFalse();
    assertThat(gone.isPinnable(s.address(), 8, false)).isFalse();
    assertThatThrownBy(() -> ProcessMemory.of(0)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ProcessMemory.of(-1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void randomAddressesNeverCrash() {
    // Reads and small read-pin checks only: a random write could land in the JVM's own memory,
    // and populating a huge random range could allocate a lot of it.
    SplittableRandom random = new SplittableRandom(SEED);
    ProcessMemory viaPid = ProcessMemory.of(LibC.getpid());
    MemorySegment dst = arena.allocate(72);
    for (int i = 0; i < 5_000; i++) {
      long address = random.nextBoolean() ? random.nextLong() : random.nextLong(1L << 47);
      MemorySegment slice = dst.asSlice(0, random.nextInt(73));
      boolean read = self.read(address, slice);
      boolean pinnable = self.isPinnable(address, random.nextLong(1, 1 << 16), false);
      long anyLength = random.nextLong();
      boolean viaPidPinnable = viaPid.isPinnable(address, anyLength, random.nextBoolean());
      String where = String.format("seed=%d i=%d address=0x%x", SEED, i, address);
      if (slice.byteSize() > 0 && !UnsignedRange.fits(address, slice.byteSize())) {
        assertThat(read).as(where).isFalse();
      }
      if (anyLength != 0 && !UnsignedRange.fits(address, anyLength)) {
        assertThat(viaPidPinnable).as(where).isFalse();
      }
      if (address < 0) { // kernel half
        assertThat(read && slice.byteSize() > 0).as(where).isFalse();
        assertThat(pinnable).as(where).isFalse();
      }
    }
    for (int i = 0; i < 1_000; i++) {
      long address = random.nextLong() | Long.MIN_VALUE; // kernel half: a safe write target
      assertThat(self.write(address, dst.asSlice(0, random.nextInt(1, 73))))
          .as("seed=%d address=0x%x", SEED, address)
          .isFalse();
    }
  }

  @Test
  void concurrentReadsSeeTheirOwnData() throws Exception {
    List<Callable<Integer>> tasks = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      long value = 0x0101_0101_0101_0101L * (t + 1);
      tasks.add(
          () -> {
            int wrong = 0;
            try (Arena local = Arena.ofConfined()) {
              MemorySegment src = local.allocate(8);
              src.set(JAVA_LONG, 0, value);
              MemorySegment dst = local.allocate(8);
              long[] heap = new long[1];
              for (int i = 0; i < 20_000; i++) {
                boolean ok =
                    self.read(src.address(), dst)
                        && self.read(src.address(), MemorySegment.ofArray(heap));
                if (!ok || dst.get(JAVA_LONG, 0) != value || heap[0] != value) {
                  wrong++;
                }
              }
            }
            return wrong;
          });
    }
    try (ExecutorService pool = Executors.newFixedThreadPool(tasks.size())) {
      for (Future<Integer> f : pool.invokeAll(tasks)) {
        assertThat(f.get()).as("wrong reads").isZero();
      }
    }
  }
}
