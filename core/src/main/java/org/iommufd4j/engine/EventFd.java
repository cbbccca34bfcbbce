package org.iommufd4j.engine;

/**
 * A caller's eventfd held by the emulated kernel (eventfd.c: struct eventfd_ctx): what vfio-pci
 * signals for an interrupt ({@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD}). The bridge
 * holds a duplicate of the program's descriptor; the embedded API one of this process.
 */
public interface EventFd extends AutoCloseable {
  /** Adds 1 to the counter, waking a reader (eventfd_signal()); never blocks or fails. */
  void signal();

  /**
   * Runs {@code action} each time the program signals this eventfd, until {@link #close()}: what
   * virqfd.c: vfio_virqfd_enable() hooks up for an INTx unmask eventfd or an ioeventfd. The action
   * may run on any thread and takes the locks it needs. Returns false when this front door cannot
   * watch the descriptor; the kernel's answer to the program is the same, but its signals then go
   * unnoticed.
   */
  default boolean onSignal(Runnable action) {
    return false;
  }

  /** Drops the reference (eventfd_ctx_put()). */
  @Override
  void close();
}
