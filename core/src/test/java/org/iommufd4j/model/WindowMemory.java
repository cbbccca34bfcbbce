package org.iommufd4j.model;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.memory.UserMemory;

/**
 * Test user memory: exactly one native segment (the array of the ioctl in flight) is accessible;
 * every other address faults. That makes the EFAULT paths of nested arrays deterministic, and it
 * does not depend on the process-memory backend.
 */
final class WindowMemory implements UserMemory {
  private volatile MemorySegment window;

  /** Makes {@code segment} (or nothing, for null) the only accessible memory. */
  void open(MemorySegment segment) {
    this.window = segment;
  }

  private MemorySegment covering(long address, long length) {
    MemorySegment w = window;
    if (w == null || length < 0) {
      return null;
    }
    long offset = address - w.address();
    if (Long.compareUnsigned(address, w.address()) < 0
        || offset > w.byteSize()
        || length > w.byteSize() - offset) {
      return null;
    }
    return w.asSlice(offset, length);
  }

  @Override
  public boolean read(long address, MemorySegment dst) {
    MemorySegment src = covering(address, dst.byteSize());
    if (src == null) {
      return false;
    }
    dst.copyFrom(src);
    return true;
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    MemorySegment dst = covering(address, src.byteSize());
    if (dst == null) {
      return false;
    }
    dst.copyFrom(src);
    return true;
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    throw new AssertionError("no pin without a domain or an access (ioas.c: iommufd_ioas_map())");
  }
}
