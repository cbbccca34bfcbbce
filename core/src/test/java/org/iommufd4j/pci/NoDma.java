package org.iommufd4j.pci;

import java.lang.foreign.MemorySegment;

/** A bus with no memory behind it: every access faults. */
final class NoDma implements DmaPort {
  @Override
  public void read(long iova, MemorySegment dst) {
    throw new DmaFaultException(iova, "no memory", null);
  }

  @Override
  public void write(long iova, MemorySegment src) {
    throw new DmaFaultException(iova, "no memory", null);
  }
}
