package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.AfterEach;

/**
 * Base of the per-ioctl conformance tests: opens emulated contexts, and after every test checks the
 * engine's invariants, closes each context and checks that closing emptied its object table: a leak
 * check after every test.
 */
abstract class ConformanceTest {
  /** A page-aligned user address that is never dereferenced: without a domain MAP reads nothing. */
  static final long USER_VA = 0x7f00_0020_0000L;

  static final long PAGE = 4096;

  /** Native memory for argument blocks; freed after the test. */
  final Arena arena = Arena.ofConfined();

  private final List<Iommufd> opened = new ArrayList<>();

  Iommufd open() {
    return open(Configuration.defaults());
  }

  Iommufd open(Configuration configuration) {
    Iommufd iommufd = Iommufd.emulated(configuration);
    opened.add(iommufd);
    return iommufd;
  }

  Door open(FrontDoor door) {
    return door.open(open());
  }

  Door open(FrontDoor door, Configuration configuration) {
    return door.open(open(configuration));
  }

  /** A zeroed block of {@code ksize} bytes with {@code size} set. */
  Struct struct(Command command) {
    return Struct.of(arena, command);
  }

  /** A zeroed block of {@code bytes} bytes with {@code size = ksize}. */
  Struct struct(Command command, long bytes) {
    return Struct.of(arena, command, bytes);
  }

  /** A native array of {@code iommu_iova_range}s. */
  MemorySegment rangeArray(IovaRange... ranges) {
    MemorySegment array = arena.allocate(Math.max(1, ranges.length) * 16L, 8);
    for (int i = 0; i < ranges.length; i++) {
      RangeArray.set(array, i, ranges[i]);
    }
    return array;
  }

  static int objectCount(Iommufd iommufd) {
    return ((EmulatedIommufd) iommufd).context().objectCount();
  }

  @AfterEach
  void closeAndCheckForLeaks() {
    try {
      for (Iommufd iommufd : opened) {
        EmulatedIommufd emulated = (EmulatedIommufd) iommufd;
        if (!emulated.context().isClosed()) {
          assertThat(emulated.checkInvariants()).as("engine invariants").isEmpty();
        }
        iommufd.close();
        assertThat(objectCount(iommufd)).as("objects left after close").isZero();
      }
    } finally {
      arena.close();
    }
  }
}
