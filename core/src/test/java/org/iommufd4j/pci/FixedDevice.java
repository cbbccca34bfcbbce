package org.iommufd4j.pci;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A model that is only a config space: registers read as their offset, writes are counted, and BARs
 * with plain memory get 64 KiB of it.
 */
final class FixedDevice implements PciDevice {
  private final ConfigSpace config;
  private final MemorySegment memory = Arena.ofAuto().allocate(1 << 16);
  int writes;
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
  public MemorySegment memory(int bar) {
    return memory;
  }

  @Override
  public void reset() {
    resets++;
  }
}
