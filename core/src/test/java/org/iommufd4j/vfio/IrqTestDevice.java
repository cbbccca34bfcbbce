package org.iommufd4j.vfio;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;

/**
 * A PCI Express device with every interrupt kind (INTx, 4 MSI vectors, {@link #MSIX_VECTORS} MSI-X
 * vectors with their table at {@link #MSIX_TABLE} in BAR 2), FLR and an I/O BAR, whose registers
 * read zero; it records register writes and resets. Tests raise its interrupts through {@link
 * #ports}.
 */
final class IrqTestDevice implements PciDevice {
  static final int MSIX_VECTORS = 8;
  static final long MSIX_TABLE = 0x1000;

  PciDevice.Ports ports;
  final List<String> writes = new ArrayList<>();
  int resets;
  private final ConfigSpace config =
      ConfigSpace.builder(0x1b36, 0x0011)
          .interruptPin(1)
          .bar(Bar.memory32(0, 0x1000))
          .bar(Bar.memory64(2, 0x4000, false))
          .bar(Bar.io(4, 0x20))
          .msi(4, true, false)
          .msix(MSIX_VECTORS, 2, MSIX_TABLE, 2, 0x1800)
          .pciExpress(true)
          .build();

  /** A function on this device, not attached for DMA, on its own virtual clock. */
  PciFunction function() {
    return PciFunction.create(
        p -> {
          ports = p;
          return this;
        },
        DmaPort.UNATTACHED,
        new VirtualClock(),
        Interrupts.Sink.DISCARD);
  }

  @Override
  public ConfigSpace configSpace() {
    return config;
  }

  @Override
  public long read(int bar, long offset, int size) {
    return 0;
  }

  @Override
  public synchronized void write(int bar, long offset, int size, long value) {
    writes.add(
        "w"
            + bar
            + "@0x"
            + Long.toHexString(offset)
            + "/"
            + size
            + "=0x"
            + Long.toHexString(value));
  }

  @Override
  public void reset() {
    resets++;
  }
}
