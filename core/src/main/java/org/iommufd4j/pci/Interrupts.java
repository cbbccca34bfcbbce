package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.*;

import java.util.Objects;

/**
 * The interrupt pins and messages of one device, as a model uses them: INTx as a level ({@link
 * #raiseIntx}/{@link #lowerIntx}) and message vectors ({@link #msi}). The PCI rules live here, not
 * in the models: the COMMAND register's INTx disable bit gates the pin and the STATUS interrupt bit
 * shows it; a message goes out as MSI-X when MSI-X is enabled, else as MSI when MSI is enabled,
 * else nowhere (a device must not send one); a masked vector sets its pending bit and is sent when
 * unmasked; a message is a memory write, so with bus mastering off it is lost. What leaves the
 * device goes to a {@link Sink}, which the VFIO layer connects to the program's eventfds while a
 * device file is open ({@link #route}).
 */
public final class Interrupts {
  /**
   * Where interrupts leave the device. Called with the device's interrupt lock held: an
   * implementation must not call back into the device.
   */
  public interface Sink {
    /** Interrupts that go nowhere (no program has asked for them yet). */
    Sink DISCARD =
        new Sink() {
          @Override
          public void intx(boolean asserted) {}

          @Override
          public void msi(int vector) {}

          @Override
          public void msix(int vector) {}
        };

    /** The INTx pin as the host sees it changed to {@code asserted}. */
    void intx(boolean asserted);

    /** MSI message {@code vector} was sent. */
    void msi(int vector);

    /** MSI-X message {@code vector} was sent. */
    void msix(int vector);
  }

  private Sink sink;
  private ConfigSpace config;
  private MsixTable msixTable;
  private boolean intxLevel;
  private boolean intxOutput;

  Interrupts(Sink sink) {
    this.sink = Objects.requireNonNull(sink);
  }

  /**
   * Sends what leaves the device to {@code sink} from now on, as the host's interrupt handlers
   * change owner; returns the sink it replaces. The INTx pin is reported to the new sink as it
   * stands, so a level asserted before the switch is not lost.
   */
  public synchronized Sink route(Sink sink) {
    Sink previous = this.sink;
    this.sink = Objects.requireNonNull(sink);
    if (intxOutput) {
      sink.intx(true);
    }
    return previous;
  }

  /**
   * Masks or unmasks MSI-X vector {@code vector} in the table, as the host's MSI-X driver does when
   * a handler is requested or freed; a pending message is sent on unmask. Nothing without MSI-X or
   * for a vector the table lacks.
   */
  public synchronized void maskMsixVector(int vector, boolean masked) {
    if (msixTable == null || vector < 0 || vector >= msixTable.vectors()) {
      return;
    }
    msixTable.setMasked(vector, masked);
    configChanged();
  }

  synchronized void bind(ConfigSpace config) {
    this.config = config;
    ConfigSpace.MsixLayout layout = config.msix();
    this.msixTable = layout == null ? null : new MsixTable(layout);
    config.onChange(this::configChanged);
  }

  /** Asserts the device's INTx pin (level-triggered: it stays asserted until lowered). */
  public synchronized void raiseIntx() {
    intxLevel = true;
    updateIntx();
  }

  /** Deasserts the device's INTx pin. */
  public synchronized void lowerIntx() {
    intxLevel = false;
    updateIntx();
  }

  /** Whether the device's INTx pin is asserted (before the INTx disable bit). */
  public synchronized boolean intxLevel() {
    return intxLevel;
  }

  /** Whether message interrupts (MSI or MSI-X) are enabled: then a model must not use INTx. */
  public synchronized boolean msiEnabled() {
    requireBound();
    return msixEnabled() || msiCapabilityEnabled();
  }

  /**
   * Sends message {@code vector}: nothing while bus mastering is off, else as MSI-X if enabled
   * (pending if masked), else as MSI if enabled and the vector is within the enabled count (pending
   * if masked), else nothing.
   */
  public synchronized void msi(int vector) {
    requireBound();
    if ((config.read(COMMAND, 2) & COMMAND_MASTER) == 0) {
      return; // the message write cannot leave the device; it is not sent later either
    }
    if (msixEnabled()) {
      if (vector >= 0 && vector < msixTable.vectors()) {
        if (msixMasked(vector)) {
          msixTable.setPending(vector, true);
        } else {
          sink.msix(vector);
        }
      }
      return;
    }
    int pos = config.findCapability(CAP_ID_MSI);
    if (pos == 0 || !msiCapabilityEnabled()) {
      return;
    }
    int flags = config.read(pos + MSI_FLAGS, 2);
    int enabledVectors = 1 << ((flags & MSI_FLAGS_QSIZE) >> 4);
    if (vector < 0 || vector >= enabledVectors) {
      return;
    }
    if ((flags & MSI_FLAGS_MASKBIT) != 0) {
      int maskOffset = pos + ((flags & MSI_FLAGS_64BIT) != 0 ? MSI_MASK_64 : MSI_MASK_32);
      if ((config.read(maskOffset, 4) & (1 << vector)) != 0) {
        config.setBits(maskOffset + 4, 4, 1 << vector, true);
        return;
      }
    }
    sink.msi(vector);
  }

  /** The MSI-X table and PBA, or null without MSI-X. */
  MsixTable msixTable() {
    return msixTable;
  }

  /** Re-evaluates what config space or the MSI-X table gate: INTx disable, masks. */
  synchronized void configChanged() {
    if (intxLevel && msiEnabled()) { // as QEMU's msi/msix_write_config(): enabling drops INTx
      intxLevel = false;
    }
    updateIntx();
    int pos = config.findCapability(CAP_ID_MSI);
    if (pos != 0 && msiCapabilityEnabled()) {
      int flags = config.read(pos + MSI_FLAGS, 2);
      if ((flags & MSI_FLAGS_MASKBIT) != 0) {
        int maskOffset = pos + ((flags & MSI_FLAGS_64BIT) != 0 ? MSI_MASK_64 : MSI_MASK_32);
        int deliverable = config.read(maskOffset + 4, 4) & ~config.read(maskOffset, 4);
        for (int v = 0; deliverable != 0; v++, deliverable >>>= 1) {
          if ((deliverable & 1) != 0) {
            config.setBits(maskOffset + 4, 4, 1 << v, false);
            sink.msi(v);
          }
        }
      }
    }
    if (msixEnabled()) {
      for (int v = 0; v < msixTable.vectors(); v++) {
        if (msixTable.isPending(v) && !msixMasked(v)) {
          msixTable.setPending(v, false);
          sink.msix(v);
        }
      }
    }
  }

  /** Device reset: the pin deasserts, pending messages and the MSI-X table are cleared. */
  synchronized void reset() {
    intxLevel = false;
    if (msixTable != null) {
      msixTable.reset();
    }
    updateIntx();
  }

  private void updateIntx() {
    requireBound();
    boolean disabled = (config.read(COMMAND, 2) & COMMAND_INTX_DISABLE) != 0;
    boolean connected = config.read(INTERRUPT_PIN, 1) != 0;
    config.setBits(STATUS, 2, STATUS_INTERRUPT, intxLevel && connected);
    boolean output = intxLevel && connected && !disabled;
    if (output != intxOutput) {
      intxOutput = output;
      sink.intx(output);
    }
  }

  private boolean msiCapabilityEnabled() {
    int pos = config.findCapability(CAP_ID_MSI);
    return pos != 0 && (config.read(pos + MSI_FLAGS, 2) & MSI_FLAGS_ENABLE) != 0;
  }

  private boolean msixEnabled() {
    int pos = config.findCapability(CAP_ID_MSIX);
    return pos != 0 && (config.read(pos + MSIX_FLAGS, 2) & MSIX_FLAGS_ENABLE) != 0;
  }

  private boolean msixMasked(int vector) {
    int pos = config.findCapability(CAP_ID_MSIX);
    return (config.read(pos + MSIX_FLAGS, 2) & MSIX_FLAGS_MASKALL) != 0
        || msixTable.isMasked(vector);
  }

  private void requireBound() {
    if (config == null) {
      throw new IllegalStateException("interrupts are not bound to a config space yet");
    }
  }
}
