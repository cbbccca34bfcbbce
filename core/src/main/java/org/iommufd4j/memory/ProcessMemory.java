package org.iommufd4j.memory;

import java.lang.foreign.MemorySegment;

/** PLACEHOLDER: replaced by the FFM implementation. */
public final class ProcessMemory implements UserMemory {
  private static final ProcessMemory SELF = new ProcessMemory();

  public static ProcessMemory self() {
    return SELF;
  }

  @Override
  public boolean read(long address, MemorySegment dst) {
    throw new UnsupportedOperationException();
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    throw new UnsupportedOperationException();
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    throw new UnsupportedOperationException();
  }
}
