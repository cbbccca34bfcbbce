/**
 * An emulated host's VFIO layer over emulated PCI functions: the nodes a program opens ({@link
 * org.iommufd4j.vfio.VfioHost}, as {@link org.iommufd4j.vfio.VfioNodes}: groups {@code /dev/vfio/N}
 * and cdevs {@code /dev/vfio/devices/vfioN}), and vfio-pci's device file ({@link
 * org.iommufd4j.vfio.VfioPciDevice}, with the ioctl decoder {@link
 * org.iommufd4j.vfio.VfioPciIoctls}: regions, SET_IRQS, ioeventfds, reset). What a program sees
 * does not depend on how its calls reach this process: the bridge serves these files to C programs,
 * {@link org.iommufd4j.EmulatedMachine} to a Java driver in this process.
 */
package org.iommufd4j.vfio;
