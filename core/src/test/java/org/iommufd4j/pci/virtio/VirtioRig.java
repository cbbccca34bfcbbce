package org.iommufd4j.pci.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
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

  /** One NIC and its driver; {@code dma} counts the device's accesses. */
  record Nic(
      PciFunction function,
      VirtioNetDevice device,
      LegacyDriver driver,
      RecordingSink sink,
      CountingDma dma) {}

  /** A DMA port that counts the accesses it passes on. */
  static final class CountingDma implements DmaPort {
    private final DmaPort port;
    final AtomicLong reads = new AtomicLong();
    final AtomicLong writes = new AtomicLong();

    CountingDma(DmaPort port) {
      this.port = port;
    }

    @Override
    public void read(long iova, MemorySegment dst) {
      reads.incrementAndGet();
      port.read(iova, dst);
    }

    @Override
    public void write(long iova, MemorySegment src) {
      writes.incrementAndGet();
      port.write(iova, src);
    }

    long accesses() {
      return reads.get() + writes.get();
    }

    void clear() {
      reads.set(0);
      writes.set(0);
    }
  }

  Nic nic(NetBackend backend, VirtioNetDevice.Options options) {
    EmulatedDevice port = iommufd.createDevice(PciFunction.QEMU_INTEL_IOMMU);
    port.attach(ioas);
    ports.add(port);
    RecordingSink sink = new RecordingSink();
    CountingDma dma = new CountingDma(DmaPort.of(port));
    PciFunction function =
        PciFunction.create(p -> new VirtioNetDevice(p, backend, options), dma, clock, sink);
    MemorySegment memory = arena.allocate(MEMORY, 4096);
    long iova = ioas.mapFixed(0x100_0000L * ports.size(), memory, Protection.READ_WRITE).iova();
    return new Nic(
        function,
        (VirtioNetDevice) function.model(),
        new LegacyDriver(LegacyDriver.Access.of(function), memory, iova),
        sink,
        dma);
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
