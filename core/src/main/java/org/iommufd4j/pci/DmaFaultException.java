package org.iommufd4j.pci;

/**
 * A device's DMA did not complete: its IOMMU refused the address (the cause is then the {@link
 * org.iommufd4j.IommuFaultException}), or bus mastering is disabled. Bytes before the faulting
 * address may have been transferred. Models catch it where real hardware would record an error and
 * carry on.
 */
public final class DmaFaultException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final long iova;

  public DmaFaultException(long iova, String reason, Throwable cause) {
    super(reason + " at iova=0x" + Long.toHexString(iova), cause, false, false);
    this.iova = iova;
  }

  /** The address the device used (after any DMA mask of the device). */
  public long iova() {
    return iova;
  }
}
