package org.iommufd4j;

/**
 * An emulated device's DMA was refused by its IOMMU, as real hardware raises a DMA remapping fault:
 * no translation for the IOVA, or the translation forbids the access. Bytes before the faulting
 * IOVA have been transferred.
 */
public final class IommuFaultException extends IommufdException {
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

  /**
   * @param iova the first IOVA the IOMMU refused
   */
  public IommuFaultException(Reason reason, long iova) {
    super(
        reason == Reason.READ_DENIED || reason == Reason.WRITE_DENIED ? Errno.EPERM : Errno.EFAULT,
        reason + " at iova=0x" + Long.toHexString(iova));
    this.reason = reason;
    this.iova = iova;
  }

  public Reason reason() {
    return reason;
  }

  /** The first IOVA the IOMMU refused. */
  public long iova() {
    return iova;
  }
}
