/**
 * vfio-pci's device file over an emulated PCI function ({@link org.iommufd4j.vfio.VfioPciDevice},
 * with the ioctl decoder {@link org.iommufd4j.vfio.VfioPciIoctls}): what a program sees through
 * {@code /dev/vfio/devices/vfioN} once the device is bound, independent of how its ioctls, reads
 * and writes reach this process.
 */
package org.iommufd4j.vfio;
