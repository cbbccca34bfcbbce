package org.iommufd4j.memory;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random operation sequences against {@link SimulatedMemory} and a deliberately simple model: a
 * hash map from page number to page, checked with linear page walks. Addresses cluster in small
 * windows (at 0, below {@link SimulatedMemory#ALLOCATION_BASE}, in the middle, and just below 2^64)
 * so that operations collide and ranges run off the top of the address space.
 */
class SimulatedMemoryModelTest {
  private static final long SEED = Long.parseLong(System.getProperty("seed", "1234"));
  private static final int SEQUENCES = 100;
  private static final int STEPS = 300;
  private static final int PAGE = SimulatedMemory.PAGE_SIZE;
  private static final long[] WINDOWS = {
    0, SimulatedMemory.ALLOCATION_BASE - 8L * PAGE, 0x5555_0000_0000L, -16L * PAGE
  };
  private static final int WINDOW_PAGES = 24;

  /** A mapped page of the model; unmapped pages are absent. */
  private static final class Page {
    boolean writable;
    final byte[] data = new byte[PAGE];

    Page(boolean writable) {
      this.writable = writable;
    }
  }

  private final Map<Long, Page> model = new HashMap<>();
  private final SimulatedMemory memory = SimulatedMemory.create();
  private long sequenceSeed;
  private int step;

  static Stream<Long> sequenceSeeds() {
    SplittableRandom seeds = new SplittableRandom(SEED);
    return LongStream.range(0, SEQUENCES).map(i -> seeds.nextLong()).boxed();
  }

  @ParameterizedTest
  @MethodSource("sequenceSeeds")
  void matchesThePageMapModel(long sequenceSeed) {
    this.sequenceSeed = sequenceSeed;
    SplittableRandom random = new SplittableRandom(sequenceSeed);
    try (Arena arena = Arena.ofConfined()) {
      for (step = 0; step < STEPS; step++) {
        step(random, arena);
      }
    }
    for (long window : WINDOWS) {
      for (long p = 0; p < WINDOW_PAGES + 8; p++) {
        long address = window + p * PAGE;
        Page page = model.get(address >>> 12);
        assertThat(memory.isPinnable(address, PAGE, false))
            .as(() -> where("final state at 0x%x", address))
            .isEqualTo(page != null);
        if (page != null) {
          assertThat(memory.getBytes(address, PAGE))
              .as(() -> where("final contents at 0x%x", address))
              .isEqualTo(page.data);
          assertThat(memory.isPinnable(address, PAGE, true))
              .as(() -> where("final protection at 0x%x", address))
              .isEqualTo(page.writable);
        }
      }
    }
  }

  private String where(String what, Object... args) {
    return String.format("seed=%d sequenceSeed=%d step=%d: ", SEED, sequenceSeed, step)
        + String.format(what, args);
  }

  private void step(SplittableRandom random, Arena arena) {
    long address = randomAddress(random);
    long aligned = address & -PAGE;
    int op = random.nextInt(100);
    if (op < 12) {
      long length = random.nextLong(1, 8L * PAGE);
      boolean writable = random.nextBoolean();
      if (!UnsignedRange.fits(aligned, length)) {
        expectIllegalArgument(() -> memory.map(aligned, length, writable), "map", aligned, length);
        return;
      }
      memory.map(aligned, length, writable);
      forEachPage(aligned, length, p -> model.put(p, new Page(writable)));
    } else if (op < 20) {
      long length = random.nextLong(1, 8L * PAGE);
      if (!UnsignedRange.fits(aligned, length)) {
        expectIllegalArgument(() -> memory.unmap(aligned, length), "unmap", aligned, length);
        return;
      }
      memory.unmap(aligned, length);
      forEachPage(aligned, length, model::remove);
    } else if (op < 28) {
      long length = random.nextLong(1, 8L * PAGE);
      boolean writable = random.nextBoolean();
      if (!modelAllows(aligned, length, false)) {
        expectIllegalArgument(
            () -> memory.protect(aligned, length, writable), "protect", aligned, length);
        return;
      }
      memory.protect(aligned, length, writable);
      forEachPage(aligned, length, p -> model.get(p).writable = writable);
    } else if (op < 30) {
      allocate(random);
    } else if (op < 50) {
      byte[] data = new byte[randomAccessLength(random)];
      random.nextBytes(data);
      MemorySegment src =
          random.nextBoolean() ? MemorySegment.ofArray(data) : arena.allocateFrom(JAVA_BYTE, data);
      boolean expected = modelAllows(address, data.length, true);
      assertThat(memory.write(address, src))
          .as(() -> where("write address=0x%x length=%d", address, data.length))
          .isEqualTo(expected);
      if (expected) {
        modelCopyIn(address, data);
      }
    } else if (op < 70) {
      int length = randomAccessLength(random);
      MemorySegment dst =
          random.nextBoolean()
              ? MemorySegment.ofArray(new byte[length])
              : arena.allocate(Math.max(length, 1)).asSlice(0, length);
      boolean expected = modelAllows(address, length, false);
      assertThat(memory.read(address, dst))
          .as(() -> where("read address=0x%x length=%d", address, length))
          .isEqualTo(expected);
      if (expected) {
        assertThat(dst.toArray(JAVA_BYTE))
            .as(() -> where("read contents address=0x%x length=%d", address, length))
            .isEqualTo(modelCopyOut(address, length));
      }
    } else if (op < 90) {
      long length = random.nextInt(10) == 0 ? random.nextLong() : random.nextLong(0, 6L * PAGE);
      boolean write = random.nextBoolean();
      assertThat(memory.isPinnable(address, length, write))
          .as(() -> where("isPinnable address=0x%x length=0x%x write=%s", address, length, write))
          .isEqualTo(modelAllows(address, length, write));
    } else {
      long value = random.nextLong();
      if (!modelAllows(address, 8, false)) {
        expectIllegalArgument(() -> memory.putLong(address, value), "putLong", address, 8);
        expectIllegalArgument(() -> memory.getLong(address), "getLong", address, 8);
        return;
      }
      memory.putLong(address, value); // writes read-only pages too, like a debugger
      MemorySegment bytes = MemorySegment.ofArray(new byte[8]);
      bytes.set(JAVA_LONG_UNALIGNED, 0, value);
      modelCopyIn(address, bytes.toArray(JAVA_BYTE));
      assertThat(memory.getLong(address)).as(() -> where("getLong 0x%x", address)).isEqualTo(value);
    }
  }

  private void allocate(SplittableRandom random) {
    long length = random.nextLong(1, 4L * PAGE);
    long pages = (length + PAGE - 1) / PAGE;
    long address = memory.allocate(length, true);
    assertThat(address % PAGE).as(() -> where("allocate alignment 0x%x", address)).isZero();
    assertThat(address).isGreaterThanOrEqualTo(SimulatedMemory.ALLOCATION_BASE);
    if (!isFreeWithGuards(address >>> 12, pages)) {
      fail(where("allocate returned 0x%x, which is not free with guard pages", address));
    }
    for (long p = SimulatedMemory.ALLOCATION_BASE >>> 12; p < address >>> 12; p++) {
      if (isFreeWithGuards(p, pages)) {
        fail(where("allocate returned 0x%x but page 0x%x was a lower fit", address, p));
      }
    }
    forEachPage(address, length, p -> model.put(p, new Page(true)));
  }

  private boolean isFreeWithGuards(long firstPage, long pages) {
    for (long p = firstPage - 1; p <= firstPage + pages; p++) {
      if (model.containsKey(p)) {
        return false;
      }
    }
    return true;
  }

  private static long randomAddress(SplittableRandom random) {
    long window = WINDOWS[random.nextInt(WINDOWS.length)];
    return window + random.nextLong(WINDOW_PAGES) * PAGE + random.nextInt(PAGE);
  }

  private static int randomAccessLength(SplittableRandom random) {
    return switch (random.nextInt(4)) {
      case 0 -> 0;
      case 1 -> random.nextInt(1, 73);
      default -> random.nextInt(1, 3 * PAGE);
    };
  }

  /** The UserMemory contract, by a linear page walk. */
  private boolean modelAllows(long address, long length, boolean write) {
    if (length == 0) {
      return true;
    }
    if (!UnsignedRange.fits(address, length)) {
      return false;
    }
    long first = address >>> 12;
    long last = (address + length - 1) >>> 12;
    if (last - first >= model.size()) {
      return false; // more pages than the model holds
    }
    for (long p = first; p <= last; p++) {
      Page page = model.get(p);
      if (page == null || write && !page.writable) {
        return false;
      }
    }
    return true;
  }

  private void modelCopyIn(long address, byte[] data) {
    for (int i = 0; i < data.length; i++) {
      long at = address + i;
      model.get(at >>> 12).data[(int) (at & (PAGE - 1))] = data[i];
    }
  }

  private byte[] modelCopyOut(long address, int length) {
    byte[] out = new byte[length];
    for (int i = 0; i < length; i++) {
      long at = address + i;
      out[i] = model.get(at >>> 12).data[(int) (at & (PAGE - 1))];
    }
    return out;
  }

  private static void forEachPage(long address, long length, LongConsumer action) {
    for (long p = address >>> 12; p <= (address + length - 1) >>> 12; p++) {
      action.accept(p);
    }
  }

  private void expectIllegalArgument(Runnable call, String what, long address, long length) {
    try {
      call.run();
    } catch (IllegalArgumentException expected) {
      return;
    }
    fail(where("%s address=0x%x length=0x%x: no IllegalArgumentException", what, address, length));
  }
}
