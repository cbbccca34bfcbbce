package org.iommufd4j.uapi;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;
import org.iommufd4j.Iommufd;

/**
 * A flyweight over one C struct in a {@link MemorySegment}: fields are read and written by the
 * offsets of the layout classes ({@code u32(IommuIoasMap.IOAS_ID, id)}) or by their C names ({@code
 * set("ioas_id", id)}), little-endian and without alignment requirements, so the segment may be
 * native memory for an ioctl or a heap array for a recorded sequence. The segment may be longer
 * than the struct (trailing bytes for the extensibility rules, main.c: iommufd_fops_ioctl()) or
 * shorter.
 *
 * {@snippet :
 * Struct map = IommuIoasMap.of(arena, READABLE | WRITEABLE, ioasId, buffer.address(), length, 0);
 * int rc = map.ioctl(iommufd);                  // 0 or -errno
 * long iova = map.u64(IommuIoasMap.IOVA);
 * }
 */
public final class Struct {
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * Allocates zeroed heap arrays (byte alignment, which this class never needs): for structs that
   * are bytes to keep rather than arguments to pass, such as a recorded sequence's.
   */
  public static final SegmentAllocator HEAP =
      (bytes, alignment) -> MemorySegment.ofArray(new byte[Math.toIntExact(bytes)]);

  private final StructLayout layout;
  private final Command command;
  private final MemorySegment segment;

  private Struct(StructLayout layout, Command command, MemorySegment segment) {
    this.layout = layout;
    this.command = command;
    this.segment = segment;
  }

  /** A zeroed {@code command} argument of exactly its kernel size, with its size word set. */
  public static Struct of(SegmentAllocator allocator, Command command) {
    return of(allocator, command, command.ksize());
  }

  /** A zeroed block of {@code bytes} bytes for {@code command}, size word = the kernel size. */
  public static Struct of(SegmentAllocator allocator, Command command, long bytes) {
    return over(allocator.allocate(bytes, 8), command);
  }

  /** A zeroed {@code layout} struct (for structs without a size word: VFIO, driver data). */
  public static Struct of(SegmentAllocator allocator, StructLayout layout) {
    return over(allocator.allocate(layout), layout);
  }

  /**
   * {@code segment} (already holding any content) as {@code command}'s argument; only sets the size
   * word to the kernel size, where the segment has room for one.
   */
  public static Struct over(MemorySegment segment, Command command) {
    Struct s = new Struct(command.layout(), command, segment);
    if (segment.byteSize() >= Integer.BYTES) {
      s.size(command.ksize());
    }
    return s;
  }

  /** {@code segment} as a {@code layout} struct; writes nothing. */
  public static Struct over(MemorySegment segment, StructLayout layout) {
    return new Struct(Objects.requireNonNull(layout), null, segment);
  }

  public StructLayout layout() {
    return layout;
  }

  /** The command this struct is the argument of, or null. */
  public Command command() {
    return command;
  }

  public MemorySegment segment() {
    return segment;
  }

  public long address() {
    return segment.address();
  }

  /** The request number of {@link #command()}. */
  public long request() {
    return command.request();
  }

  /** Issues {@link #command()} with this struct: 0 or {@code -errno}, as the system call. */
  public int ioctl(Iommufd iommufd) {
    return iommufd.ioctl(command.request(), segment);
  }

  /** Writes the size word ({@code size} or {@code argsz} at offset 0). */
  public Struct size(int size) {
    return u32(0, size);
  }

  public Struct u8(long offset, int value) {
    segment.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
    return this;
  }

  public Struct u16(long offset, int value) {
    segment.set(U16, offset, (short) value);
    return this;
  }

  public Struct u32(long offset, int value) {
    segment.set(U32, offset, value);
    return this;
  }

  public Struct u64(long offset, long value) {
    segment.set(U64, offset, value);
    return this;
  }

  public int u8(long offset) {
    return Byte.toUnsignedInt(segment.get(ValueLayout.JAVA_BYTE, offset));
  }

  public int u16(long offset) {
    return Short.toUnsignedInt(segment.get(U16, offset));
  }

  public int u32(long offset) {
    return segment.get(U32, offset);
  }

  public long u64(long offset) {
    return segment.get(U64, offset);
  }

  /**
   * Writes the member {@code member} (its C name; {@code "header.next"} inside a nested struct), as
   * wide as the layout says.
   *
   * @throws IllegalArgumentException if the layout has no such member or it is not a number
   */
  public Struct set(String member, long value) {
    long offset = CLayouts.offset(layout, member);
    switch (width(member)) {
      case 1 -> u8(offset, (int) value);
      case 2 -> u16(offset, (int) value);
      case 4 -> u32(offset, (int) value);
      default -> u64(offset, value);
    }
    return this;
  }

  /** Reads the member {@code member}; members narrower than 64 bits are zero-extended. */
  public long get(String member) {
    long offset = CLayouts.offset(layout, member);
    return switch (width(member)) {
      case 1 -> u8(offset);
      case 2 -> u16(offset);
      case 4 -> Integer.toUnsignedLong(u32(offset));
      default -> u64(offset);
    };
  }

  private int width(String member) {
    MemoryLayout m = CLayouts.member(layout, member);
    if (!(m instanceof ValueLayout)) {
      throw new IllegalArgumentException(
          member + " of " + layout.name().orElse("struct") + " is not a number: " + m);
    }
    return (int) m.byteSize();
  }

  /** Fills {@code [from, to)} with {@code value}. */
  public Struct fill(long from, long to, int value) {
    segment.asSlice(from, to - from).fill((byte) value);
    return this;
  }

  /** A copy of the whole segment. */
  public byte[] bytes() {
    return segment.toArray(ValueLayout.JAVA_BYTE);
  }

  @Override
  public String toString() {
    return layout.name().orElse("struct") + "@0x" + Long.toHexString(segment.address());
  }
}
