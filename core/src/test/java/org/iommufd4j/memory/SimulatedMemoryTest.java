package org.iommufd4j.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class SimulatedMemoryTest {
  private static final long PAGE = SimulatedMemory.PAGE_SIZE;
  private static final long BASE = 0x10_0000L;
  private static final long TOP_PAGE = -PAGE; // 0xffff_ffff_ffff_f000

  private final SimulatedMemory memory = SimulatedMemory.create();

  private static MemorySegment bytes(int length) {
    return MemorySegment.ofArray(new byte[length]);
  }

  @Test
  void emptyAddressSpaceHasNothingMapped() {
    assertThat(memory.read(0, bytes(1))).isFalse();
    assertThat(memory.write(BASE, bytes(8))).isFalse();
    assertThat(memory.isPinnable(BASE, 1, false)).isFalse();
    assertThatThrownBy(() -> memory.getLong(BASE)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void emptyRangesSucceedAnywhere() {
    for (long address : new long[] {0, BASE, -1, Long.MIN_VALUE}) {
      assertThat(memory.read(address, MemorySegment.NULL)).isTrue();
      assertThat(memory.write(address, MemorySegment.NULL)).isTrue();
      assertThat(memory.isPinnable(address, 0, true)).isTrue();
    }
  }

  @Test
  void untouchedPagesReadAsZerosAndCostNothing() {
    memory.map(BASE, 1L << 40, true); // 1 TiB
    MemorySegment dst = bytes(64).fill((byte) 1);
    assertThat(memory.read(BASE + (1L << 39) + 5, dst)).isTrue();
    assertThat(dst.toArray(JAVA_BYTE)).containsOnly(0);
    assertThat(memory.isPinnable(BASE, 1L << 40, true)).isTrue();
    assertThat(memory.touchedPageCount()).isZero();
    memory.putLong(BASE + 3 * PAGE, 7);
    assertThat(memory.touchedPageCount()).isEqualTo(1);
  }

  @Test
  void writeThenReadRoundTripsAcrossPages() {
    memory.map(BASE, 3 * PAGE, true);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment src = arena.allocate(2 * PAGE + 10);
      for (long i = 0; i < src.byteSize(); i++) {
        src.set(JAVA_BYTE, i, (byte) (i * 31));
      }
      assertThat(memory.write(BASE + PAGE / 2, src)).isTrue();
      MemorySegment direct = arena.allocate(src.byteSize());
      assertThat(memory.read(BASE + PAGE / 2, direct)).isTrue();
      assertThat(direct.mismatch(src)).isEqualTo(-1);
      MemorySegment heap = bytes((int) src.byteSize());
      assertThat(memory.read(BASE + PAGE / 2, heap)).isTrue();
      assertThat(heap.mismatch(src)).isEqualTo(-1);
    }
  }

  @Test
  void helpersUseNativeByteOrder() {
    memory.map(BASE, PAGE, true);
    memory.putLong(BASE + 1, 0x0102_0304_0506_0708L);
    memory.putInt(BASE + 16, 0xa0b0c0d0);
    MemorySegment dst = bytes(8);
    assertThat(memory.read(BASE + 1, dst)).isTrue();
    assertThat(dst.get(JAVA_LONG.withByteAlignment(1), 0)).isEqualTo(0x0102_0304_0506_0708L);
    assertThat(memory.getLong(BASE + 1)).isEqualTo(0x0102_0304_0506_0708L);
    assertThat(memory.getInt(BASE + 16)).isEqualTo(0xa0b0c0d0);
    memory.putBytes(BASE + PAGE - 2, new byte[] {9, 8});
    assertThat(memory.getBytes(BASE + PAGE - 2, 2)).containsExactly(9, 8);
  }

  @Test
  void readOfUnmappedAddressReturnsFalse() {
    memory.map(BASE, PAGE, true);
    assertThat(memory.read(BASE + PAGE, bytes(1))).isFalse();
    assertThat(memory.read(BASE - 1, bytes(1))).isFalse();
    assertThat(memory.isPinnable(BASE - PAGE, 1, false)).isFalse();
  }

  @Test
  void rangesCrossingIntoAnUnmappedPageReturnFalseAndChangeNothing() {
    memory.map(BASE, 3 * PAGE, true);
    memory.unmap(BASE + PAGE, PAGE);
    memory.putLong(BASE + PAGE - 8, 42);
    MemorySegment ones = bytes(16).fill((byte) 1);
    assertThat(memory.write(BASE + PAGE - 8, ones)).isFalse();
    assertThat(memory.getLong(BASE + PAGE - 8)).isEqualTo(42);
    MemorySegment dst = bytes(16).fill((byte) 3);
    assertThat(memory.read(BASE + PAGE - 8, dst)).isFalse();
    assertThat(dst.toArray(JAVA_BYTE)).containsOnly(3);
    assertThat(memory.isPinnable(BASE, 3 * PAGE, false)).isFalse();
    assertThat(memory.isPinnable(BASE + 2 * PAGE - 1, 2, false)).isFalse();
    assertThat(memory.isPinnable(BASE + 2 * PAGE, PAGE, true)).isTrue();
    assertThatThrownBy(() -> memory.putLong(BASE + PAGE - 4, 1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(memory.getLong(BASE + PAGE - 8)).isEqualTo(42);
  }

  @Test
  void readOnlyPagesRefuseWritesButKeepTheirContents() {
    memory.map(BASE, 2 * PAGE, true);
    memory.putLong(BASE + PAGE, 0x55);
    memory.protect(BASE + PAGE, PAGE, false);
    assertThat(memory.write(BASE + PAGE, bytes(8))).isFalse();
    assertThat(memory.write(BASE + PAGE - 4, bytes(8))).isFalse();
    assertThat(memory.isPinnable(BASE + PAGE, 1, true)).isFalse();
    assertThat(memory.isPinnable(BASE, 2 * PAGE, true)).isFalse();
    assertThat(memory.isPinnable(BASE, 2 * PAGE, false)).isTrue();
    assertThat(memory.isPinnable(BASE, PAGE, true)).isTrue();
    assertThat(memory.getLong(BASE + PAGE)).isEqualTo(0x55);
    assertThat(memory.getLong(BASE + PAGE - 8)).isZero();
    memory.putLong(BASE + PAGE, 0x66); // helpers write like a debugger
    assertThat(memory.getLong(BASE + PAGE)).isEqualTo(0x66);
    memory.protect(BASE, 2 * PAGE, true);
    assertThat(memory.write(BASE + PAGE, bytes(8))).isTrue();
  }

  @Test
  void mapReplacesOldContentsAndProtection() {
    memory.map(BASE, 2 * PAGE, false);
    memory.putLong(BASE, 1);
    memory.putLong(BASE + PAGE, 2);
    memory.map(BASE + PAGE, 1, true); // rounded up to one page
    assertThat(memory.getLong(BASE)).isEqualTo(1);
    assertThat(memory.getLong(BASE + PAGE)).isZero();
    assertThat(memory.isPinnable(BASE + PAGE, PAGE, true)).isTrue();
    assertThat(memory.isPinnable(BASE, PAGE, true)).isFalse();
  }

  @Test
  void unmapInTheMiddleSplitsAMapping() {
    memory.map(BASE, 5 * PAGE, true);
    memory.putLong(BASE + 4 * PAGE, 4);
    memory.unmap(BASE + PAGE, 2 * PAGE);
    assertThat(memory.isPinnable(BASE, PAGE, true)).isTrue();
    assertThat(memory.isPinnable(BASE + PAGE, 1, false)).isFalse();
    assertThat(memory.isPinnable(BASE + 3 * PAGE - 1, 1, false)).isFalse();
    assertThat(memory.isPinnable(BASE + 3 * PAGE, 2 * PAGE, true)).isTrue();
    assertThat(memory.getLong(BASE + 4 * PAGE)).isEqualTo(4);
    memory.map(BASE + PAGE, 2 * PAGE, true);
    assertThat(memory.isPinnable(BASE, 5 * PAGE, true)).isTrue();
    memory.unmap(0, 1L << 40); // unmapping unmapped pages is fine
    assertThat(memory.isPinnable(BASE, 1, false)).isFalse();
    assertThat(memory.touchedPageCount()).isZero();
  }

  @Test
  void protectOfPartlyUnmappedRangeFailsAndChangesNothing() {
    memory.map(BASE, PAGE, true);
    assertThatThrownBy(() -> memory.protect(BASE, 2 * PAGE, false))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(memory.isPinnable(BASE, PAGE, true)).isTrue();
  }

  @Test
  void mappingArgumentsAreChecked() {
    assertThatThrownBy(() -> memory.map(BASE + 1, PAGE, true))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> memory.map(BASE, 0, true))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> memory.map(TOP_PAGE, PAGE + 1, true))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> memory.unmap(BASE + 8, PAGE))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> memory.allocate(0, true)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> memory.getBytes(BASE, -1))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(memory.isPinnable(BASE, 1, false)).isFalse();
  }

  @Test
  void pageZeroAndTheTopPageAreUsable() {
    memory.map(0, PAGE, true);
    memory.map(TOP_PAGE, PAGE, true);
    assertThat(memory.write(0, bytes(8).fill((byte) 1))).isTrue();
    assertThat(memory.getLong(0)).isEqualTo(0x0101_0101_0101_0101L);
    assertThat(memory.write(-8, bytes(8).fill((byte) 2))).isTrue(); // ends exactly at 2^64
    assertThat(memory.isPinnable(TOP_PAGE, PAGE, true)).isTrue();
    assertThat(memory.getLong(-8)).isEqualTo(0x0202_0202_0202_0202L);
  }

  @Test
  void rangesEndingPast2To64ReturnFalse() {
    memory.map(TOP_PAGE, PAGE, true);
    memory.map(0, PAGE, true); // a wrapped range would land here
    assertThat(memory.read(-8, bytes(9))).isFalse();
    assertThat(memory.write(-8, bytes(16))).isFalse();
    assertThat(memory.isPinnable(-8, 9, false)).isFalse();
    assertThat(memory.isPinnable(TOP_PAGE, -1L, false)).isFalse();
    assertThat(memory.isPinnable(0, -1L, false)).isFalse(); // 2^64 - 1 bytes from 0: a hole
    assertThatThrownBy(() -> memory.getLong(-4)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void hugeLengthsAreAnsweredWithoutWalkingPages() {
    memory.map(0, 1L << 52, true); // 4 PiB
    assertThat(memory.isPinnable(0, 1L << 52, true)).isTrue();
    assertThat(memory.isPinnable(0, Long.MAX_VALUE, false)).isFalse();
    memory.map(0, -PAGE, false); // everything but the top page
    assertThat(memory.isPinnable(PAGE, Long.MAX_VALUE, false)).isTrue();
    assertThat(memory.isPinnable(0, -1L, false)).isFalse();
    memory.map(TOP_PAGE, PAGE, false);
    assertThat(memory.isPinnable(0, -1L, false)).isTrue();
  }

  @Test
  void allocateReturnsFreshPagesWithUnmappedGuards() {
    long a = memory.allocate(1, true);
    long b = memory.allocate(3 * PAGE, false);
    assertThat(a).isEqualTo(SimulatedMemory.ALLOCATION_BASE);
    assertThat(b % PAGE).isZero();
    assertThat(b).isEqualTo(a + 2 * PAGE);
    assertThat(memory.isPinnable(a, PAGE, true)).isTrue();
    assertThat(memory.isPinnable(a + PAGE, 1, false)).isFalse();
    assertThat(memory.isPinnable(b, 3 * PAGE, false)).isTrue();
    assertThat(memory.isPinnable(b, 1, true)).isFalse();
    assertThat(memory.isPinnable(b + 3 * PAGE, 1, false)).isFalse();
    memory.unmap(a, PAGE);
    assertThat(memory.allocate(PAGE, true)).isEqualTo(a); // the lowest fit is reused
    assertThat(memory.allocate(Long.MAX_VALUE, true)).isGreaterThan(b); // 2^63 bytes still fit
    assertThatThrownBy(() -> memory.allocate(-PAGE, true))
        .isInstanceOf(IllegalStateException.class);
  }

  @Test
  void readIntoAReadOnlySegmentIsAProgrammingError() {
    memory.map(BASE, PAGE, true);
    assertThatThrownBy(() -> memory.read(BASE, bytes(8).asReadOnly()))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> memory.read(BASE, null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void concurrentWritersAndReadersSeeConsistentPages() throws Exception {
    int threads = 4;
    long area = memory.allocate(threads * 16 * PAGE, true);
    List<Callable<Integer>> tasks = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      long mine = area + t * 16 * PAGE;
      tasks.add(
          () -> {
            int wrong = 0;
            MemorySegment value = bytes(8);
            MemorySegment back = bytes(8);
            for (int i = 0; i < 20_000; i++) {
              long at = mine + (i % 16) * PAGE + (i % 7) * 8;
              value.set(JAVA_LONG.withByteAlignment(1), 0, at ^ i);
              if (!memory.write(at, value)
                  || !memory.read(at, back)
                  || back.mismatch(value) != -1) {
                wrong++;
              }
              memory.isPinnable(area, threads * 16 * PAGE, true);
            }
            return wrong;
          });
    }
    try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
      for (Future<Integer> f : pool.invokeAll(tasks)) {
        assertThat(f.get()).isZero();
      }
    }
  }
}
