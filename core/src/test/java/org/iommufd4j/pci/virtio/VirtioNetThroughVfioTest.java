package org.iommufd4j.pci.virtio;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.EmulatedMachine;
import org.iommufd4j.MachineCalls;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Two NICs wired as a pair on an emulated machine, driven the way DPDK's legacy virtio path drives
 * them: {@code pread}/{@code pwrite} of the I/O BAR's VFIO region on the device file (the MAC in
 * one 6-byte read), config space through the config region, rings in memory mapped with IOAS_MAP,
 * the device's timers on real time.
 */
class VirtioNetThroughVfioTest {
  private static final long CONFIG_REGION = 7L << 40;
  private static final long RING_IOVA = 0x100_0000L;

  private final Arena arena = Arena.ofShared();
  private final NetBackend.Pair wire = NetBackend.pair();
  private final EmulatedMachine machine =
      EmulatedMachine.withDevices(
          p -> new VirtioNetDevice(p, wire.left(), VirtioNetDevice.Options.defaults()),
          p ->
              new VirtioNetDevice(
                  p,
                  wire.right(),
                  new VirtioNetDevice.Options(
                      VirtioNetDevice.Options.parseMac("52:54:00:12:34:57"), 1, true, true)));

  @AfterEach
  void close() {
    machine.close();
    arena.close();
  }

  /** Register and config accesses as preads and pwrites on the device file. */
  private LegacyDriver.Access access(int fd) {
    return new LegacyDriver.Access() {
      @Override
      public long read(int bar, long offset, int size) {
        MemorySegment v = arena.allocate(8, 8);
        assertThat(machine.pread(fd, v.asSlice(0, size), ((long) bar << 40) + offset))
            .isEqualTo(size);
        return v.get(JAVA_LONG, 0);
      }

      @Override
      public void write(int bar, long offset, int size, long value) {
        MemorySegment v = arena.allocate(8, 8);
        v.set(JAVA_LONG, 0, value);
        assertThat(machine.pwrite(fd, v.asSlice(0, size), ((long) bar << 40) + offset))
            .isEqualTo(size);
      }

      @Override
      public int configRead(int offset, int size) {
        return (int) read(7, offset, size);
      }

      @Override
      public void configWrite(int offset, int size, int value) {
        write(7, offset, size, value);
      }
    };
  }

  private MemorySegment words(int... values) {
    MemorySegment s = arena.allocate(64, 8);
    for (int i = 0; i < values.length; i++) {
      s.setAtIndex(JAVA_INT, i, values[i]);
    }
    return s;
  }

  /** A device file and the driver on it. */
  private record Nic(int fd, LegacyDriver driver) {}

  /** Opens cdev {@code index}, binds it, attaches it to a new IOAS and maps driver memory. */
  private Nic open(int index, int iommufd) {
    int device = machine.open("/dev/vfio/devices/vfio" + index);
    machine.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, words(16, 0, iommufd, 0));
    MemorySegment alloc = words(IommuIoasAlloc.SIZE, 0, 0);
    machine.ioctl(iommufd, Command.IOMMU_IOAS_ALLOC.request(), alloc);
    int ioas = alloc.get(JAVA_INT, (int) IommuIoasAlloc.OUT_IOAS_ID);
    machine.ioctl(device, Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT, words(12, 0, ioas));
    MemorySegment memory = arena.allocate(VirtioRig.MEMORY, 4096);
    MachineCalls.mapFixed(machine, arena, iommufd, ioas, memory, RING_IOVA);
    assertThat(access(device).configRead(0x00, 4)).isEqualTo(0x1000_1af4);
    return new Nic(device, new LegacyDriver(access(device), memory, RING_IOVA));
  }

  @Test
  void framesCrossThePairThroughTheDeviceFilesIoBar() throws InterruptedException {
    int iommufd = machine.open("/dev/iommu");
    Nic nicA = open(0, iommufd);
    Nic nicB = open(1, iommufd);
    LegacyDriver a = nicA.driver();
    LegacyDriver b = nicB.driver();
    // MSI-X stays off: vfio-pci enables it only through SET_IRQS, which needs eventfds that the
    // emulated machine cannot make yet; the device configuration is at 0x14 then
    a.init(-1, 3);
    b.init(-1, 3);
    assertThat(macOf(nicA)).isEqualTo(new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, 0x56});
    assertThat(macOf(nicB)).isEqualTo(new byte[] {0x52, 0x54, 0x00, 0x12, 0x34, 0x57});
    for (int i = 0; i < 32; i++) {
      b.giveBuffer(0, 2048);
    }
    b.notify(0);
    SplittableRandom random = new SplittableRandom(99);
    List<byte[]> sent = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      sent.add(VirtioNetTrafficTest.frame(random, 14 + random.nextInt(1501)));
      a.send(1, sent.get(i));
    }
    a.notify(1);
    List<byte[]> received = new ArrayList<>();
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (received.size() < sent.size() && System.nanoTime() < deadline) {
      received.addAll(b.receive(0));
      Thread.sleep(1);
    }
    assertThat(received).containsExactlyElementsOf(sent);
    assertThat(machine.inspect(iommufd).toTable())
        .as("inspect's VFIO devices show each NIC's MAC and link")
        .contains("mac 52:54:00:12:34:56, link up", "mac 52:54:00:12:34:57, link up");
  }

  /** The MAC in one 6-byte read of the device configuration, as DPDK reads it. */
  private byte[] macOf(Nic nic) {
    MemorySegment mac = arena.allocate(6);
    assertThat(machine.pread(nic.fd(), mac, nic.driver().configOffset())).isEqualTo(6);
    return mac.toArray(JAVA_BYTE);
  }
}
