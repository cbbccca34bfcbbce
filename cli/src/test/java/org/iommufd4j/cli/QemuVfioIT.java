package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
   * What QEMU says on the real kernel too: edu has no reset method (no VFIO_DEVICE_FLAGS_RESET).
   */
  private static final String NO_RESET =
      "vfio: Cannot reset device 0000:00:04.0, no available reset mechanism.";

  /**
   * The other: once the firmware places the BAR, QEMU maps the BAR's own mmap into the container
   * for peer-to-peer DMA, which iommufd cannot pin (EFAULT, a VM_PFNMAP on the kernel); QEMU goes
   * on.
   */
  private static final String P2P_REFUSED = "VFIO_MAP_DMA failed: Bad address";

  /** {@code info pci}'s BAR0 line once the firmware placed it (not all ones). */
  private static final Pattern BAR0 =
      Pattern.compile("BAR0: 32 bit memory at 0x(?!ffffffffffffffff)([0-9a-f]+) ");

  private static final Path SCRIPT = Path.of("src/test/resources/qemu-vfio.sh").toAbsolutePath();

  @BeforeAll
  static void qemuIsInstalled() {
    ThirdParty.assumeInstalled("qemu-system-x86_64", "qemu-system-x86");
  }

  @Test
  void qemuRealisesTheEmulatedEduAndTheGuestFirmwarePlacesItsBar() throws Exception {
    Path monitor = Files.createTempFile("qemu-monitor", ".txt");
    try {
      CliRun run =
          CliRun.of(
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
      assertThat(run.status()).as("%s%n%s", run.err(), out).isZero();
      assertThat(out).as(out).contains("PCI device 1234:11e8");
      Matcher bar = BAR0.matcher(out);
      assertThat(bar.find()).as("the firmware placed BAR0:%n%s", out).isTrue();
      String base = bar.group(1);
      assertThat(out) // QEMU maps the BAR's mmap straight into the guest (info mtree -f)
          .containsPattern(
              "0*" + base + "-[0-9a-f]+ \\(prio 0, ramd\\): 0000:00:04\\.0 BAR 0 mmaps\\[0\\]");
      // Only the BAR's own peer-to-peer mapping may fail: guest RAM is mapped
      String barMapping = "vfio_dma_map\\(0x[0-9a-f]+, 0x" + base.replaceFirst("^0+", "") + ", ";
      List<String> complaints =
          out.lines()
              .filter(l -> l.contains("qemu-system-x86_64:"))
              .map(l -> l.replaceFirst("^\\(qemu\\) ", ""))
              .distinct()
              .toList();
      assertThat(complaints)
          .as(out)
          .allMatch(
              l ->
                  l.endsWith(NO_RESET)
                      || l.endsWith(P2P_REFUSED)
                      || l.matches(".*" + barMapping + ".*"),
              "is what the real kernel makes QEMU say");
    } finally {
      Files.deleteIfExists(monitor);
    }
  }
}
