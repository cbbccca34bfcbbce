/** An emulated NVMe 1.4 controller with QEMU's identity, on the PCI model SPI. */
package org.iommufd4j.pci.nvme;
