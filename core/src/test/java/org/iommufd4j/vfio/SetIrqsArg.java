package org.iommufd4j.vfio;

import org.iommufd4j.memory.SimulatedMemory;

/** struct vfio_irq_set as the tests write it into caller memory: a 20-byte header, then data. */
final class SetIrqsArg {
  private SetIrqsArg() {}

  /**
   * Writes the struct at {@code at} with argsz the header and the data given (as the probes'
   * set_irqs() does); returns {@code at}.
   */
  static long put(
      SimulatedMemory memory, long at, int flags, int index, int start, int count, byte[] data) {
    memory.putInt(at, 20 + data.length);
    memory.putInt(at + 4, flags);
    memory.putInt(at + 8, index);
    memory.putInt(at + 12, start);
    memory.putInt(at + 16, count);
    memory.putBytes(at + 20, data);
    return at;
  }

  /** Descriptor numbers as the little-endian s32 array of VFIO_IRQ_SET_DATA_EVENTFD. */
  static byte[] eventfds(int... fds) {
    byte[] bytes = new byte[4 * fds.length];
    for (int i = 0; i < fds.length; i++) {
      for (int k = 0; k < 4; k++) {
        bytes[4 * i + k] = (byte) (fds[i] >>> (8 * k));
      }
    }
    return bytes;
  }
}
