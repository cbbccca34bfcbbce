package org.iommufd4j.vfio;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.pci.DmaFaultException;
import org.iommufd4j.pci.DmaPort;

/** A bus with no memory behind it: every DMA faults (these tests never start one). */
final class NoMemory implements DmaPort {
  @Override
  public void read(long iova, MemorySegment dst) {
    throw new DmaFaultException(iova, "no memory", null);
  }

  @Override
  public void write(long iova, MemorySegment src) {
    throw new DmaFaultException(iova, "no memory", null);
  }
}
