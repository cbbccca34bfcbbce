package org.iommufd4j.engine;

import java.util.concurrent.locks.ReentrantLock;

/**
 * The SELFTEST object of a mock device (selftest.c: mock_dev_create(), {@code out_stdev_id}):
 * nobody else references it, so DESTROY always succeeds and detaches, unbinds and removes the
 * device.
 */
final class MockDeviceObject extends IommufdObject {
  private final ObjectTable table;
  private final ReentrantLock attachLock;
  final Device device;

  MockDeviceObject(ObjectTable table, ReentrantLock attachLock, Device device) {
    super(ObjectType.SELFTEST);
    this.table = table;
    this.attachLock = attachLock;
    this.device = device;
  }

  @Override
  void destroy() {
    attachLock.lock();
    try {
      device.detach();
      table.removeOwned(device);
    } finally {
      attachLock.unlock();
    }
  }
}
