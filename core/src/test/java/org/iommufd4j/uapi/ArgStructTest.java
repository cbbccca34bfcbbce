package org.iommufd4j.uapi;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A native argument block answers each read and write as the kernel's {@code copy_from_user} and
 * {@code copy_to_user} would: success exactly when every byte is reachable, whatever the pages
 * around it became between calls, and never a fault in this JVM.
 */
class ArgStructTest {
  private static final long SEED = Long.getLong("seed", 20261206L);
  private static final int HALF = 64;

  /** Bigger than the 72-byte head, so reads come from the fetched copy and from the segment. */
  private static final int SIZE = 2 * HALF;

  private long pages;
  private MemorySegment struct;
  private MemorySegment head;
  private Arena arena;

  @BeforeEach
  void mapTwoPages() {
    long page = LibC.PAGE_SIZE;
    pages = LibC.mmap(0, 2 * page, rw(), LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
    assertThat(pages).isPositive();
    // the last HALF bytes of a page that stays read-write, then the first HALF of the next one
    struct = MemorySegment.ofAddress(pages + page - HALF).reinterpret(SIZE);
    arena = Arena.ofConfined();
    head = arena.allocate(72, 8);
  }

  @AfterEach
  void unmap() {
    LibC.munmap(pages, 2 * LibC.PAGE_SIZE);
    arena.close();
  }

  @Test
  void readsAndWritesSucceedExactlyWhereEveryByteIsReachable() {
    SplittableRandom random = new SplittableRandom(SEED);
    byte[] expected = new byte[SIZE];
    ArgStruct arg = new ArgStruct(head);
    MemorySegment buffer = arena.allocate(SIZE);
    int[] protections = {rw(), LibC.PROT_READ, LibC.PROT_NONE};
    for (int round = 0; round < 300; round++) {
      int prot = protections[random.nextInt(protections.length)];
      protectSecondPage(prot);
      arg.begin(ProcessMemory.self(), struct.address(), struct);
      for (int op = 0; op < 20; op++) {
        int offset = random.nextInt(SIZE);
        int length = random.nextInt(SIZE - offset + 1);
        boolean reachesSecondPage = offset + length > HALF && length > 0;
        if (random.nextBoolean()) {
          boolean ok = arg.read(offset, buffer, 0, length);
          assertThat(ok)
              .as("round %d: read [%d, +%d) prot %d", round, offset, length, prot)
              .isEqualTo(!reachesSecondPage || prot != LibC.PROT_NONE);
          if (ok) {
            assertThat(buffer.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(Arrays.copyOfRange(expected, offset, offset + length));
          }
        } else {
          byte[] bytes = new byte[length];
          random.nextBytes(bytes);
          MemorySegment.copy(bytes, 0, buffer, ValueLayout.JAVA_BYTE, 0, length);
          boolean ok = arg.write(offset, buffer, 0, length);
          assertThat(ok)
              .as("round %d: write [%d, +%d) prot %d", round, offset, length, prot)
              .isEqualTo(!reachesSecondPage || prot == rw());
          if (ok) {
            System.arraycopy(bytes, 0, expected, offset, length);
          } else {
            // the kernel may have written a prefix: what the first page now holds is the truth
            MemorySegment.copy(struct, ValueLayout.JAVA_BYTE, 0, expected, 0, HALF);
          }
        }
      }
      arg.end();
      protectSecondPage(rw());
      assertThat(struct.toArray(ValueLayout.JAVA_BYTE)).as("round %d", round).isEqualTo(expected);
    }
  }

  @Test
  void aSharedArenaClosedDuringTheCallIsAFaultNotAnException() {
    Arena shared = Arena.ofShared();
    MemorySegment segment = shared.allocate(16, 8);
    ArgStruct arg = new ArgStruct(head).begin(ProcessMemory.self(), segment.address(), segment);
    shared.close();

    assertThat(arg.read(0, head, 0, 8)).as("from the copy fetched at the start").isTrue();
    assertThat(arg.write(0, head, 0, 8)).isFalse();
    assertThat(arg.read(0, head, 0, 8)).as("the copy is stale once written to").isFalse();
  }

  private void protectSecondPage(int prot) {
    assertThat(LibC.mprotect(pages + LibC.PAGE_SIZE, LibC.PAGE_SIZE, prot)).isZero();
  }

  private static int rw() {
    return LibC.PROT_READ | LibC.PROT_WRITE;
  }
}
