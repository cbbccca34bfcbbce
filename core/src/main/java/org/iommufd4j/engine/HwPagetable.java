package org.iommufd4j.engine;

/**
 * A paging HWPT (hw_pagetable.c: iommufd_hwpt_paging_alloc()): a domain attached to an IOAS. It
 * holds a reference on the IOAS and every attached device holds one on it. Automatic HWPTs (created
 * by a device attach to an IOAS, device.c: iommufd_device_auto_get_domain()) are destroyed as soon
 * as their last device leaves.
 */
final class HwPagetable extends HwptObject {
  final IoasObject ioas;
  final Domain domain;
  final boolean auto;
  final boolean nestParent;

  HwPagetable(ObjectTable table, IoasObject ioas, Domain domain, boolean auto, boolean nestParent) {
    super(ObjectType.HWPT_PAGING, table);
    this.ioas = ioas;
    this.domain = domain;
    this.auto = auto;
    this.nestParent = nestParent;
  }

  /**
   * Builds the HWPT's domain into its IOAS (io_pagetable.c: iopt_table_add_domain()) under a
   * reserved id; the caller publishes it. On failure the id is released and nothing changed.
   */
  static HwPagetable create(
      ObjectTable table, IoasObject ioas, Domain domain, boolean auto, boolean nestParent) {
    HwPagetable h = new HwPagetable(table, ioas, domain, auto, nestParent);
    table.reserve(h);
    ioas.lockLive();
    try {
      ioas.iopt.addDomain(domain);
      ioas.hwpts.add(h);
    } catch (RuntimeException e) {
      table.abort(h);
      throw e;
    } finally {
      ioas.lock.unlock();
    }
    table.addUser(ioas);
    return h;
  }

  @Override
  HwPagetable paging() {
    return this;
  }

  @Override
  void destroy() {
    releaseFault();
    ioas.lock.lock();
    try {
      ioas.iopt.removeDomain(domain);
      ioas.hwpts.remove(this);
    } finally {
      ioas.lock.unlock();
    }
    table.removeUser(ioas);
  }
}
