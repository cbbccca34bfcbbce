package org.iommufd4j.vfio;

import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.EmulatedFile;

/**
 * The character devices of an emulated host's VFIO layer, as {@code open(2)} reaches them: groups
 * {@code /dev/vfio/N} (vfio/group.c: vfio_group_fops_open()) and device cdevs {@code
 * /dev/vfio/devices/vfioN} (vfio/device_cdev.c: vfio_device_fops_cdev_open()). The container {@code
 * /dev/vfio/vfio} is iommufd's compatibility and is opened as an iommufd context. A front door (the
 * bridge, the embedded API) calls these with the opening caller and routes every later call on the
 * file to the {@link EmulatedFile} returned.
 */
public interface VfioNodes {
  /**
   * Opens group {@code group}.
   *
   * @throws org.iommufd4j.engine.ErrnoException ENOENT for no such group, EBUSY when it is open
   *     already
   */
  EmulatedFile openGroup(Caller caller, int group, int flags);

  /**
   * Opens device cdev {@code index} ({@code vfio<index>}).
   *
   * @throws org.iommufd4j.engine.ErrnoException ENOENT for no such device
   */
  EmulatedFile openCdev(Caller caller, int index, int flags);
}
