package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code exec --device edu --record}, {@code replay} and {@code trace} with the edu probes {@link
 * EduProbeIT} runs: opens, ioctls, pread/pwrite, trapped loads and stores, mmaps, the factorial and
 * DMA timers with their DMA and interrupts, recorded and replayed without divergence; a recording
 * changed in a register's value, an interrupt or a DMA'd byte diverges there.
 */
class DeviceRecordReplayIT {
  @TempDir Path dir;

  private Path record(String probe) throws Exception {
    Path binary = EduProbeIT.build(probe);
    Path trace = dir.resolve(probe + ".jsonl");
    Path log = dir.resolve(probe + ".log");
    CliRun r =
        CliRun.of(
            "exec",
            "--device",
            "edu",
            "--record",
            trace.toString(),
            "--",
            "sh",
            "-c",
            "exec \"$0\" >" + log + " 2>&1",
            binary.toString());
    assertThat(r.status()).as("%s %s", r.err(), log).isZero();
    return trace;
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev", "edu_group"})
  void aRecordedEduProbeReplaysWithoutDivergence(String probe) throws Exception {
    Path trace = record(probe);
    List<String> lines = Files.readAllLines(trace);
    assertThat(lines.getFirst())
        .contains(
            "\"devices\":[{\"model\":\"edu\",\"bdf\":\"0000:00:04.0\",\"group\":0,\"cdev\":0,");
    assertThat(lines)
        .anyMatch(l -> l.startsWith("{\"type\":\"vfio-open\""))
        .anyMatch(l -> l.startsWith("{\"type\":\"mmap\""))
        .anyMatch(l -> l.contains("\"access\":\"load\""))
        .anyMatch(l -> l.contains("\"access\":\"store\""))
        .anyMatch(l -> l.contains("\"access\":\"pread\""))
        .anyMatch(l -> l.startsWith("{\"type\":\"timer\"") && l.contains("{\"op\":\"dma\""))
        .anyMatch(l -> l.contains("{\"op\":\"irq\""))
        .anyMatch(l -> l.contains("{\"op\":\"eventfd\""));
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).startsWith("no divergence: ").containsPattern("\\d+ device events");
  }

  @Test
  void theTracePrintsRegisterAccessesAndTheModelsWork() throws Exception {
    Path trace = record("edu_cdev");
    CliRun r = CliRun.of("trace", trace.toString());
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out())
        .contains("] open /dev/vfio/devices/vfio0 = file ")
        .contains("VFIO_DEVICE_BIND_IOMMUFD")
        .contains(", VFIO_DEVICE_GET_REGION_INFO, ")
        .contains("] load(dev 0000:00:04.0, BAR0+0x0, 4) = 4 [0x010000ed]")
        .contains(
            "] mmap(dev 0000:00:04.0, BAR0+0x0, 0x100000, PROT_READ|PROT_WRITE, MAP_SHARED) = 0")
        .contains("timer(dev 0000:00:04.0, 1) => dma from memory iova 0x")
        .containsPattern(
            "pwrite\\(dev 0000:00:04.0, BAR0\\+0x60, 4\\) = 4 \\[0x0+1\\] irq MSI\\[0\\]");
    CliRun loads = CliRun.of("trace", "-e", "trace=load", trace.toString());
    assertThat(loads.out().lines()).isNotEmpty().allMatch(l -> l.contains("] load(dev "));
  }

  @Test
  void aChangedRegisterValueIsReportedAtItsLoad() throws Exception {
    // edu's identification register, read through the mapping: 0x010000ed
    assertThat(
            replayTampered(
                l -> l.contains("\"access\":\"load\"") && l.contains("\"offset\":\"0x0\""),
                l -> l.replace("\"bytes\":\"ed000001\"", "\"bytes\":\"ee000001\"")))
        .containsPattern("divergence at load #\\d+ \\(BAR0\\+0x0 of 0000:00:04.0 on file \\d+\\)")
        .contains(": ee000001")
        .contains(": ed000001");
  }

  @Test
  void aMissingInterruptIsReportedAtTheAccessThatRaisedIt() throws Exception {
    // edu's interrupt raise register (0x60), written with pwrite while MSI is wired
    assertThat(
            replayTampered(
                l -> l.contains("\"access\":\"pwrite\"") && l.contains("{\"op\":\"irq\""),
                l -> l.replaceFirst(",\\{\"op\":\"irq\",\"index\":\\d+,\"vector\":\\d+\\}", "")))
        .containsPattern(
            "divergence at pwrite #\\d+ \\(BAR0\\+0x60 of 0000:00:04.0 on file \\d+\\)")
        .contains("interrupt")
        .contains("recorded: nothing")
        .contains("replayed: irq MSI[0]");
  }

  @Test
  void aChangedByteOfDmaIntoTheProgramIsReportedAtItsTimer() throws Exception {
    // the first DMA from edu's buffer into the program's memory writes the source's bytes back
    assertThat(
            replayTampered(
                l -> l.startsWith("{\"type\":\"timer\"") && l.contains("\"op\":\"write\""),
                l -> {
                  int b = l.indexOf("\"bytes\":\"", l.indexOf("{\"op\":\"write\"")) + 9;
                  return l.substring(0, b) + (l.charAt(b) == 'f' ? '0' : 'f') + l.substring(b + 1);
                }))
        .containsPattern("divergence at timer 1 of 0000:00:04.0 at \\d+ ns: memory written");
  }

  /**
   * The replay's report (it must fail) of an edu_cdev trace with its {@code which} line changed.
   */
  private String replayTampered(Predicate<String> which, UnaryOperator<String> change)
      throws Exception {
    Path trace = record("edu_cdev");
    tamper(trace, which, change);
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).as(r.out() + r.err()).isEqualTo(1);
    return r.out();
  }

  /** Changes the first line that {@code which} picks. */
  private static void tamper(Path trace, Predicate<String> which, UnaryOperator<String> change)
      throws Exception {
    List<String> lines = new ArrayList<>(Files.readAllLines(trace));
    for (int i = 0; i < lines.size(); i++) {
      if (which.test(lines.get(i))) {
        String changed = change.apply(lines.get(i));
        assertThat(changed).isNotEqualTo(lines.get(i));
        lines.set(i, changed);
        Files.write(trace, lines);
        return;
      }
    }
    throw new AssertionError("no line to change in " + trace);
  }
}
