package org.iommufd4j.uapi;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.UserMemory;

/**
 * One ioctl's argument block as the caller passed it, read and written without ever faulting.
 *
 * <p>The bytes a segment covers are the segment's; the rest, and all of it when there is no
 * segment, are the caller's {@link UserMemory} at {@code address}. A heap segment is memory of the
 * JVM and is copied directly. A native segment is not, whatever its origin: the caller may have
 * made memory this JVM allocated read-only or {@code PROT_NONE} with {@code mprotect}, unmapped it,
 * put a guard region on it, or wrapped any address with {@code ofAddress(a).reinterpret(n)}, and
 * one plain load or store there kills the JVM with SIGSEGV. No check made before the access proves
 * it safe (another thread may change the mapping in between, and nothing tells this JVM), so its
 * bytes move with {@link LibC#copyFromUser} and {@link LibC#copyToUser}: {@code copy_from_user} and
 * {@code copy_to_user} of the kernel itself, which answer EFAULT instead. Each such copy also
 * checks the segment is alive and keeps it alive while it runs, so a closed arena's memory is never
 * touched.
 *
 * <p>A native segment costs one system call to read (the first bytes of the segment, up to the
 * scratch buffer's size, are fetched when a call starts; the size word and the struct come from
 * that copy) and one per reply. One instance per thread is reused for every call ({@link #begin}),
 * so the path allocates nothing.
 */
final class ArgStruct {
  private final MemorySegment head;
  private UserMemory memory;
  private long address;
  private MemorySegment direct;

  /**
   * Bytes of {@link #head} fetched from a native {@code direct}: fewer when a fault stopped, none
   * once anything was written back.
   */
  private long fetched;

  /**
   * @param head per-thread native scratch that the start of a native segment is fetched into
   */
  ArgStruct(MemorySegment head) {
    this.head = head;
  }

  /**
   * Starts a call.
   *
   * @param memory the caller's memory, for what {@code direct} does not cover
   * @param address the block's address in {@code memory}
   * @param direct null, or a segment at the start of the block
   * @return this
   */
  ArgStruct begin(UserMemory memory, long address, MemorySegment direct) {
    this.memory = memory;
    this.address = address;
    this.direct = direct;
    this.fetched = direct != null && direct.isNative() ? fetch() : 0;
    return this;
  }

  /** Ends the call: the caller's segment and memory are no longer kept reachable from here. */
  void end() {
    memory = null;
    direct = null;
  }

  /** Copies as much of the start of {@link #direct} as is readable into {@link #head}. */
  private long fetch() {
    long n = Math.min(direct.byteSize(), head.byteSize());
    if (n == 0) {
      return 0;
    }
    // A fault past the first byte is a short count, not an error: what came before is good.
    return Math.max(copyFromUser(head, 0, 0, n), 0);
  }

  private long copyFromUser(MemorySegment into, long intoOffset, long offset, long length) {
    try {
      long r;
      do {
        r = LibC.copyFromUser(into, intoOffset, direct, offset, length);
      } while (r == -Errno.EINTR.number());
      return r;
    } catch (IllegalStateException e) {
      return closedMeanwhile(e);
    }
  }

  private long copyToUser(long offset, MemorySegment from, long fromOffset, long length) {
    try {
      long r;
      do {
        r = LibC.copyToUser(direct, offset, from, fromOffset, length);
      } while (r == -Errno.EINTR.number());
      return r;
    } catch (IllegalStateException e) {
      return closedMeanwhile(e);
    }
  }

  /**
   * The segment was alive when the call started ({@code Iommufd.ioctl} checks), so another thread
   * closed its shared arena since: to the kernel, memory freed during a call is a fault.
   */
  private long closedMeanwhile(IllegalStateException e) {
    if (direct.scope().isAlive()) {
      throw e;
    }
    return -Errno.EFAULT.number();
  }

  private boolean directCovers(long offset, long length) {
    return direct != null && offset >= 0 && length <= direct.byteSize() - offset;
  }

  /** Copies all of {@code dst} from {@code offset} of the block: false if unreadable. */
  boolean read(long offset, MemorySegment dst) {
    return read(offset, dst, 0, dst.byteSize());
  }

  /**
   * Copies {@code length} bytes at {@code offset} of the block into {@code dst} at {@code
   * dstOffset}: false if unreadable.
   */
  boolean read(long offset, MemorySegment dst, long dstOffset, long length) {
    if (!directCovers(offset, length)) {
      return memory.read(address + offset, dst.asSlice(dstOffset, length));
    }
    if (!direct.isNative()) {
      MemorySegment.copy(direct, offset, dst, dstOffset, length);
      return true;
    }
    if (length <= fetched - offset) {
      MemorySegment.copy(head, offset, dst, dstOffset, length);
      return true;
    }
    return length == 0 || copyFromUser(dst, dstOffset, offset, length) == length;
  }

  /** Copies all of {@code src} to {@code offset} of the block: false if unwritable. */
  boolean write(long offset, MemorySegment src) {
    return write(offset, src, 0, src.byteSize());
  }

  /**
   * Copies {@code length} bytes of {@code src} at {@code srcOffset} to {@code offset} of the block:
   * false if unwritable (a prefix may be written, as by the kernel). A read-only segment is
   * unwritable, as read-only memory is to the kernel.
   */
  boolean write(long offset, MemorySegment src, long srcOffset, long length) {
    if (!directCovers(offset, length)) {
      return memory.write(address + offset, src.asSlice(srcOffset, length));
    }
    if (direct.isReadOnly()) {
      return length == 0;
    }
    if (!direct.isNative()) {
      MemorySegment.copy(src, srcOffset, direct, offset, length);
      return true;
    }
    fetched = 0;
    if (length == 0) {
      return true;
    }
    return copyToUser(offset, src, srcOffset, length) == length;
  }
}
