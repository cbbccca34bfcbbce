package org.iommufd4j.bridge;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The request a server thread is executing for a client: which channel asked (so memory and
 * descriptor callbacks reach the right thread of the right process), the bytes at the ioctl
 * argument the shim sent along, and the descriptors reserved so far. Bound to the thread for the
 * length of the call.
 */
final class Call implements AutoCloseable {
  private static final ThreadLocal<Call> CURRENT = new ThreadLocal<>();

  final Channel channel;
  final RemoteMemory memory;

  /** The ioctl request being executed, or 0 for read and write. */
  final long request;

  private final long windowAddress;
  private final MemorySegment window;
  private long windowLength;

  /**
   * The window is the caller thread's own stack (IOCTL_FLAG_WINDOW_WRITABLE): writes inside it
   * cannot fail, so they are kept here and returned with the result for the shim to apply.
   */
  private final boolean windowWritable;

  private long dirtyStart = Long.MAX_VALUE;
  private long dirtyEnd = -1;

  /**
   * Descriptors reserved by FileTable.reserve in this call, not yet installed or unreserved; made
   * by the first reservation (most calls make none).
   */
  private Map<Integer, ServerFile> reserved;

  private Call(
      Channel channel,
      RemoteMemory memory,
      long request,
      long windowAddress,
      MemorySegment window,
      boolean windowWritable) {
    this.channel = channel;
    this.memory = memory;
    this.request = request;
    this.windowAddress = windowAddress;
    this.window = window;
    this.windowLength = window.byteSize();
    this.windowWritable = windowWritable;
  }

  static Call enter(
      Channel channel,
      RemoteMemory memory,
      long request,
      long windowAddress,
      MemorySegment window,
      boolean windowWritable) {
    Call c = new Call(channel, memory, request, windowAddress, window, windowWritable);
    CURRENT.set(c);
    return c;
  }

  void reserve(int fd, ServerFile file) {
    if (reserved == null) {
      reserved = new HashMap<>(2);
    }
    reserved.put(fd, file);
  }

  /** The file reserved at {@code fd}, or null. */
  ServerFile reservation(int fd) {
    return reserved == null ? null : reserved.get(fd);
  }

  /** Forgets the reservation at {@code fd}: its file, or null if there was none. */
  ServerFile unreserve(int fd) {
    return reserved == null ? null : reserved.remove(fd);
  }

  /** The descriptors still reserved, forgotten: the call ends without installing them. */
  Set<Integer> takeReservations() {
    if (reserved == null || reserved.isEmpty()) {
      return Set.of();
    }
    Set<Integer> fds = Set.copyOf(reserved.keySet());
    reserved.clear();
    return fds;
  }

  /** The call this thread is executing, or null. */
  static Call current() {
    return CURRENT.get();
  }

  /** Whether [address, address + length) lies inside the bytes the shim sent. */
  boolean windowCovers(long address, long length) {
    long offset = address - windowAddress;
    return Long.compareUnsigned(offset, windowLength) <= 0
        && Long.compareUnsigned(length, windowLength - offset) <= 0;
  }

  void readWindow(long address, MemorySegment dst) {
    MemorySegment.copy(window, address - windowAddress, dst, 0, dst.byteSize());
  }

  /**
   * Takes a write that lies inside a writable window: true if it did (the shim applies it when the
   * result arrives), false if the write must go to the caller's memory now.
   */
  boolean deferWrite(long address, MemorySegment src) {
    long length = src.byteSize();
    if (!windowWritable || length == 0 || !windowCovers(address, length)) {
      return false;
    }
    long offset = address - windowAddress;
    MemorySegment.copy(src, 0, window, offset, length);
    dirtyStart = Math.min(dirtyStart, offset);
    dirtyEnd = Math.max(dirtyEnd, offset + length);
    return true;
  }

  /** A read that only partly lies in the window: the window's bytes are the newer ones. */
  void patchFromWindow(long address, MemorySegment dst) {
    if (dirtyEnd < 0 || !overlaps(address, dst.byteSize())) {
      return;
    }
    long from = Math.max(address - windowAddress, dirtyStart);
    long to = Math.min(address - windowAddress + dst.byteSize(), dirtyEnd);
    if (from < to) {
      MemorySegment.copy(window, from, dst, from - (address - windowAddress), to - from);
    }
  }

  /**
   * Copies the bytes of the window the shim must write back into {@code to} at {@code at}: their
   * length, 0 if there are none; {@link #writeBackOffset} says where in the window they go.
   */
  long copyWriteBack(MemorySegment to, long at) {
    if (dirtyEnd < 0) {
      return 0;
    }
    MemorySegment.copy(window, dirtyStart, to, at, dirtyEnd - dirtyStart);
    return dirtyEnd - dirtyStart;
  }

  long writeBackOffset() {
    return dirtyStart;
  }

  /** Keeps the window equal to the caller's memory after a successful write through. */
  void wrote(long address, MemorySegment src) {
    long length = src.byteSize();
    if (length == 0 || windowLength == 0) {
      return;
    }
    if (windowCovers(address, length)) {
      MemorySegment.copy(src, 0, window, address - windowAddress, length);
    } else if (overlaps(address, length)) {
      long from = Math.max(0, address - windowAddress);
      long to = Math.min(windowLength, address - windowAddress + length);
      MemorySegment.copy(src, from - (address - windowAddress), window, from, to - from);
    }
  }

  /** A write failed part way: the window may no longer match. */
  void forgetWindow() {
    if (dirtyEnd < 0) {
      windowLength = 0; // with deferred bytes the copy must stay: it is what the shim writes back
    }
  }

  private boolean overlaps(long address, long length) {
    long end = address + length;
    long windowEnd = windowAddress + windowLength;
    return Long.compareUnsigned(address, windowEnd) < 0
        && Long.compareUnsigned(windowAddress, end) < 0;
  }

  @Override
  public void close() {
    CURRENT.set(null); // not remove(): the thread's next call would allocate a new map entry
  }
}
