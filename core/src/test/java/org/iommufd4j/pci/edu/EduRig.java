package org.iommufd4j.pci.edu;

import java.lang.foreign.Arena;
import org.iommufd4j.Configuration;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.RecordingSink;
import org.iommufd4j.pci.VirtualClock;

/**
 * What the edu tests stand on: an edu whose DMA goes through an emulated VT-d attached to one IOAS,
 * on a machine of its own, on virtual time, its interrupts recorded.
 */
final class EduRig implements AutoCloseable {
  final Arena arena = Arena.ofConfined();
  final Iommufd iommufd =
      Iommufd.emulated(
          Configuration.builder().privateHost(true).memlockLimit(Configuration.UNLIMITED).build());
  final Ioas ioas = iommufd.createIoas();
  final EmulatedDevice iommuPort = iommufd.createDevice(PciFunction.QEMU_INTEL_IOMMU);
  final VirtualClock clock = new VirtualClock();
  final RecordingSink sink = new RecordingSink();
  final PciFunction edu;

  EduRig() {
    iommuPort.attach(ioas);
    edu = PciFunction.create(EduDevice::new, DmaPort.of(iommuPort), clock, sink);
  }

  @Override
  public void close() {
    iommuPort.close();
    iommufd.close();
    arena.close();
  }
}
