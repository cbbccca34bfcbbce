package org.iommufd4j.engine;

/**
 * The SELFTEST object of a mock device (spec §6.3.1, {@code out_stdev_id}): nobody else
 * references it, so DESTROY always succeeds and detaches, unbinds and removes the device.
 */
final class MockDeviceObject extends IommufdObject {
  final Context ctx;
  final Device device;

  MockDeviceObject(Context ctx, Device device) {
    super(ObjectType.SELFTEST);
    this.ctx = ctx;
    this.device = device;
  }

  @Override
  void destroy() {
    ctx.selftest().destroyDevice(this);
  }
}
