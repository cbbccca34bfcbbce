package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import org.iommufd4j.memory.UserMemory;

/**
 * A {@link UserMemory} in which nothing is mapped, counting every access: proves that a request is
 * answered "without reading anything from {@code arg}" (main.c: iommufd_fops_ioctl()) and that a
 * read that does happen faults into EFAULT (the size word's read).
 */
final class RecordingMemory implements UserMemory {
  final AtomicInteger accesses = new AtomicInteger();

  @Override
  public boolean read(long address, MemorySegment dst) {
    accesses.incrementAndGet();
    return false;
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    accesses.incrementAndGet();
    return false;
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    accesses.incrementAndGet();
    return false;
  }
}
