package org.iommufd4j.engine;

/**
 * A nested HWPT (hw_pagetable.c: iommufd_hwpt_nested_alloc(); selftest.c:
 * __mock_domain_alloc_nested()): a stage-1 domain on top of a paging HWPT allocated with
 * NEST_PARENT, on which it holds a reference. Devices attach to it as to a paging HWPT; their
 * reserved regions go to the parent's IOAS.
 */
final class NestedHwPagetable extends HwptObject {
  final HwPagetable parent;
  final MockNestedDomain domain;

  NestedHwPagetable(ObjectTable table, HwPagetable parent, MockNestedDomain domain) {
    super(ObjectType.HWPT_NESTED, table);
    this.parent = parent;
    this.domain = domain;
  }

  @Override
  HwPagetable paging() {
    return parent;
  }

  @Override
  void destroy() {
    releaseFault();
    table.removeUser(parent);
  }
}
