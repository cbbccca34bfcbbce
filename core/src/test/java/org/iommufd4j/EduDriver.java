package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.pci.edu.EduDevice;

/**
 * A Java VFIO driver's side of an {@link EmulatedMachine} with one edu: the machine, and a confined
 * arena of the driver's own for argument structs and buffers.
 */
final class EduDriver implements AutoCloseable {
  /** The device file offset of the config space region (VFIO_PCI_CONFIG_REGION_INDEX 7). */
  static final long CONFIG = 7L << 40;

  final Arena arena = Arena.ofConfined();
  final EmulatedMachine machine = EmulatedMachine.withDevices(EduDevice::new);

  /** A zeroed 64-byte argument struct with {@code values} as its first 32-bit fields. */
  MemorySegment words(int... values) {
    MemorySegment s = arena.allocate(64, 8);
    for (int i = 0; i < values.length; i++) {
      s.setAtIndex(JAVA_INT, i, values[i]);
    }
    return s;
  }

  /** A 32-bit register read through the device file. */
  long read32(int device, long offset) {
    MemorySegment v = arena.allocate(4, 4);
    machine.pread(device, v, offset);
    return v.get(JAVA_INT, 0) & 0xffff_ffffL;
  }

  /** Sets memory decoding and bus mastering in the command register. */
  void enableMemoryAndBusMastering(int device) {
    MemorySegment command = arena.allocate(2, 2);
    command.set(JAVA_BYTE, 0, (byte) 0x06);
    machine.pwrite(device, command, CONFIG + 4);
  }

  @Override
  public void close() {
    machine.close();
    arena.close();
  }
}
