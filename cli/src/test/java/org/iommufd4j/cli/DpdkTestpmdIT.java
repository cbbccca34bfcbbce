package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Debian's {@code dpdk-testpmd} 22.11, unmodified, forwards packets between two emulated virtio-net
 * NICs wired back to back: EAL finds both in sysfs, opens their groups and a {@code /dev/vfio/vfio}
 * container, maps its memory with MAP_DMA, and the virtio PMD drives the legacy I/O BAR with
 * pread/pwrite on the device fds. Installed by {@code scripts/test-programs.sh} (which {@code
 * ./test.sh} sources); skipped, with the reason, without it.
 */
class DpdkTestpmdIT {
  /** testpmd's first burst on each port with {@code --tx-first}: these packets circulate. */
  private static final int FIRST_BURST = 32;

  private static final Path SCRIPT = Path.of("src/test/resources/testpmd-pair.sh").toAbsolutePath();

  private static final Pattern PORT_STATISTICS =
      Pattern.compile(
          "Forward statistics for port (\\d)\\s+-+\\s+"
              + "RX-packets: (\\d+)\\s+RX-dropped: (\\d+)\\s+RX-total: \\d+\\s+"
              + "TX-packets: (\\d+)\\s+TX-dropped: (\\d+)");

  @BeforeAll
  static void testpmdIsInstalled() {
    ThirdParty.assumeInstalled("dpdk-testpmd", "dpdk-dev");
  }

  @Test
  void packetsSentFirstCirculateBetweenTwoPortsWithoutLoss() throws Exception {
    Path output = Files.createTempFile("testpmd", ".txt");
    try {
      StringWriter err = new StringWriter();
      picocli.CommandLine cl = Main.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int status =
          cl.execute(
              "exec",
              "--device",
              "virtio-net@0000:00:04.0,backend=pair",
              "--device",
              "virtio-net@0000:00:05.0,backend=pair",
              "--",
              "sh",
              SCRIPT.toString(),
              output.toString(),
              "20");
      String out = Files.readString(output);
      assertThat(status).as("%s%n%s", err, out).isZero();
      assertThat(out).as(out).contains("Port 0 Link up", "Port 1 Link up");

      long[] rx = new long[2];
      long[] tx = new long[2];
      Matcher port = PORT_STATISTICS.matcher(out);
      int ports = 0;
      while (port.find()) {
        int p = Integer.parseInt(port.group(1));
        rx[p] = Long.parseLong(port.group(2));
        tx[p] = Long.parseLong(port.group(4));
        assertThat(port.group(3)).as("RX-dropped on port %d%n%s", p, out).isEqualTo("0");
        assertThat(port.group(5)).as("TX-dropped on port %d%n%s", p, out).isEqualTo("0");
        ports++;
      }
      assertThat(ports).as(out).isEqualTo(2);
      assertThat(out).as(out).doesNotContainPattern("(RX|TX)-errors: +[1-9]");
      // Far more than the first bursts went round, and what each port received its peer sent
      for (int p = 0; p < 2; p++) {
        assertThat(rx[p]).as(out).isGreaterThan(10L * FIRST_BURST);
        assertThat(tx[1 - p] - rx[p]).as("in flight towards port %d%n%s", p, out).isNotNegative();
      }
      // Nothing was lost: all sent but the two first bursts, still in flight, came back
      assertThat(tx[0] + tx[1] - rx[0] - rx[1]).as(out).isEqualTo(2L * FIRST_BURST);
    } finally {
      Files.deleteIfExists(output);
    }
  }

  @Test
  void aRecordedRunReplaysWithoutDivergence() throws Exception {
    Path dir = Files.createTempDirectory("testpmd-record");
    try {
      Path trace = dir.resolve("testpmd.jsonl");
      Path output = dir.resolve("testpmd.txt");
      CliRun run =
          CliRun.of(
              "exec",
              "--device",
              "virtio-net@0000:00:04.0,backend=pair",
              "--device",
              "virtio-net@0000:00:05.0,backend=pair",
              "--record",
              trace.toString(),
              "--",
              "sh",
              SCRIPT.toString(),
              output.toString(),
              "10");
      String out = Files.readString(output);
      assertThat(run.status()).as("%s%n%s", run.err(), out).isZero();
      assertThat(out).as(out).contains("Port 0 Link up", "Port 1 Link up");
      // the NICs' pollers moved frames between them, reading the rings testpmd's threads fill
      assertThat(Files.readString(trace)).contains("\"type\":\"timer\"", "\"op\":\"dma\"");
      CliRun replay = CliRun.of("replay", trace.toString());
      assertThat(replay.status()).as(replay.out() + replay.err()).isZero();
      assertThat(replay.out()).startsWith("no divergence: ");
    } finally {
      try (var files = Files.list(dir)) {
        for (Path f : files.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(dir);
    }
  }
}
