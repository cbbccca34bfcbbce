package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A whole real stack: Debian's QEMU 7.2 boots Debian's kernel (TCG) with the emulated NVMe passed
 * through by vfio-pci; the guest's own nvme driver probes it, creates its I/O queue with MSI-X, and
 * the initramfs writes a pattern to /dev/nvme0n1 and reads it back ({@code
 * cli/src/test/resources/nvme-guest.sh}). The packages come from {@code scripts/test-programs.sh}
 * (which {@code ./test.sh} sources); skipped, with the reason, without them. About 20 s on an idle
 * machine, up to a minute on two loaded cores.
 */
class NvmeGuestIT {
  private static final Path SCRIPT = Path.of("src/test/resources/nvme-guest.sh").toAbsolutePath();

  private static final Path GUEST =
      Path.of(System.getProperty("user.home"), ".cache/iommufd4j/nvme-guest");

  /** What the guest writes at byte 4096 of the namespace (see the script). */
  private static final byte[] PATTERN =
      "IOMMUFD4J-NVME-GUEST-PATTERN "
          .repeat(142)
          .substring(0, 4096)
          .getBytes(StandardCharsets.UTF_8);

  /** iommufd cannot pin BAR memory that QEMU maps into the container for peer-to-peer DMA. */
  private static final String P2P_REFUSED = "VFIO_MAP_DMA failed: Bad address";

  /** QEMU's follow-up line for a refused mapping: container, IOVA, size, address. */
  private static final Pattern DMA_MAP =
      Pattern.compile("vfio_dma_map\\(0x[0-9a-f]+, 0x([0-9a-f]+), 0x[0-9a-f]+, 0x[0-9a-f]+\\)");

  private static boolean outsideGuestRam(String complaint) {
    Matcher m = DMA_MAP.matcher(complaint);
    return m.find() && Long.parseUnsignedLong(m.group(1), 16) >= 256L << 20;
  }

  /** Boots the guest on an NVMe over {@code backing}; {@code options} go to {@code exec}. */
  private static CliRun runGuest(Path backing, Path console, String... options) {
    List<String> args =
        new ArrayList<>(List.of("exec", "--device", "nvme,backing=" + backing + ",size=64M"));
    args.addAll(List.of(options));
    args.addAll(
        List.of(
            "--",
            "sh",
            SCRIPT.toString(),
            "run",
            GUEST.toString(),
            "0000:00:04.0",
            console.toString(),
            "300"));
    return CliRun.of(args.toArray(String[]::new));
  }

  @BeforeAll
  static void qemuAndTheGuestAreThere() throws Exception {
    ThirdParty.assumeInstalled("qemu-system-x86_64", "qemu-system-x86");
    boolean kernel;
    try (var boot = Files.list(GUEST.resolve("root/boot"))) {
      kernel = boot.anyMatch(p -> p.getFileName().toString().startsWith("vmlinuz-"));
    } catch (java.io.IOException e) {
      kernel = false;
    }
    Assumptions.assumeTrue(
        kernel && Files.isExecutable(GUEST.resolve("root/bin/busybox")),
        "no guest in "
            + GUEST
            + " (scripts/test-programs.sh downloads linux-image-amd64 and"
            + " busybox-static there)");
  }

  @Test
  void theGuestsNvmeDriverWritesAndReadsBackThroughTheEmulatedController() throws Exception {
    Path backing = Files.createTempFile("nvme-guest", ".img");
    Path console = Files.createTempFile("nvme-guest", ".txt");
    try {
      CliRun run = runGuest(backing, console);
      String out = Files.readString(console);
      assertThat(run.status()).as("%s%n%s", run.err(), out).isZero();
      assertThat(out).as(out).contains("NVME-GUEST: ok");
      // the driver set up its admin and I/O queue, each with its own MSI-X vector
      assertThat(out)
          .as(out)
          .contains("nvme nvme0: 1/0/0 default/read/poll queues")
          .containsPattern("PCI-MSI +\\d+-edge +nvme0q0")
          .containsPattern("PCI-MSI +\\d+-edge +nvme0q1");
      // the driver's messages are those for QEMU's own NVMe (Linux quirks its PCI id 1b36:0010)
      assertThat(
              out.lines()
                  .filter(l -> l.contains("nvme nvme0:"))
                  .map(l -> l.replaceFirst("^\\[ *[0-9.]+\\] ", "")))
          .as(out)
          .containsExactlyInAnyOrder(
              "nvme nvme0: pci function 0000:00:01.0",
              "nvme nvme0: 1/0/0 default/read/poll queues",
              "nvme nvme0: Ignoring bogus Namespace Identifiers");
      // QEMU's only complaints: BAR0's mmaps (outside the guest's 256 MiB of RAM) cannot be
      // mapped for peer-to-peer DMA, as on the real kernel
      assertThat(out.lines().filter(l -> l.startsWith("qemu-system-x86_64:")).distinct())
          .as(out)
          .allMatch(l -> l.endsWith(P2P_REFUSED) || outsideGuestRam(l), "is a refused BAR mapping");
      byte[] written = new byte[PATTERN.length];
      try (RandomAccessFile file = new RandomAccessFile(backing.toFile(), "r")) {
        assertThat(file.length()).isEqualTo(64L << 20);
        file.seek(4096);
        file.readFully(written);
      }
      assertThat(new String(written, StandardCharsets.UTF_8))
          .isEqualTo(new String(PATTERN, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(backing);
      Files.deleteIfExists(console);
    }
  }

  @Test
  void aRecordedGuestRunReplaysWithoutDivergence() throws Exception {
    Path backing = Files.createTempFile("nvme-guest", ".img");
    Path console = Files.createTempFile("nvme-guest", ".txt");
    Path trace = Files.createTempFile("nvme-guest", ".jsonl");
    try {
      CliRun run = runGuest(backing, console, "--record", trace.toString());
      String out = Files.readString(console);
      assertThat(run.status()).as("%s%n%s", run.err(), out).isZero();
      assertThat(out).as(out).contains("NVME-GUEST: ok");
      // the header keeps the file's path and size; the replay uses a namespace in memory instead
      assertThat(Files.readAllLines(trace).getFirst())
          .contains("\"backing\":\"" + backing + "\"", "\"size\":\"67108864\"");
      CliRun replay = CliRun.of("replay", trace.toString());
      assertThat(replay.status()).as(replay.out() + replay.err()).isZero();
      assertThat(replay.out()).startsWith("no divergence: ");
    } finally {
      Files.deleteIfExists(backing);
      Files.deleteIfExists(console);
      Files.deleteIfExists(trace);
    }
  }
}
