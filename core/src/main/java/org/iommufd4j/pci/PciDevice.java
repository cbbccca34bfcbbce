package org.iommufd4j.pci;

import java.lang.foreign.MemorySegment;

/**
 * A PCI device model: its config space, its registers, and its reset. A model gets its {@link
 * Ports} when it is made ({@link PciFunction#create}) and does everything else through them; it
 * never sees the transport (VFIO files, traps, sockets).
 *
 * <p>Register accesses may come from several threads and timers fire on the clock's thread: a model
 * guards its state itself (a {@code synchronized} model is enough).
 */
public interface PciDevice {

  /** What a model uses to act on the world. */
  record Ports(Interrupts interrupts, DmaPort dma, DeviceClock clock) {}

  /** The device's config space (made once, when the model is made). */
  ConfigSpace configSpace();

  /**
   * A read of {@code size} (1, 2, 4 or 8) bytes at {@code offset} of register space in BAR {@code
   * bar}; the result is zero-extended from {@code size} bytes (bits above are ignored). Sizes and
   * offsets the device does not decode are the model's to answer, as hardware does.
   */
  long read(int bar, long offset, int size);

  /**
   * A write of the low {@code size} bytes of {@code value} at {@code offset} of BAR {@code bar}.
   */
  void write(int bar, long offset, int size, long value);

  /**
   * The storage behind BAR {@code bar}'s plain-memory ranges ({@link Bar#plainMemory}), as big as
   * the BAR; bytes outside those ranges are never used. Only called for BARs that have some.
   */
  default MemorySegment memory(int bar) {
    throw new UnsupportedOperationException("BAR " + bar + " has no plain memory");
  }

  /**
   * The model's own state in a few words for {@code inspect}, e.g. a NIC's {@code mac
   * 52:54:00:00:04:00, link up}; empty when there is nothing to say.
   */
  default String summary() {
    return "";
  }

  /**
   * A reset of the device's own state (a function-level or bus reset). Config space is reset by the
   * PCI core, not here.
   */
  void reset();
}
