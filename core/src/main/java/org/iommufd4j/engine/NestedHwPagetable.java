package org.iommufd4j.engine;

/**
 * A nested HWPT (spec §2.3, §6.3.3): a stage-1 domain on top of a paging HWPT allocated with
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
