package org.iommufd4j.uapi;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.memory.UserMemory;

/**
 * One ioctl's argument block as the caller passed it, read and written without ever faulting.
 *
 * <p>The bytes a segment covers are the segment's; the rest, and all of it when there is no
 * segment, are the caller's {@link UserMemory} at {@code address}. A heap segment is memory of the
 * JVM and is copied directly. A native segment is not, whatever its origin: the caller may have
 * made memory this JVM allocated read-only or {@code PROT_NONE} with {@code mprotect}, unmapped it,
 * or wrapped any address with {@code ofAddress(a).reinterpret(n)}, and one plain load or store
 * there kills the JVM with SIGSEGV. Its bytes move with {@code process_vm_readv}/{@code
 * process_vm_writev} on this process, which answer EFAULT instead.
 *
 * <p>Reading a native segment's struct costs one system call per ioctl: the first bytes of the
 * segment, up to the scratch buffer's size, are fetched when the block is made (the size word and
 * the struct are read from that copy), and every reply is one more.
 */
final class ArgStruct {
  private final UserMemory memory;
  private final long address;
  private final MemorySegment direct;
  private final MemorySegment head;

  /**
   * Bytes of {@link #head} fetched from a native {@code direct}: fewer when a fault stopped, none
   * once anything was written back.
   */
  private long fetched;

  /**
   * @param memory the caller's memory, for what {@code direct} does not cover
   * @param address the block's address in {@code memory}
   * @param direct null, or a segment at the start of the block
   * @param head per-thread native scratch that the start of a native {@code direct} is fetched into
   */
  ArgStruct(UserMemory memory, long address, MemorySegment direct, MemorySegment head) {
    this.memory = memory;
    this.address = address;
    this.direct = direct;
    this.head = head;
    this.fetched = direct != null && direct.isNative() ? fetch(direct, head) : 0;
  }

  /** Copies as much of the start of {@code from} as is readable into {@code into}: the count. */
  private static long fetch(MemorySegment from, MemorySegment into) {
    long n = Math.min(from.byteSize(), into.byteSize());
    if (n == 0) {
      return 0;
    }
    long r;
    do {
      // A fault past the first byte is a short count, not an error: what came before is good.
      r = LibC.processVmReadv(ProcessMemory.self().pid(), into, 0, n, from.address());
    } while (r == -Errno.EINTR.number());
    return Math.max(r, 0);
  }

  private boolean directCovers(long offset, long length) {
    return direct != null && offset >= 0 && length <= direct.byteSize() - offset;
  }

  /** Copies {@code dst.byteSize()} bytes at {@code offset} of the block: false if unreadable. */
  boolean read(long offset, MemorySegment dst) {
    long length = dst.byteSize();
    if (!directCovers(offset, length)) {
      return memory.read(address + offset, dst);
    }
    if (!direct.isNative()) {
      MemorySegment.copy(direct, offset, dst, 0, length);
      return true;
    }
    if (length <= fetched - offset) {
      MemorySegment.copy(head, offset, dst, 0, length);
      return true;
    }
    return ProcessMemory.self().read(direct.address() + offset, dst);
  }

  /**
   * Copies {@code src} to {@code offset} of the block: false if unwritable (a prefix may be). A
   * read-only segment is unwritable, as read-only memory is to the kernel.
   */
  boolean write(long offset, MemorySegment src) {
    long length = src.byteSize();
    if (!directCovers(offset, length)) {
      return memory.write(address + offset, src);
    }
    if (direct.isReadOnly()) {
      return length == 0;
    }
    if (!direct.isNative()) {
      MemorySegment.copy(src, 0, direct, offset, length);
      return true;
    }
    fetched = 0;
    return ProcessMemory.self().write(direct.address() + offset, src);
  }
}
