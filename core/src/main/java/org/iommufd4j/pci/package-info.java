/**
 * Emulated PCI devices: the SPI device models implement ({@link org.iommufd4j.pci.PciDevice} with
 * its {@link org.iommufd4j.pci.ConfigSpace}, {@link org.iommufd4j.pci.Bar}s, {@link
 * org.iommufd4j.pci.Interrupts}, {@link org.iommufd4j.pci.DmaPort} and {@link
 * org.iommufd4j.pci.DeviceClock}), the PCI core around a model ({@link
 * org.iommufd4j.pci.PciFunction}) and vfio-pci's view of config space ({@link
 * org.iommufd4j.pci.VfioPciConfig}).
 *
 * <p>A model is behaviour only: registers, scheduled work, DMA and interrupts. It never sees
 * sockets, processes or the VFIO ABI; those belong to the layers that use this package.
 */
package org.iommufd4j.pci;
