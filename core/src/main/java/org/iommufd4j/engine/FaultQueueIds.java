package org.iommufd4j.engine;

/**
 * What {@code IOMMU_FAULT_QUEUE_ALLOC} reports (fault.c: iommufd_fault_alloc()): the FAULT object
 * and its fd.
 */
public record FaultQueueIds(int faultId, int faultFd) {
  /** Writes both outputs to the caller; false if that faulted. */
  @FunctionalInterface
  public interface Responder {
    boolean respond(FaultQueueIds queue);
  }
}
