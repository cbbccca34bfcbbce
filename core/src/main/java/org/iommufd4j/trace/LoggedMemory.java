package org.iommufd4j.trace;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.memory.UserMemory;

/**
 * Process {@code pid}'s memory, each access of the call in progress written to its {@link
 * MemoryLog} (when one is being collected on this thread).
 */
public record LoggedMemory(int pid, UserMemory memory) implements UserMemory {
  @Override
  public boolean read(long address, MemorySegment dst) {
    boolean ok = memory.read(address, dst);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.read(pid, address, dst, ok);
    }
    return ok;
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    boolean ok = memory.write(address, src);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.write(pid, address, src, ok);
    }
    return ok;
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    boolean ok = memory.isPinnable(address, length, write);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.pinnable(pid, address, length, write, ok);
    }
    return ok;
  }
}
