package org.iommufd4j.pci;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.IommuFaultException;

/** How a model reaches memory: bus addresses (IOVAs), translated by the device's IOMMU. */
public interface DmaPort {
  /** A device attached to no IOMMU domain: every access faults. */
  DmaPort UNATTACHED =
      new DmaPort() {
        @Override
        public void read(long iova, MemorySegment dst) {
          throw new DmaFaultException(iova, "the device is not attached to an IOMMU domain", null);
        }

        @Override
        public void write(long iova, MemorySegment src) {
          throw new DmaFaultException(iova, "the device is not attached to an IOMMU domain", null);
        }
      };

  /**
   * Reads {@code dst.byteSize()} bytes at {@code iova} into {@code dst}.
   *
   * @throws DmaFaultException if any byte cannot be read
   */
  void read(long iova, MemorySegment dst);

  /**
   * Writes {@code src} at {@code iova}.
   *
   * @throws DmaFaultException if any byte cannot be written
   */
  void write(long iova, MemorySegment src);

  /**
   * DMA through {@code device}'s IOMMU: whatever IOAS or HWPT it is attached to translates each
   * access, and a translation fault becomes a {@link DmaFaultException} caused by the {@link
   * IommuFaultException}.
   */
  static DmaPort of(EmulatedDevice device) {
    Objects.requireNonNull(device);
    return new DmaPort() {
      @Override
      public void read(long iova, MemorySegment dst) {
        try {
          device.dmaRead(iova, dst);
        } catch (IommuFaultException e) {
          throw new DmaFaultException(e.iova(), e.reason().toString(), e);
        }
      }

      @Override
      public void write(long iova, MemorySegment src) {
        try {
          device.dmaWrite(iova, src);
        } catch (IommuFaultException e) {
          throw new DmaFaultException(e.iova(), e.reason().toString(), e);
        }
      }
    };
  }
}
