package org.iommufd4j.pci;

/**
 * A PCI device model: its config space, its registers, and its reset. A model gets its {@link
 * Ports} when it is made ({@link PciFunction#create}) and does everything else through them; it
 * never sees the transport (VFIO files, traps, sockets).
 *
 * <p>Register accesses may come from several threads and timers fire on the clock's thread: a model
 * guards its state itself (a {@code synchronized} model is enough).
 */
public interface PciDevice {

  /**
   * What a model uses to act on the world; {@code memory} is the storage of its BARs' plain-memory
   * ranges, usable once the model is made.
   */
  record Ports(Interrupts interrupts, DmaPort dma, DeviceClock clock, PlainMemory memory) {}

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
   * A doorbell changed: the 4-byte word at {@code offset} of BAR {@code bar}, in a range declared
   * with {@link Bar#withDoorbells}, now holds {@code value}. A {@code pwrite} reaches this before
   * it returns; a store through a shared mapping reaches it from the PCI core's poller a moment
   * later (microseconds while the device is busy, up to {@link PlainMemory#MAX_SLEEP_NANOS} when it
   * has been idle). Stores between two looks coalesce into the last value, and a store of the value
   * already there is not seen: doorbells hold absolute values, as NVMe's queue tails and heads.
   */
  default void doorbell(int bar, long offset, int value) {}

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
