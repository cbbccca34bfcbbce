package org.iommufd4j.memory;

import java.lang.foreign.MemorySegment;

/**
 * The address space of whoever issued an ioctl: the engine reads and writes the caller's memory
 * (argument structs, nested arrays, mapped buffers) only through this interface.
 *
 * <p>Every method reports an unmapped or inaccessible address by returning {@code false} (the
 * caller turns that into EFAULT); none of them may crash the JVM. Implementations must be safe for
 * concurrent use.
 *
 * <p>Addresses and lengths are unsigned 64-bit values. A range of length 0 succeeds at any address.
 * A range whose end passes 2^64 ({@code address + length} wraps) fails, as it does in the kernel's
 * {@code access_ok}. A null segment is a programming error ({@link NullPointerException}), and so
 * is reading into a read-only segment ({@link IllegalArgumentException}).
 */
public interface UserMemory {

  /**
   * Copies {@code dst.byteSize()} bytes starting at {@code address} into {@code dst}.
   *
   * @return false if any byte of the range is not readable (dst contents are then unspecified)
   */
  boolean read(long address, MemorySegment dst);

  /**
   * Copies {@code src} to {@code address}.
   *
   * @return false if any byte of the range is not writable (a prefix may have been written)
   */
  boolean write(long address, MemorySegment src);

  /**
   * Whether every 4 KiB page overlapping {@code [address, address + length)} could be pinned: it is
   * mapped and, when {@code write} is set, writable. Used when a domain or access needs the pages
   * (the kernel's pin_user_pages fails with EFAULT otherwise).
   */
  boolean isPinnable(long address, long length, boolean write);
}
