package org.iommufd4j.cli;

import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.iommufd4j.DomainModel;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.IommuFaultException;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IommufdException;
import org.iommufd4j.IovaRange;
import org.iommufd4j.Mapping;
import org.iommufd4j.Protection;
import org.iommufd4j.uapi.IommuIoasMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * A short tour of the embedded emulator: the typed API and the byte ABI on one context, with the
 * errors a real kernel gives.
 */
@Command(name = "demo", description = "Run a short tour of the embedded emulator.")
final class DemoCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    PrintWriter out =
        spec == null ? new PrintWriter(System.out, true) : spec.commandLine().getOut();
    try (Iommufd iommufd = Iommufd.emulated();
        Arena arena = Arena.ofConfined()) {
      out.println("iommufd4j demo: an emulated /dev/iommu (Linux 6.12 behaviour) in this JVM");
      out.println();
      Ioas ioas = iommufd.createIoas();
      out.printf("IOMMU_IOAS_ALLOC             -> ioas id %d%n", ioas.id());
      out.printf(
          "IOMMU_IOAS_IOVA_RANGES       -> %s, alignment %d%n",
          ioas.iovaRanges().ranges(), ioas.iovaRanges().alignment());

      MemorySegment buffer = arena.allocate(1 << 20, 1 << 20);
      Mapping a = ioas.map(buffer.asSlice(0, 4096), Protection.READ_WRITE);
      Mapping b = ioas.map(buffer.asSlice(0, 3 * 4096), Protection.READ);
      out.printf("IOMMU_IOAS_MAP 4 KiB         -> %s (first fit)%n", a);
      out.printf("IOMMU_IOAS_MAP 12 KiB        -> %s (aligned to 16 KiB)%n", b);
      Mapping fixed = ioas.mapFixed(0x100000, buffer, Protection.READ_WRITE);
      out.printf("IOMMU_IOAS_MAP FIXED_IOVA    -> %s%n", fixed);
      attempt(
          out,
          "IOMMU_IOAS_MAP FIXED overlap ",
          () -> ioas.mapFixed(0x100000, buffer, Protection.READ));

      Ioas second = iommufd.createIoas();
      Mapping copy = second.copy(ioas, 0x100000 + 0x1000, 0x2000, Protection.READ);
      out.printf("IOMMU_IOAS_COPY into ioas %d  -> %s (shares the pages)%n", second.id(), copy);
      attempt(
          out,
          "IOMMU_IOAS_COPY WRITE of RO  ",
          () -> second.copy(ioas, b.iova(), 4096, Protection.READ_WRITE));

      second.allowIovas(List.of(new IovaRange(0x4000_0000L, 0x7fff_ffffL)));
      out.printf(
          "IOMMU_IOAS_ALLOW_IOVAS       -> automatic IOVAs now from 0x40000000: %s%n",
          second.map(buffer.asSlice(0, 4096), Protection.READ));

      attempt(out, "IOMMU_IOAS_UNMAP part of one ", () -> ioas.unmap(0x100000, 0x1000));
      out.printf("IOMMU_IOAS_UNMAP superset    -> %d bytes unmapped%n", ioas.unmap(0, 0x200000));
      out.printf("IOMMU_DESTROY while in use?  -> %s%n", destroyResult(iommufd, second.id()));

      rawMap(out, iommufd, arena, ioas.id(), buffer);
      device(out, iommufd, arena, ioas, buffer);
      out.println();
      out.println("The state now (./run.sh inspect shows more, also as --json or --svg):");
      out.println(iommufd.inspect().toTable());
      out.println("Every step above went through the same engine the byte ABI uses;");
      out.println("run ./test.sh for the conformance suite.");
    }
  }

  /** An emulated device behind a VT-d-like IOMMU: its DMA lands in this process's buffer. */
  private static void device(
      PrintWriter out, Iommufd iommufd, Arena arena, Ioas ioas, MemorySegment buffer) {
    EmulatedDevice nic = iommufd.createDevice(DomainModel.vtd());
    nic.attach(ioas);
    out.printf(
        "EmulatedDevice(vtd).attach   -> hwpt %d; IOVA ranges now %s%n",
        nic.hwptId(), ioas.iovaRanges().ranges());
    Mapping ring = ioas.mapFixed(0x4000_0000L, buffer.asSlice(0, 1 << 16), Protection.READ_WRITE);
    MemorySegment packet = arena.allocateFrom("hello from the device");
    nic.dmaWrite(ring.iova() + 64, packet);
    out.printf(
        "device DMA write at 0x%x   -> buffer[64..] = \"%s\"%n",
        ring.iova() + 64, buffer.getString(64));
    try {
      nic.dmaRead(0xdead_0000L, arena.allocate(8));
    } catch (IommuFaultException f) {
      out.printf("device DMA read at 0x%x  -> IOMMU fault %s%n", f.iova(), f.reason());
    }
  }

  private static String destroyResult(Iommufd iommufd, int id) {
    try {
      iommufd.destroy(id);
      return "destroyed (mappings do not pin an IOAS)";
    } catch (IommufdException e) {
      return e.errno().name();
    }
  }

  /** The same MAP through the byte ABI, as a C program would issue it. */
  private static void rawMap(
      PrintWriter out, Iommufd iommufd, Arena arena, int ioasId, MemorySegment buffer) {
    MemorySegment arg = arena.allocate(IommuIoasMap.SIZE, 8);
    arg.set(ValueLayout.JAVA_INT, 0, IommuIoasMap.SIZE);
    arg.set(ValueLayout.JAVA_INT, IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_READABLE);
    arg.set(ValueLayout.JAVA_INT, IommuIoasMap.IOAS_ID, ioasId);
    arg.set(ValueLayout.JAVA_LONG, IommuIoasMap.USER_VA, buffer.address());
    arg.set(ValueLayout.JAVA_LONG, IommuIoasMap.LENGTH, 1 << 20);
    int rc = iommufd.ioctl(org.iommufd4j.uapi.Command.IOMMU_IOAS_MAP.request(), arg);
    out.printf(
        "ioctl(IOMMU_IOAS_MAP, 1 MiB)  -> %d, iova=0x%x (raw bytes, same engine)%n",
        rc, arg.get(ValueLayout.JAVA_LONG, IommuIoasMap.IOVA));
    arg.set(ValueLayout.JAVA_INT, IommuIoasMap.RESERVED, 1);
    out.printf(
        "ioctl(IOMMU_IOAS_MAP, __reserved=1) -> %d (-EOPNOTSUPP)%n",
        iommufd.ioctl(org.iommufd4j.uapi.Command.IOMMU_IOAS_MAP.request(), arg));
  }

  private static void attempt(PrintWriter out, String label, Runnable action) {
    try {
      action.run();
      out.printf("%s -> succeeded%n", label);
    } catch (IommufdException e) {
      out.printf("%s -> %s (%s)%n", label, e.errno(), e.detail());
    }
  }
}
