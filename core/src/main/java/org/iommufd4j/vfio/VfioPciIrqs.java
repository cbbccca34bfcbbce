package org.iommufd4j.vfio;

import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_ERR_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_INTX_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_MSIX_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_MSI_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_REQ_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_ACTION_MASK;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_ACTION_TRIGGER;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_ACTION_TYPE_MASK;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_ACTION_UNMASK;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_DATA_BOOL;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD;
import static org.iommufd4j.uapi.VfioIrqSet.VFIO_IRQ_SET_DATA_NONE;

import org.iommufd4j.Errno;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.VfioPciConfig;
import org.iommufd4j.trace.MemoryLog;

/**
 * vfio-pci's interrupt state for one open device (vfio_pci_intrs.c): which index SET_IRQS enabled,
 * the eventfd of each vector, INTx's automask, and the ERR and REQ eventfds. It is the sink the
 * model's interrupts are routed to while the file is open, and signals the program's eventfds.
 *
 * <p>INTx is masked the way a host without DisINTx masks it at the interrupt controller, which a
 * program cannot tell from DisINTx masking: the virtual command register never shows INTx disable
 * and the status register shows the pin. An unmask while the pin is still asserted signals again
 * and stays masked (vfio_pci_intx_unmask_handler() with pci_check_and_unmask_intx()).
 *
 * <p>Guarded by its own monitor (the kernel's igate and irqlock in one), always taken after the
 * device's {@link Interrupts} monitor: the model calls the sink methods holding that monitor, and
 * the program's calls take it first because they mask MSI-X vectors and change the device's config
 * space, which can send a pending message back into this sink.
 */
final class VfioPciIrqs implements Interrupts.Sink {
  private final Interrupts interrupts;
  private final VfioPciConfig config;
  private final boolean pcie;

  /** The interrupt type SET_IRQS set up ({@code vdev->irq_type}). */
  private VfioPciConfig.IrqType type = VfioPciConfig.IrqType.NONE;

  /** INTx's trigger, or MSI/MSI-X vector i's ({@code vdev->ctx}); absent vectors are null. */
  private EventFd[] triggers = new EventFd[0];

  /** MSI/MSI-X vectors allocated at enable (pci_alloc_irq_vectors()). */
  private int allocated;

  private boolean intxMasked;
  private boolean pinAsserted;
  private EventFd intxUnmaskFd;
  private EventFd errTrigger;
  private EventFd reqTrigger;

  VfioPciIrqs(Interrupts interrupts, VfioPciConfig config, boolean pcie) {
    this.interrupts = interrupts;
    this.config = config;
    this.pcie = pcie;
  }

  synchronized VfioPciConfig.IrqType type() {
    return type;
  }

  /**
   * vfio_pci_intrs.c: vfio_pci_set_irqs_ioctl() after vfio_set_irqs_validate_and_prepare(): {@code
   * data} holds {@code count} bools or eventfd numbers as {@code flags} says, or nothing.
   *
   * @throws ErrnoException ENOTTY for an action the index lacks, EINVAL for a state the action does
   *     not fit, EBADF/EINVAL for a bad eventfd, ERANGE for an MSI enable of no vectors
   */
  void set(int flags, int index, int start, int count, byte[] data, FileTable files) {
    synchronized (interrupts) {
      synchronized (this) {
        dispatch(flags, index, start, count, data, files);
      }
    }
  }

  private void dispatch(int flags, int index, int start, int count, byte[] data, FileTable files) {
    int action = flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
    switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX -> {
        switch (action) {
          case VFIO_IRQ_SET_ACTION_MASK -> intxMask(start, count, flags, data);
          case VFIO_IRQ_SET_ACTION_UNMASK -> intxUnmask(start, count, flags, data, files);
          case VFIO_IRQ_SET_ACTION_TRIGGER -> intxTrigger(start, count, flags, data, files);
          default -> throw notSupported(index, flags);
        }
      }
      case VFIO_PCI_MSI_IRQ_INDEX, VFIO_PCI_MSIX_IRQ_INDEX -> {
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) { // masking is not exported to vfio
          throw notSupported(index, flags);
        }
        msiTrigger(index, start, count, flags, data, files);
      }
      case VFIO_PCI_ERR_IRQ_INDEX -> {
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER || !pcie) {
          throw notSupported(index, flags);
        }
        errTrigger = setSingle(errTrigger, index, count, flags, data, files);
      }
      case VFIO_PCI_REQ_IRQ_INDEX -> {
        if (action != VFIO_IRQ_SET_ACTION_TRIGGER) {
          throw notSupported(index, flags);
        }
        reqTrigger = setSingle(reqTrigger, index, count, flags, data, files);
      }
      default -> throw notSupported(index, flags);
    }
  }

  /**
   * What the file's release does (vfio_pci_core_disable()): the enabled index is disabled and every
   * eventfd is put.
   */
  void close() {
    synchronized (interrupts) {
      synchronized (this) {
        switch (type) {
          case INTX -> intxDisable();
          case MSI, MSIX -> msiDisable();
          case NONE -> {}
        }
        errTrigger = put(errTrigger);
        reqTrigger = put(reqTrigger);
      }
    }
  }

  /**
   * A function reset saved and restored the device's MSI and MSI-X state (pci_reset_function() with
   * pci_restore_msi_state()): the enables and the vector masks go back.
   */
  void restoreAfterReset() {
    synchronized (interrupts) {
      synchronized (this) {
        if (type == VfioPciConfig.IrqType.MSI || type == VfioPciConfig.IrqType.MSIX) {
          config.setIrqType(type, allocated);
          for (int v = 0; type == VfioPciConfig.IrqType.MSIX && v < triggers.length; v++) {
            interrupts.maskMsixVector(v, triggers[v] == null);
          }
        }
      }
    }
  }

  /**
   * What {@code inspect} shows: the enabled type, its vectors, those with an eventfd, INTx's mask.
   */
  synchronized Snapshot.IrqState state() {
    int eventfds = 0;
    for (EventFd fd : triggers) {
      eventfds += fd == null ? 0 : 1;
    }
    int vectors =
        switch (type) {
          case NONE -> 0;
          case INTX -> 1;
          case MSI, MSIX -> allocated;
        };
    return new Snapshot.IrqState(
        Snapshot.IrqType.valueOf(type.name()),
        vectors,
        eventfds,
        type == VfioPciConfig.IrqType.INTX && intxMasked);
  }

  /** Every eventfd held, for tests: the vectors', INTx's unmask eventfd, ERR's and REQ's. */
  synchronized int heldEventFds() {
    int held = 0;
    for (EventFd fd : triggers) {
      held += fd == null ? 0 : 1;
    }
    for (EventFd fd : new EventFd[] {intxUnmaskFd, errTrigger, reqTrigger}) {
      held += fd == null ? 0 : 1;
    }
    return held;
  }

  // ---- what the device sends (the host's handlers) ----

  /** vfio_intx_handler(): a rising level masks INTx and signals; nothing else does. */
  @Override
  public synchronized void intx(boolean asserted) {
    pinAsserted = asserted;
    if (asserted && type == VfioPciConfig.IrqType.INTX && !intxMasked) {
      intxMasked = true;
      sendIntx();
    }
  }

  /** vfio_msihandler(). */
  @Override
  public synchronized void msi(int vector) {
    signalVector(VfioPciConfig.IrqType.MSI, vector);
  }

  @Override
  public synchronized void msix(int vector) {
    signalVector(VfioPciConfig.IrqType.MSIX, vector);
  }

  /**
   * The program wrote INTx disable in the virtual command register (vfio_pci_config.c:
   * vfio_basic_config_write() calling vfio_pci_intx_mask()/unmask()).
   */
  void virtualIntxDisable(boolean disabled) {
    synchronized (interrupts) {
      synchronized (this) {
        if (disabled) {
          mask();
        } else {
          unmask();
        }
      }
    }
  }

  private void signalVector(VfioPciConfig.IrqType from, int vector) {
    if (type == from && vector >= 0 && vector < triggers.length && triggers[vector] != null) {
      signal(
          triggers[vector],
          from == VfioPciConfig.IrqType.MSIX ? VFIO_PCI_MSIX_IRQ_INDEX : VFIO_PCI_MSI_IRQ_INDEX,
          vector);
    }
  }

  // ---- INTx ----

  /** vfio_pci_set_intx_mask(). */
  private void intxMask(int start, int count, int flags, byte[] data) {
    requireIntxVector(start, count);
    if ((flags & VFIO_IRQ_SET_DATA_EVENTFD) != 0) { // a mask eventfd was never implemented
      throw ErrnoException.of(Errno.ENOTTY, "INTx has no mask eventfd");
    }
    if ((flags & VFIO_IRQ_SET_DATA_NONE) != 0 || data[0] != 0) {
      mask();
    }
  }

  /**
   * vfio_pci_set_intx_unmask(). An unmask eventfd is taken and held (a second is EBUSY, fd -1 drops
   * it); each signal the program sends on it unmasks as the ioctl does, where the front door can
   * watch it ({@link EventFd#onSignal}).
   */
  private void intxUnmask(int start, int count, int flags, byte[] data, FileTable files) {
    requireIntxVector(start, count);
    if ((flags & VFIO_IRQ_SET_DATA_EVENTFD) == 0) {
      if ((flags & VFIO_IRQ_SET_DATA_NONE) != 0 || data[0] != 0) {
        unmask();
      }
      return;
    }
    int fd = fd(data, 0);
    if (fd < 0) { // vfio_virqfd_disable()
      intxUnmaskFd = put(intxUnmaskFd);
      return;
    }
    EventFd unmask = files.eventfd(fd); // virqfd.c: vfio_virqfd_enable(): fdget first
    if (intxUnmaskFd != null) {
      unmask.close();
      throw ErrnoException.of(Errno.EBUSY, "INTx has an unmask eventfd already");
    }
    intxUnmaskFd = unmask;
    unmask.onSignal(() -> unmaskSignalled(unmask));
  }

  /** vfio_pci_intx_unmask_handler() run by the unmask eventfd's virqfd. */
  private void unmaskSignalled(EventFd from) {
    synchronized (interrupts) {
      synchronized (this) {
        if (intxUnmaskFd == from) {
          unmask();
        }
      }
    }
  }

  /** vfio_pci_set_intx_trigger(). */
  private void intxTrigger(int start, int count, int flags, byte[] data, FileTable files) {
    boolean intx = type == VfioPciConfig.IrqType.INTX;
    if (intx && count == 0 && (flags & VFIO_IRQ_SET_DATA_NONE) != 0) {
      intxDisable();
      return;
    }
    if (!(intx || type == VfioPciConfig.IrqType.NONE) || start != 0 || count != 1) {
      throw ErrnoException.of(Errno.EINVAL, "INTx trigger in state " + type);
    }
    if ((flags & VFIO_IRQ_SET_DATA_EVENTFD) != 0) {
      int fd = fd(data, 0);
      EventFd trigger = fd >= 0 ? files.eventfd(fd) : null;
      if (intx) { // vfio_intx_set_signal()
        put(triggers[0]);
        triggers[0] = trigger;
      } else {
        intxEnable(trigger);
      }
      return;
    }
    if (!intx) {
      throw ErrnoException.of(Errno.EINVAL, "INTx is not enabled");
    }
    if ((flags & VFIO_IRQ_SET_DATA_NONE) != 0 || data[0] != 0) { // loopback
      sendIntx();
    }
  }

  /** vfio_intx_enable(): masked from the start if the program disabled INTx in config space. */
  private void intxEnable(EventFd trigger) {
    type = VfioPciConfig.IrqType.INTX;
    config.setIrqType(type, 1);
    triggers = new EventFd[] {trigger};
    intxMasked = config.intxMasked();
    if (pinAsserted) { // the level is already up: the handler runs as soon as it is requested
      intx(true);
    }
  }

  /** vfio_intx_disable(). */
  private void intxDisable() {
    intxUnmaskFd = put(intxUnmaskFd);
    putTriggers();
    intxMasked = false;
    type = VfioPciConfig.IrqType.NONE;
    config.setIrqType(type, 0);
  }

  /** __vfio_pci_intx_mask(). */
  private void mask() {
    if (type == VfioPciConfig.IrqType.INTX) {
      intxMasked = true;
    }
  }

  /** __vfio_pci_intx_unmask(): a level still asserted is sent again at once and stays masked. */
  private void unmask() {
    if (type != VfioPciConfig.IrqType.INTX || !intxMasked || config.intxMasked()) {
      return;
    }
    if (pinAsserted) {
      sendIntx();
    } else {
      intxMasked = false;
    }
  }

  /** vfio_send_intx_eventfd(): nothing while the program has INTx disabled in config space. */
  private void sendIntx() {
    if (type == VfioPciConfig.IrqType.INTX && !config.intxMasked() && triggers[0] != null) {
      signal(triggers[0], VFIO_PCI_INTX_IRQ_INDEX, 0);
    }
  }

  private void requireIntxVector(int start, int count) {
    if (type != VfioPciConfig.IrqType.INTX || start != 0 || count != 1) {
      throw ErrnoException.of(Errno.EINVAL, "INTx is not enabled, or not vector 0 alone");
    }
  }

  // ---- MSI and MSI-X ----

  /** vfio_pci_set_msi_trigger(). */
  private void msiTrigger(
      int index, int start, int count, int flags, byte[] data, FileTable files) {
    VfioPciConfig.IrqType wanted =
        index == VFIO_PCI_MSIX_IRQ_INDEX ? VfioPciConfig.IrqType.MSIX : VfioPciConfig.IrqType.MSI;
    if (type == wanted && count == 0 && (flags & VFIO_IRQ_SET_DATA_NONE) != 0) {
      msiDisable();
      return;
    }
    if (type != wanted && type != VfioPciConfig.IrqType.NONE) {
      throw ErrnoException.of(Errno.EINVAL, wanted + " while " + type + " is enabled");
    }
    if ((flags & VFIO_IRQ_SET_DATA_EVENTFD) != 0) {
      if (type == wanted) {
        setBlock(start, count, data, files);
        return;
      }
      msiEnable(wanted, start + count);
      try {
        setBlock(start, count, data, files);
      } catch (RuntimeException e) {
        msiDisable();
        throw e;
      }
      return;
    }
    if (type != wanted) {
      throw ErrnoException.of(Errno.EINVAL, wanted + " is not enabled");
    }
    for (int i = start; i < start + count; i++) { // loopback
      boolean fire = (flags & VFIO_IRQ_SET_DATA_NONE) != 0 || data[i - start] != 0;
      if (fire && i < triggers.length && triggers[i] != null) {
        signal(triggers[i], index, i);
      }
    }
  }

  /** vfio_msi_enable() with pci_alloc_irq_vectors(1, nvec): all or nothing, as vfio asks. */
  private void msiEnable(VfioPciConfig.IrqType wanted, int vectors) {
    if (vectors < 1) {
      throw ErrnoException.of(Errno.ERANGE, "no vectors to enable");
    }
    allocated = vectors;
    triggers = new EventFd[vectors];
    type = wanted;
    config.setIrqType(wanted, vectors);
  }

  /**
   * vfio_msi_set_block(): vector by vector; on a failure the vectors this call reached are left
   * without eventfds.
   */
  private void setBlock(int start, int count, byte[] data, FileTable files) {
    int j = start;
    try {
      for (int i = 0; i < count; i++, j++) {
        setVector(j, data == null ? -1 : fd(data, i), files);
      }
    } catch (RuntimeException e) {
      for (int i = start; i <= j && i < start + count; i++) {
        setVector(i, -1, files);
      }
      throw e;
    }
  }

  /** vfio_msi_set_vector_signal(). */
  private void setVector(int vector, int fd, FileTable files) {
    boolean msix = type == VfioPciConfig.IrqType.MSIX;
    if (vector < triggers.length && triggers[vector] != null) {
      triggers[vector] = put(triggers[vector]);
      if (msix) { // free_irq() masks the vector
        interrupts.maskMsixVector(vector, true);
      }
    }
    if (fd < 0) {
      return;
    }
    if (vector >= allocated) { // pci_irq_vector(): not allocated at enable
      throw ErrnoException.of(Errno.EINVAL, "vector " + vector + " was not allocated");
    }
    triggers[vector] = files.eventfd(fd);
    if (msix) { // request_irq() unmasks it
      interrupts.maskMsixVector(vector, false);
    }
  }

  /** vfio_msi_disable(). */
  private void msiDisable() {
    boolean msix = type == VfioPciConfig.IrqType.MSIX;
    for (int v = 0; v < triggers.length; v++) {
      if (triggers[v] != null && msix) {
        interrupts.maskMsixVector(v, true);
      }
    }
    putTriggers();
    allocated = 0;
    type = VfioPciConfig.IrqType.NONE;
    config.setIrqType(type, 0);
  }

  // ---- ERR and REQ ----

  /** Signals IRQ {@code index}'s vector {@code vector}, noted in a recording's log. */
  private static void signal(EventFd eventfd, int index, int vector) {
    MemoryLog.irq(index, vector);
    eventfd.signal();
  }

  /** vfio_pci_set_ctx_trigger_single(): returns the eventfd now held. */
  private static EventFd setSingle(
      EventFd held, int index, int count, int flags, byte[] data, FileTable files) {
    if ((flags & VFIO_IRQ_SET_DATA_NONE) != 0) {
      if (held == null) {
        throw ErrnoException.of(Errno.EINVAL, "no eventfd to signal");
      }
      if (count != 0) {
        signal(held, index, 0);
        return held;
      }
      return put(held);
    }
    if (count == 0) {
      throw ErrnoException.of(Errno.EINVAL, "count 0 with data");
    }
    if ((flags & VFIO_IRQ_SET_DATA_BOOL) != 0) {
      if (data[0] != 0 && held != null) {
        signal(held, index, 0);
      }
      return held;
    }
    int fd = fd(data, 0);
    if (fd == -1) {
      return put(held);
    }
    if (fd < 0) {
      throw ErrnoException.of(Errno.EINVAL, "eventfd " + fd);
    }
    EventFd replacement = files.eventfd(fd);
    put(held);
    return replacement;
  }

  // ---- helpers ----

  private void putTriggers() {
    for (EventFd fd : triggers) {
      put(fd);
    }
    triggers = new EventFd[0];
  }

  /** eventfd_ctx_put(); returns null for the field it clears. */
  private static EventFd put(EventFd fd) {
    if (fd != null) {
      fd.close();
    }
    return null;
  }

  private static int fd(byte[] data, int i) {
    int at = 4 * i;
    return (data[at] & 0xff)
        | (data[at + 1] & 0xff) << 8
        | (data[at + 2] & 0xff) << 16
        | (data[at + 3] & 0xff) << 24;
  }

  private static ErrnoException notSupported(int index, int flags) {
    return ErrnoException.of(
        Errno.ENOTTY, "index " + index + " has no action 0x" + Integer.toHexString(flags & 0x38));
  }
}
