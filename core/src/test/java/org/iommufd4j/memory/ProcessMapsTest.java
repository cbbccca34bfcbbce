package org.iommufd4j.memory;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.kernel.LibC;
import org.junit.jupiter.api.Test;

class ProcessMapsTest {
  private static final long SEED = Long.parseLong(System.getProperty("seed", "1234"));

  private static final String MAPS =
      """
      00400000-00401000 r--p 00000000 08:01 123 /bin/prog
      00401000-00403000 r-xp 00001000 08:01 123 /bin/prog
      00403000-00404000 rw-p 00003000 08:01 123 /bin/prog
      00500000-00501000 ---p 00000000 00:00 0
      00501000-00502000 -w-p 00000000 00:00 0
      ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
      """;

  @Test
  void procmapQueryNumberAndLayoutMatchTheUapiHeader() {
    long iowr = 3L << 30;
    assertThat(ProcessMaps.PROCMAP_QUERY)
        .isEqualTo(iowr | (long) ProcessMaps.PROCMAP_QUERY_SIZE << 16 | 'f' << 8 | 17);
    assertThat(ProcessMaps.PROCMAP_QUERY_SIZE).isEqualTo(104);
    assertThat(ProcessMaps.QUERY_ADDR_OFFSET).isEqualTo(16);
    assertThat(ProcessMaps.VMA_END_OFFSET).isEqualTo(32);
    assertThat(ProcessMaps.VMA_FLAGS_OFFSET).isEqualTo(40);
  }

  @Test
  void thisKernelAnswersProcmapQuery() {
    int fd = LibC.open("/proc/self/maps", LibC.O_RDONLY, 0);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment stack = arena.allocate(8);
      MemorySegment query = arena.allocate(ProcessMaps.PROCMAP_QUERY_SIZE, 8);
      query.set(JAVA_LONG, 0, ProcessMaps.PROCMAP_QUERY_SIZE);
      query.set(JAVA_LONG, ProcessMaps.QUERY_ADDR_OFFSET, stack.address());
      assertThat(LibC.ioctl(fd, ProcessMaps.PROCMAP_QUERY, query)).isZero();
      assertThat(query.get(JAVA_LONG, ProcessMaps.VMA_START_OFFSET))
          .isLessThanOrEqualTo(stack.address());
      assertThat(query.get(JAVA_LONG, ProcessMaps.VMA_END_OFFSET)).isGreaterThan(stack.address());
      assertThat(query.get(JAVA_LONG, ProcessMaps.VMA_FLAGS_OFFSET) & 3).isEqualTo(3);
    } finally {
      LibC.close(fd);
    }
  }

  @Test
  void textCoverageNeedsContiguousVmasWithThePermission() throws IOException {
    assertThat(coversText(0x400000, 0x404000, false)).isTrue();
    assertThat(coversText(0x400000, 0x404000, true)).isFalse();
    assertThat(coversText(0x403000, 0x404000, true)).isTrue();
    assertThat(coversText(0x403000, 0x405000, false)).isFalse(); // runs into a hole
    assertThat(coversText(0x3ff000, 0x401000, false)).isFalse(); // starts in a hole
    assertThat(coversText(0x500000, 0x501000, false)).isFalse(); // PROT_NONE
    assertThat(coversText(0x501000, 0x502000, true)).isTrue(); // write-only pins for write
    assertThat(coversText(0x501000, 0x502000, false)).isFalse();
    assertThat(coversText(0xffffffffff600000L, 0xffffffffff601000L, false)).isFalse();
    assertThat(coversText(0x600000, 0x601000, false)).isFalse(); // past the last VMA
  }

  private static boolean coversText(long start, long end, boolean write) throws IOException {
    return ProcessMaps.coversByText(new BufferedReader(new StringReader(MAPS)), start, end, write);
  }

  @Test
  void queryAndTextAgreeOnThisProcess() throws IOException {
    // Ranges around every VMA edge of this JVM, both kinds of pin.
    List<Long> edges = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
      String[] range = line.substring(0, line.indexOf(' ')).split("-");
      edges.add(Long.parseUnsignedLong(range[0], 16));
      edges.add(Long.parseUnsignedLong(range[1], 16));
    }
    SplittableRandom random = new SplittableRandom(SEED);
    int pid = LibC.getpid();
    int covered = 0;
    for (int i = 0; i < 500; i++) {
      long start = edges.get(random.nextInt(edges.size())) + 4096L * random.nextInt(-2, 3);
      long end = start + 4096L * random.nextInt(1, 6);
      boolean write = random.nextBoolean();
      if (start < 0 || end < 0) {
        continue; // [vsyscall] sits above 2^63, where this signed arithmetic breaks
      }
      boolean byQuery = ProcessMaps.covers(pid, start, end, write);
      // The JVM may map or unmap between the two reads; ask twice before calling it a mismatch.
      boolean byText = ProcessMaps.coversByText(pid, start, end, write);
      if (byQuery != byText) {
        byQuery = ProcessMaps.covers(pid, start, end, write);
      }
      assertThat(byQuery)
          .as("seed=%d start=0x%x end=0x%x write=%s", SEED, start, end, write)
          .isEqualTo(byText);
      covered += byQuery ? 1 : 0;
    }
    assertThat(covered).as("some ranges are covered").isPositive();
  }

  @Test
  void missingProcessIsNotCovered() {
    assertThat(ProcessMaps.covers(Integer.MAX_VALUE, 0x400000, 0x401000, false)).isFalse();
    assertThat(ProcessMaps.coversByText(Integer.MAX_VALUE, 0x400000, 0x401000, false)).isFalse();
  }
}
