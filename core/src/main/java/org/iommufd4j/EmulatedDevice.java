package org.iommufd4j;

import java.lang.foreign.MemorySegment;

/**
 * An emulated device behind an emulated IOMMU ({@link DomainModel}): attach it to an IOAS and it
 * reads and writes your program's memory by IOVA, exactly as far as the IOAS's mappings allow. This
 * is how a driver's DMA paths are tested without hardware. Closing it detaches and unbinds.
 *
 * {@snippet :
 * try (EmulatedDevice nic = iommufd.createDevice(DomainModel.vtd())) {
 *   nic.attach(ioas);
 *   nic.dmaWrite(rxRingIova, packet);           // the "device" receives a packet
 *   nic.dmaRead(txRingIova, descriptor);        // and fetches a descriptor
 * }
 * }
 */
public interface EmulatedDevice extends AutoCloseable {

  /** The DEVICE object id. */
  int id();

  /**
   * Attaches (or moves) the device to {@code ioas} through an automatic HWPT shared with compatible
   * devices (device.c: iommufd_device_auto_get_domain()).
   *
   * @throws IommufdException EADDRINUSE if a reserved region or the aperture hits a mapping or
   *     allowed range, EFAULT/ENOMEM if the pages of existing mappings cannot be pinned or charged
   */
  void attach(Ioas ioas);

  /**
   * Attaches (or moves) the device to a HWPT of its IOMMU ({@link Iommufd#allocHwpt}).
   *
   * @throws IommufdException EINVAL if the HWPT belongs to an incompatible IOMMU, ENOENT if it is
   *     gone
   */
  void attach(Hwpt hwpt);

  /** Detaches: all DMA is blocked until the next attach. */
  void detach();

  /** The HWPT the device is attached to, or 0. */
  int hwptId();

  /**
   * The device reads {@code dst.byteSize()} bytes at {@code iova} into {@code dst}.
   *
   * @throws IommuFaultException when a byte is not mapped readable
   */
  void dmaRead(long iova, MemorySegment dst);

  /**
   * The device writes {@code src} at {@code iova}.
   *
   * @throws IommuFaultException when a byte is not mapped writable
   */
  void dmaWrite(long iova, MemorySegment src);

  /**
   * Where the device's IOMMU sends {@code iova}: the address in the mapping process's memory, or -1
   * if the IOVA is not mapped (or the device is not attached).
   */
  long translate(long iova);

  /** Detaches and unbinds the device. */
  @Override
  void close();
}
