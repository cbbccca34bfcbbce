package org.iommufd4j.pci;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A model that is only a config space: registers read as their offset, writes are counted, and
 * doorbells are recorded.
 */
final class FixedDevice implements PciDevice {
  private final ConfigSpace config;
  int writes;
  final List<long[]> doorbells = new CopyOnWriteArrayList<>();
  int resets;

  FixedDevice(ConfigSpace config) {
    this.config = config;
  }

  @Override
  public ConfigSpace configSpace() {
    return config;
  }

  @Override
  public long read(int bar, long offset, int size) {
    return offset;
  }

  @Override
  public void write(int bar, long offset, int size, long value) {
    writes++;
  }

  @Override
  public void doorbell(int bar, long offset, int value) {
    doorbells.add(new long[] {bar, offset, value});
  }

  @Override
  public void reset() {
    resets++;
  }
}
