package org.iommufd4j.vfio;

import org.iommufd4j.pci.Interrupts;

/** Interrupts that go nowhere: SET_IRQS is not modelled yet. */
final class NoSink implements Interrupts.Sink {
  @Override
  public void intx(boolean asserted) {}

  @Override
  public void msi(int vector) {}

  @Override
  public void msix(int vector) {}
}
