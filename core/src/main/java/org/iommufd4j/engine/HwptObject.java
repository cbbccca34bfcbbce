package org.iommufd4j.engine;

/**
 * What a device attaches to (iommufd_private.h): a paging HWPT ({@link HwPagetable}) or a nested
 * one ({@link NestedHwPagetable}), the kernel's {@code iommufd_hw_pagetable}. Either may route the
 * I/O page faults of its devices to a FAULT object (fault.c: iommufd_fault_alloc()), holding a
 * reference on it; in 6.12 only nested HWPTs are created with one (hw_pagetable.c:
 * iommufd_hwpt_alloc()).
 */
abstract sealed class HwptObject extends IommufdObject permits HwPagetable, NestedHwPagetable {
  final ObjectTable table;

  /** Set before publication and then fixed; null when faults are not routed anywhere. */
  FaultObject fault;

  HwptObject(ObjectType type, ObjectTable table) {
    super(type);
    this.table = table;
  }

  /**
   * The paging HWPT underneath: this one, or a nested HWPT's parent. Its IOAS takes the reserved
   * regions of attached devices, and its domain is the stage-2 translation.
   */
  abstract HwPagetable paging();

  /**
   * Drops the reference on the fault object (part of either type's teardown, main.c:
   * iommufd_destroy()).
   */
  final void releaseFault() {
    if (fault != null) {
      table.removeUser(fault);
      fault = null;
    }
  }
}
