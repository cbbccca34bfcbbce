package org.iommufd4j.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.iommufd4j.Configuration;
import org.iommufd4j.DomainModel;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IovaRange;
import org.iommufd4j.Protection;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;

/**
 * The state {@code inspect} shows when given no source: built on the embedded emulator (own host,
 * so the pins and charges are only its own) through the typed API and, for what only the test ABI
 * reaches, {@code IOMMU_TEST_CMD}.
 *
 * <ul>
 *   <li>IOAS 1 with a selftest-mock device and a VT-d-like device attached (two automatic HWPTs,
 *       overlapping reserved ranges: two aperture complements and the MSI window), a 64 KiB
 *       automatic mapping, a 2 MiB fixed one and a 4 KiB read-only one at the top of the mock
 *       aperture;
 *   <li>IOAS 2 restricted to two allowed ranges, with a test reserved range, a COPY of the 64 KiB
 *       mapping (same page source), a 1 MiB read-only mapping, and an access pinning 8 KiB.
 * </ul>
 */
final class InspectExample {
  private InspectExample() {}

  static Snapshot take() {
    Configuration config = Configuration.builder().privateHost(true).build();
    try (Iommufd iommufd = Iommufd.emulated(config);
        Arena arena = Arena.ofConfined()) {
      MemorySegment buffer = arena.allocate(4 << 20, 2 << 20);
      buffer.fill((byte) 0); // touch it: pinning needs the pages to exist

      Ioas dma = iommufd.createIoas();
      EmulatedDevice mock = iommufd.createDevice(DomainModel.selftestMock());
      mock.attach(dma);
      EmulatedDevice nic = iommufd.createDevice(DomainModel.vtd());
      nic.attach(dma);
      var ring = dma.map(buffer.asSlice(0, 64 << 10), Protection.READ_WRITE);
      dma.mapFixed(0x4000_0000L, buffer.asSlice(2 << 20, 2 << 20), Protection.READ_WRITE);
      dma.mapFixed(0x7fff_f000L, buffer.asSlice(64 << 10, 4096), Protection.READ);

      Ioas guest = iommufd.createIoas();
      guest.allowIovas(
          List.of(
              new IovaRange(0x1_0000_0000L, 0x1_ffff_ffffL),
              new IovaRange(0x80_0000_0000L, 0x80_3fff_ffffL)));
      MemorySegment cmd = arena.allocate(IommuTestCmd.SIZE, 8);
      testCmd(iommufd, cmd, IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED, guest.id());
      cmd.set(ValueLayout.JAVA_LONG, IommuTestCmd.ADD_RESERVED_START, 0x40_0000_0000L);
      cmd.set(ValueLayout.JAVA_LONG, IommuTestCmd.ADD_RESERVED_LENGTH, 16L << 20);
      issue(iommufd, cmd);
      var copy = guest.copy(dma, ring.iova(), ring.length(), Protection.READ_WRITE);
      guest.map(buffer.asSlice(1 << 20, 1 << 20), Protection.READ);

      testCmd(iommufd, cmd, IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, guest.id());
      cmd.set(
          ValueLayout.JAVA_INT,
          IommuTestCmd.CREATE_ACCESS_FLAGS,
          IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
      issue(iommufd, cmd);
      int accessFd = cmd.get(ValueLayout.JAVA_INT, IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD);
      testCmd(iommufd, cmd, IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES, accessFd);
      cmd.set(ValueLayout.JAVA_LONG, IommuTestCmd.ACCESS_PAGES_IOVA, copy.iova());
      cmd.set(ValueLayout.JAVA_LONG, IommuTestCmd.ACCESS_PAGES_LENGTH, 8192);
      cmd.set(ValueLayout.JAVA_LONG, IommuTestCmd.ACCESS_PAGES_UPTR, buffer.address());
      issue(iommufd, cmd);

      Snapshot snapshot = iommufd.inspect();
      iommufd.closeFd(accessFd);
      mock.close();
      nic.close();
      return snapshot;
    }
  }

  private static void testCmd(Iommufd iommufd, MemorySegment cmd, int op, int id) {
    cmd.fill((byte) 0);
    cmd.set(ValueLayout.JAVA_INT, 0, IommuTestCmd.SIZE);
    cmd.set(ValueLayout.JAVA_INT, IommuTestCmd.OP, op);
    cmd.set(ValueLayout.JAVA_INT, IommuTestCmd.ID, id);
  }

  private static void issue(Iommufd iommufd, MemorySegment cmd) {
    int rc = iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), cmd);
    if (rc != 0) {
      throw new IllegalStateException(
          "IOMMU_TEST_CMD op " + cmd.get(ValueLayout.JAVA_INT, IommuTestCmd.OP) + " failed: " + rc);
    }
  }
}
