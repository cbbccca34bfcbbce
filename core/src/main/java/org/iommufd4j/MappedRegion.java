package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A {@link VfioRegion} mapped with {@link VfioRegion#map}: register loads and stores of 1, 2, 4 or
 * 8 bytes at naturally aligned offsets, little-endian. On the real kernel they are plain loads and
 * stores to the BAR; on an emulated machine each is the device's register access of that width at
 * that offset, as the bridge's trap makes a C program's (and, unlike the kernel's mapping, it does
 * not keep the device open: once the device is closed its accesses are EBADF). Closing unmaps; an
 * access after that throws {@link IllegalStateException}. Thread safe.
 */
public final class MappedRegion implements AutoCloseable {
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** The kernel's mapping (closing the arena unmaps it), or null. */
  private final Arena arena;

  private final MemorySegment memory;

  /** The emulated machine's region the accesses go to, or null. */
  private final VfioRegion region;

  private final long base;
  private final long length;
  private volatile boolean closed;

  private MappedRegion(
      Arena arena, MemorySegment memory, VfioRegion region, long base, long length) {
    this.arena = arena;
    this.memory = memory;
    this.region = region;
    this.base = base;
    this.length = length;
  }

  /**
   * The kernel's mapping at {@code address}: a shared arena, so closing it is safe from any thread.
   */
  static MappedRegion ofMemory(VfioDevice device, long address, long length) {
    Arena arena = Arena.ofShared();
    MemorySegment memory =
        MemorySegment.ofAddress(address)
            .reinterpret(length, arena, unused -> device.munmap(address, length));
    return new MappedRegion(arena, memory, null, 0, length);
  }

  /** A mapping whose accesses are {@code region}'s, from {@code base} on. */
  static MappedRegion throughAccesses(VfioRegion region, long base, long length) {
    return new MappedRegion(null, null, region, base, length);
  }

  /** The mapping's length in bytes. */
  public long byteSize() {
    return length;
  }

  public byte readByte(long offset) {
    check(offset, Byte.BYTES);
    return memory != null
        ? memory.get(ValueLayout.JAVA_BYTE, offset)
        : region.readByte(base + offset);
  }

  public short readShort(long offset) {
    check(offset, Short.BYTES);
    return memory != null ? memory.get(U16, offset) : region.readShort(base + offset);
  }

  public int readInt(long offset) {
    check(offset, Integer.BYTES);
    return memory != null ? memory.get(U32, offset) : region.readInt(base + offset);
  }

  public long readLong(long offset) {
    check(offset, Long.BYTES);
    return memory != null ? memory.get(U64, offset) : region.readLong(base + offset);
  }

  public void writeByte(long offset, byte value) {
    check(offset, Byte.BYTES);
    if (memory != null) {
      memory.set(ValueLayout.JAVA_BYTE, offset, value);
    } else {
      region.writeByte(base + offset, value);
    }
  }

  public void writeShort(long offset, short value) {
    check(offset, Short.BYTES);
    if (memory != null) {
      memory.set(U16, offset, value);
    } else {
      region.writeShort(base + offset, value);
    }
  }

  public void writeInt(long offset, int value) {
    check(offset, Integer.BYTES);
    if (memory != null) {
      memory.set(U32, offset, value);
    } else {
      region.writeInt(base + offset, value);
    }
  }

  public void writeLong(long offset, long value) {
    check(offset, Long.BYTES);
    if (memory != null) {
      memory.set(U64, offset, value);
    } else {
      region.writeLong(base + offset, value);
    }
  }

  /**
   * What a load or store through a real mapping needs: inside it and naturally aligned (an
   * unaligned access to device memory may be split or refused by the bus).
   */
  private void check(long offset, int width) {
    if (closed) {
      throw new IllegalStateException("the mapping is closed");
    }
    if (offset < 0 || offset > length - width) {
      throw new IndexOutOfBoundsException(
          "a "
              + width
              + "-byte access at 0x"
              + Long.toHexString(offset)
              + " outside the mapping"
              + " of 0x"
              + Long.toHexString(length)
              + " bytes");
    }
    if ((offset & (width - 1)) != 0) {
      throw new IllegalArgumentException(
          "a " + width + "-byte access at 0x" + Long.toHexString(offset) + " is not aligned");
    }
  }

  /** {@code munmap(2)}. Idempotent. */
  @Override
  public void close() {
    closed = true;
    if (arena != null) {
      synchronized (this) {
        if (arena.scope().isAlive()) {
          arena.close();
        }
      }
    }
  }

  @Override
  public String toString() {
    return "MappedRegion[0x"
        + Long.toHexString(length)
        + " bytes"
        + (closed ? ", closed" : "")
        + "]";
  }
}
