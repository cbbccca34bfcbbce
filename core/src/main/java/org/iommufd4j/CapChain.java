package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.Consumer;
import org.iommufd4j.uapi.VfioInfoCapHeader;

/**
 * A VFIO info capability chain ({@code struct vfio_info_cap_header}s linked by {@code next} offsets
 * from the info struct's start), as region and IOMMU info return it.
 */
final class CapChain {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** More than any VFIO info's capabilities take: a larger {@code argsz} back is not believed. */
  static final int MAX_INFO = 1 << 16;

  /** What a capability is handed to: its id and its offset in the info struct. */
  interface Visitor {
    void capability(int id, long offset);
  }

  private CapChain() {}

  /**
   * Allocates an info struct of {@code size} bytes with {@code argsz} set and has {@code ask} fill
   * it in and issue the ioctl; where the kernel answers that its capabilities need more room
   * ({@code argsz} grown, up to {@link #MAX_INFO}), asks once more with that much.
   */
  static MemorySegment ask(Arena arena, int size, Consumer<MemorySegment> ask) {
    MemorySegment info = askWith(arena, size, ask);
    int needed = info.get(U32, 0);
    return needed > size && needed <= MAX_INFO ? askWith(arena, needed, ask) : info;
  }

  private static MemorySegment askWith(Arena arena, int size, Consumer<MemorySegment> ask) {
    MemorySegment info = arena.allocate(size, 8);
    info.set(U32, 0, size);
    ask.accept(info);
    return info;
  }

  /**
   * Visits each capability from {@code first} on, past the struct's fixed {@code headerSize} bytes.
   * A chain only moves forward, within the struct: a bad one ends instead of looping.
   */
  static void walk(MemorySegment info, long first, long headerSize, Visitor visitor) {
    long seen = 0;
    for (long cap = first;
        cap >= headerSize && cap > seen && cap + VfioInfoCapHeader.SIZE <= info.byteSize();
        cap = Integer.toUnsignedLong(info.get(U32, cap + VfioInfoCapHeader.NEXT))) {
      visitor.capability(Short.toUnsignedInt(info.get(U16, cap + VfioInfoCapHeader.ID)), cap);
      seen = cap;
    }
  }
}
