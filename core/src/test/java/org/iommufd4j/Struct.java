package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.iommufd4j.uapi.Command;

/**
 * An ioctl argument block in native memory, filled and read by the offsets of the uapi layout
 * classes (all little-endian, spec §1.1). The block may be longer than the command's struct (for
 * the extensibility rules of §1.4) or shorter (a segment that ends early).
 */
final class Struct {
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private final Command command;
  private final MemorySegment segment;

  private Struct(Command command, MemorySegment segment) {
    this.command = command;
    this.segment = segment;
  }

  /** A zeroed block of exactly {@code ksize} bytes with {@code size = ksize}. */
  static Struct of(Arena arena, Command command) {
    return of(arena, command, command.ksize());
  }

  /** A zeroed block of {@code bytes} bytes with {@code size = ksize}. */
  static Struct of(Arena arena, Command command, long bytes) {
    return over(arena.allocate(bytes, 8), command);
  }

  /** Uses {@code segment} (already holding any content) as the block; writes nothing. */
  static Struct over(MemorySegment segment, Command command) {
    Struct s = new Struct(command, segment);
    if (segment.byteSize() >= 4) {
      s.size(command.ksize());
    }
    return s;
  }

  Command command() {
    return command;
  }

  MemorySegment segment() {
    return segment;
  }

  long address() {
    return segment.address();
  }

  Struct size(int size) {
    return u32(0, size);
  }

  Struct u16(long offset, int value) {
    segment.set(U16, offset, (short) value);
    return this;
  }

  Struct u32(long offset, int value) {
    segment.set(U32, offset, value);
    return this;
  }

  Struct u64(long offset, long value) {
    segment.set(U64, offset, value);
    return this;
  }

  /** Fills {@code [from, to)} with {@code value}. */
  Struct fill(long from, long to, int value) {
    segment.asSlice(from, to - from).fill((byte) value);
    return this;
  }

  int u16(long offset) {
    return Short.toUnsignedInt(segment.get(U16, offset));
  }

  int u32(long offset) {
    return segment.get(U32, offset);
  }

  long u64(long offset) {
    return segment.get(U64, offset);
  }

  byte[] bytes() {
    return segment.toArray(ValueLayout.JAVA_BYTE);
  }

  /** Issues the command with this block; 0, or {@code -errno}. */
  int ioctl(Iommufd iommufd) {
    return iommufd.ioctl(command.request(), segment);
  }
}
