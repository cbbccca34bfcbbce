package org.iommufd4j.engine;

import static org.iommufd4j.engine.Unsigned.intersects;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The access fd of the test op CREATE_ACCESS (selftest.c: iommufd_test_create_access()): an
 * anonymous file without read or write, owning one {@link Access} and its list of pinned
 * <em>items</em>. Item ids start at 0 for each file and are never reused. The access's unmap
 * callback drops every item intersecting the notified range; closing the file drops them all and
 * destroys the access.
 *
 * <p>Its lock is taken before the access's (a pin holds it throughout, like the kernel's selftest,
 * so an unmap callback never sees a half-made item).
 */
final class SelftestAccessFile implements EmulatedFile {
  /** One pinned range, as ACCESS_PAGES made it. */
  record Item(int id, long iova, long length) {}

  final ReentrantLock lock = new ReentrantLock();
  private final List<Item> items = new ArrayList<>();
  private int nextId;
  private boolean released;

  /** Set once, right after creation. */
  Access access;

  /** Whether the file was closed (ops on a stale lookup then behave as for a bad fd). */
  boolean isReleased() {
    return released;
  }

  /** A new item id: ids are used up even when the item is removed again at once. */
  int nextItemId() {
    return nextId++;
  }

  void addItem(Item item) {
    items.add(item);
  }

  /** Removes the item {@code id}; null if there is none. */
  Item removeItem(int id) {
    for (Iterator<Item> it = items.iterator(); it.hasNext(); ) {
      Item item = it.next();
      if (item.id() == id) {
        it.remove();
        return item;
      }
    }
    return null;
  }

  /**
   * The unmap callback (device.c: iommufd_access_notify_unmap(); selftest.c:
   * iommufd_test_create_access()): unpins and forgets every item intersecting the range.
   */
  void unmap(Access unused, long iova, long last) {
    lock.lock();
    try {
      for (Iterator<Item> it = items.iterator(); it.hasNext(); ) {
        Item item = it.next();
        if (intersects(iova, last, item.iova(), item.iova() + item.length() - 1)) {
          it.remove();
          access.unpin(item.iova(), item.length());
        }
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void release() {
    lock.lock();
    try {
      if (released) {
        return;
      }
      released = true;
      if (access == null) {
        return;
      }
      unmap(access, 0, Unsigned.U64_MAX);
    } finally {
      lock.unlock();
    }
    access.close();
  }
}
