package org.iommufd4j.pci.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Configuration;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.RecordingSink;
import org.iommufd4j.pci.VirtualClock;

/**
 * What the virtio-net tests stand on: NICs whose DMA goes through an emulated VT-d attached to one
 * IOAS, each with 1 MiB of driver memory mapped in it, on virtual time, interrupts recorded.
 */
final class VirtioRig implements AutoCloseable {
  static final int MEMORY = 1 << 20;

  final Arena arena = Arena.ofShared();
  final Iommufd iommufd =
      Iommufd.emulated(
          Configuration.builder().privateHost(true).memlockLimit(Configuration.UNLIMITED).build());
  final Ioas ioas = iommufd.createIoas();
  final DeviceClock clock;
  private final List<EmulatedDevice> ports = new ArrayList<>();

  VirtioRig() {
    this(new VirtualClock());
  }

  VirtioRig(DeviceClock clock) {
    this.clock = clock;
  }

  /** One NIC and its driver. */
  record Nic(
      PciFunction function, VirtioNetDevice device, LegacyDriver driver, RecordingSink sink) {}

  Nic nic(NetBackend backend, VirtioNetDevice.Options options) {
    EmulatedDevice port = iommufd.createDevice(PciFunction.QEMU_INTEL_IOMMU);
    port.attach(ioas);
    ports.add(port);
    RecordingSink sink = new RecordingSink();
    PciFunction function =
        PciFunction.create(
            p -> new VirtioNetDevice(p, backend, options), DmaPort.of(port), clock, sink);
    MemorySegment memory = arena.allocate(MEMORY, 4096);
    long iova = ioas.mapFixed(0x100_0000L * ports.size(), memory, Protection.READ_WRITE).iova();
    return new Nic(
        function,
        (VirtioNetDevice) function.model(),
        new LegacyDriver(LegacyDriver.Access.of(function), memory, iova),
        sink);
  }

  Nic nic(NetBackend backend) {
    return nic(backend, VirtioNetDevice.Options.defaults());
  }

  /** Runs the devices until they are idle (virtual time only). */
  void settle() {
    ((VirtualClock) clock).runPending();
  }

  @Override
  public void close() {
    ports.forEach(EmulatedDevice::close);
    iommufd.close();
    arena.close();
  }
}
