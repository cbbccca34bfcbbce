package org.iommufd4j;

import java.util.List;

/**
 * A fault queue ({@code IOMMU_FAULT_QUEUE_ALLOC}, fault.c: iommufd_fault_alloc()): the FAULT object
 * nested HWPTs route their devices' I/O page faults to ({@link Iommufd#allocNestedHwpt}), and its
 * fault fd. Closing it closes the fd and destroys the object; groups not answered by then are
 * answered INVALID.
 */
public interface FaultQueue extends AutoCloseable {
  /** The FAULT object id. */
  int id();

  /** The fault fd ({@link Iommufd#read}, {@link Iommufd#write}; poll it through the bridge). */
  int fd();

  /**
   * Reads whole pending fault groups, oldest first, up to {@code maxFaults} faults; empty when none
   * is pending (it never blocks).
   *
   * @throws IommufdException EINVAL if the oldest group has more than {@code maxFaults} faults
   */
  List<PageFault> read(int maxFaults);

  /**
   * Answers the group read with {@code cookie}: SUCCESS, or INVALID when {@code success} is false.
   *
   * @throws IommufdException EINVAL for a cookie no read group has
   */
  void respond(int cookie, boolean success);

  @Override
  void close();
}
