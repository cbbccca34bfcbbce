package org.iommufd4j.engine;

import org.iommufd4j.IommuFaultException.Reason;

/**
 * An emulated device's DMA was refused by its IOMMU: what real hardware reports as a DMA
 * remapping fault. Built without a stack trace; the typed API rethrows it as a public exception.
 */
public final class DmaFault extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final Reason reason;
  private final long iova;

  DmaFault(Reason reason, long iova) {
    super(reason + " at iova=0x" + Long.toHexString(iova), null, false, false);
    this.reason = reason;
    this.iova = iova;
  }

  public Reason reason() {
    return reason;
  }

  public long iova() {
    return iova;
  }
}
