package org.iommufd4j.memory;

import java.lang.foreign.MemorySegment;

/**
 * The address space of whoever issued an ioctl: the engine reads and writes the caller's memory
 * (argument structs, nested arrays, mapped buffers) only through this interface.
 *
 * <p>Every method reports an unmapped or inaccessible address by returning {@code false} (the
 * caller turns that into EFAULT); none of them may crash the JVM. Implementations must be safe for
 * concurrent use.
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
   * Whether every 4 KiB page overlapping {@code [address, address + length)} could be pinned: it
   * is mapped and, when {@code write} is set, writable. Used when a domain or access needs the
   * pages (the kernel's pin_user_pages fails with EFAULT otherwise).
   */
  boolean isPinnable(long address, long length, boolean write);
}
