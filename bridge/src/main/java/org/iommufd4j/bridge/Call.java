package org.iommufd4j.bridge;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

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
  /** Descriptors reserved by FileTable.reserve in this call, not yet installed or unreserved. */
  final Map<Integer, ServerFile> reserved = new HashMap<>(2);

  private Call(Channel channel, RemoteMemory memory, long request, long windowAddress,
      MemorySegment window) {
    this.channel = channel;
    this.memory = memory;
    this.request = request;
    this.windowAddress = windowAddress;
    this.window = window;
    this.windowLength = window.byteSize();
  }

  static Call enter(Channel channel, RemoteMemory memory, long request, long windowAddress,
      MemorySegment window) {
    Call c = new Call(channel, memory, request, windowAddress, window);
    CURRENT.set(c);
    return c;
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

  /** Keeps the window equal to the caller's memory after a successful write through. */
  void wrote(long address, MemorySegment src) {
    long length = src.byteSize();
    if (length == 0 || windowLength == 0) {
      return;
    }
    if (windowCovers(address, length)) {
      MemorySegment.copy(src, 0, window, address - windowAddress, length);
    } else if (overlaps(address, length)) {
      windowLength = 0; // partly inside: stop trusting the copy
    }
  }

  /** A write failed part way: the window may no longer match. */
  void forgetWindow() {
    windowLength = 0;
  }

  private boolean overlaps(long address, long length) {
    long end = address + length;
    long windowEnd = windowAddress + windowLength;
    return Long.compareUnsigned(address, windowEnd) < 0
        && Long.compareUnsigned(windowAddress, end) < 0;
  }

  @Override
  public void close() {
    CURRENT.remove();
  }
}
