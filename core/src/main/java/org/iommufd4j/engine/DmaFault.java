package org.iommufd4j.engine;

/**
 * An emulated device's DMA was refused by its IOMMU: what real hardware reports as a DMA
 * remapping fault. Built without a stack trace; the typed API rethrows it as a public exception.
 */
public final class DmaFault extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why the IOMMU refused the access. */
  public enum Reason {
    /** The device is attached to nothing: all DMA is blocked. */
    NOT_ATTACHED,
    /** No IO page table entry for the IOVA. */
    NOT_MAPPED,
    /** The entry does not allow reading. */
    READ_DENIED,
    /** The entry does not allow writing. */
    WRITE_DENIED,
    /** The memory behind the entry is no longer accessible (its process unmapped or exited). */
    MEMORY_GONE
  }

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
