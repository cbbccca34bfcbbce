package org.iommufd4j.bench;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.function.LongSupplier;
import org.iommufd4j.EmulatedMachine;
import org.iommufd4j.Iommufd;
import org.iommufd4j.VfioDevice;
import org.iommufd4j.VfioRegion;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Vfio;

/**
 * What the typed VFIO API adds to a BAR read in process: edu's id register through {@link
 * VfioRegion#readInt} and through the raw {@link EmulatedMachine#pread}, in this thread's CPU time,
 * the two taking turns round after round so that a change of load hits both. Prints CPU nanoseconds
 * per read and the ratio. Run: {@code java --enable-native-access=ALL-UNNAMED -cp
 * bench/target/benchmarks.jar org.iommufd4j.bench.TypedVfioRatio [rounds]}.
 */
public final class TypedVfioRatio {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int BATCH = 200_000;
  private static final int WARM_UP_ROUNDS = 2;
  private static final long CONFIG = (long) VfioRegion.CONFIG << 40; // vfio-pci: index << 40

  private TypedVfioRatio() {}

  private static long cpuOf(LongSupplier read) {
    long sink = 0;
    long start = THREADS.getCurrentThreadCpuTime();
    for (int i = 0; i < BATCH; i++) {
      sink += read.getAsLong();
    }
    long cpu = THREADS.getCurrentThreadCpuTime() - start;
    if (sink == 42) {
      System.out.print("");
    }
    return cpu;
  }

  public static void main(String[] args) {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
    try (EmulatedMachine typedMachine = EmulatedMachine.withDevices(EduDevice::new);
        Iommufd iommufd = typedMachine.openIommufd();
        VfioDevice edu = typedMachine.openDevice("0000:00:04.0");
        EmulatedMachine rawMachine = EmulatedMachine.withDevices(EduDevice::new);
        Arena arena = Arena.ofConfined()) {
      edu.bind(iommufd);
      edu.region(VfioRegion.CONFIG).writeShort(0x04, (short) 0x2); // memory decoding
      VfioRegion bar0 = edu.region(0);

      int device = rawMachine.open("/dev/vfio/devices/vfio0");
      MemorySegment bind = arena.allocate(16, 8);
      bind.set(JAVA_INT, 0, 16);
      bind.set(JAVA_INT, 8, rawMachine.open("/dev/iommu"));
      rawMachine.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, bind);
      MemorySegment command = arena.allocate(JAVA_SHORT);
      command.set(JAVA_SHORT, 0, (short) 0x2);
      rawMachine.pwrite(device, command, CONFIG + 0x04);
      MemorySegment id = arena.allocate(JAVA_INT);

      long typed = 0;
      long raw = 0;
      for (int round = 0; round < WARM_UP_ROUNDS + rounds; round++) {
        long t = cpuOf(() -> bar0.readInt(0));
        long r = cpuOf(() -> rawMachine.pread(device, id, 0));
        if (round >= WARM_UP_ROUNDS) {
          typed += t;
          raw += r;
        }
      }
      double reads = (double) rounds * BATCH;
      System.out.printf(
          "typed VfioRegion.readInt: %.0f ns CPU per read%n"
              + "raw EmulatedMachine.pread: %.0f ns CPU per read%n"
              + "typed / raw: %.2f (%d rounds of %d)%n",
          typed / reads, raw / reads, (double) typed / raw, rounds, BATCH);
    }
  }
}
