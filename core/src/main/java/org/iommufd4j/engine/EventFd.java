package org.iommufd4j.engine;

/**
 * A caller's eventfd held by the emulated kernel (eventfd.c: struct eventfd_ctx): what vfio-pci
 * signals for an interrupt ({@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD}). The bridge
 * holds a duplicate of the program's descriptor; the embedded API one of this process.
 */
public interface EventFd extends AutoCloseable {
  /** Adds 1 to the counter, waking a reader (eventfd_signal()); never blocks or fails. */
  void signal();

  /** Drops the reference (eventfd_ctx_put()). */
  @Override
  void close();
}
