package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Debian's QEMU 7.2, unmodified, passes the emulated edu through with {@code -device
 * vfio-pci,host=0000:00:04.0}: it finds the device in sysfs, opens its group and a {@code
 * /dev/vfio/vfio} container, maps guest RAM with MAP_DMA, reads config space, maps BAR0 and sets up
 * INTx, and the guest's firmware then gives the BAR an address. Installed by {@code
 * scripts/test-programs.sh} (which {@code ./test.sh} sources); skipped, with the reason, without
 * it.
 */
class QemuVfioIT {
  /**
   * What QEMU says on the real kernel too: edu has no reset method (GET_INFO without
   * VFIO_DEVICE_FLAGS_RESET), and the firmware's BAR placement makes QEMU map the BAR's own mmap
   * into the container for peer-to-peer DMA, which iommufd cannot pin (EFAULT; QEMU goes on).
   */
  private static final List<String> EXPECTED =
      List.of(
          "vfio: Cannot reset device 0000:00:04.0, no available reset mechanism.",
          "= -14 (Bad address)");

  private static final Path SCRIPT = Path.of("src/test/resources/qemu-vfio.sh").toAbsolutePath();

  @BeforeAll
  static void qemuIsInstalled() {
    boolean found =
        Path.of("/usr/bin/qemu-system-x86_64").toFile().canExecute()
            || Path.of("/usr/local/bin/qemu-system-x86_64").toFile().canExecute();
    Assumptions.assumeTrue(
        found,
        "qemu-system-x86_64 is not installed (scripts/test-programs.sh installs it as root)");
  }

  @Test
  void qemuRealisesTheEmulatedEduAndTheGuestFirmwarePlacesItsBar() throws Exception {
    Path monitor = Files.createTempFile("qemu-monitor", ".txt");
    try {
      StringWriter err = new StringWriter();
      picocli.CommandLine cl = Main.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int status =
          cl.execute(
              "exec",
              "--device",
              "edu",
              "--",
              "sh",
              SCRIPT.toString(),
              "0000:00:04.0",
              monitor.toString(),
              "90");
      String out = Files.readString(monitor);
      assertThat(status).as("%s%n%s", err, out).isZero();
      assertThat(out)
          .as(out)
          .contains("PCI device 1234:11e8")
          .containsPattern("BAR0: 32 bit memory at 0x(?!ffffffffffffffff)[0-9a-f]+ ")
          .contains("(prio 0, ramd): 0000:00:04.0 BAR 0 mmaps[0]");
      List<String> complaints =
          out.lines().filter(l -> l.contains("qemu-system-x86_64:")).distinct().toList();
      assertThat(complaints)
          .as(out)
          .allMatch(l -> EXPECTED.stream().anyMatch(l::contains), "is one the real kernel gives");
    } finally {
      Files.deleteIfExists(monitor);
    }
  }
}
