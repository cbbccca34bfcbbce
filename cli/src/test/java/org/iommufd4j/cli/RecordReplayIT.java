package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.iommufd4j.bridge.BridgeConfig;
import org.iommufd4j.bridge.BridgeServer;
import org.iommufd4j.bridge.Shim;
import org.iommufd4j.inspect.Json;
import org.iommufd4j.trace.Trace;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code exec --record}, {@code replay}, {@code exec --inspect-at-exit}, {@code inspect --trace}
 * and {@code inspect --socket} with real programs: the bridge's C tests.
 */
class RecordReplayIT {
  private static final Path TESTS =
      Path.of("../bridge/target/native/tests").toAbsolutePath().normalize();

  @TempDir Path dir;

  @BeforeAll
  static void testsAreBuilt() {
    assertThat(TESTS.resolve("t_basic")).as("built by the bridge module").isRegularFile();
  }

  private Path record(String test) {
    Path trace = dir.resolve(test + ".jsonl");
    Path log = dir.resolve(test + ".log");
    CliRun r =
        CliRun.of(
            "exec",
            "--record",
            trace.toString(),
            "--",
            "sh",
            "-c",
            TESTS.resolve(test) + " >" + log + " 2>&1");
    assertThat(r.status()).as("%s %s", r.err(), log).isZero();
    return trace;
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "t_basic",
        "t_access",
        "t_dup",
        "t_efault",
        "t_fork",
        "t_exec",
        "t_isolated",
        "t_file",
        "t_kernel"
      })
  void aRecordedProgramReplaysWithoutDivergence(String test) throws Exception {
    Path trace = record(test);
    List<String> lines = Files.readAllLines(trace);
    assertThat(lines.get(0)).startsWith("{\"format\":\"iommufd4j-trace\",\"version\":1");
    assertThat(lines)
        .anyMatch(l -> l.startsWith("{\"type\":\"ioctl\""))
        .anyMatch(l -> l.startsWith("{\"type\":\"open\""))
        .anyMatch(l -> l.startsWith("{\"type\":\"close\""));
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).startsWith("no divergence: ");
  }

  @Test
  void aTamperedResultIsReportedAtItsCall() throws Exception {
    Path trace = record("t_basic");
    List<String> lines = new ArrayList<>(Files.readAllLines(trace));
    int line = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).contains("\"seq\":5,")) {
        line = i;
      }
    }
    assertThat(line).isPositive();
    Map<?, ?> call = (Map<?, ?>) Json.parse(lines.get(line));
    long result = (Long) call.get("result");
    String tampered =
        lines
            .get(line)
            .replace(
                "\"result\":" + result + ",", "\"result\":" + (result == -22 ? -2 : -22) + ",");
    assertThat(tampered).isNotEqualTo(lines.get(line));
    lines.set(line, tampered);
    Files.write(trace, lines);
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.out()).contains("divergence at ioctl #5 ").contains("result");
  }

  @Test
  void replayAllReportsEachDivergingContextAndReplaysTheOthers() throws Exception {
    Path trace = record("t_basic"); // two contexts
    List<String> lines = new ArrayList<>(Files.readAllLines(trace));
    int line = 0;
    while (!lines.get(line).contains("\"seq\":1,")) {
      line++;
    }
    lines.set(line, lines.get(line).replace("\"result\":0,", "\"result\":-22,"));
    Files.write(trace, lines);
    CliRun first = CliRun.of("replay", trace.toString());
    assertThat(first.out()).contains("divergence at ioctl #1 ").contains("(after 1 ioctl,");
    CliRun all = CliRun.of("replay", "--all", trace.toString());
    assertThat(all.status()).isEqualTo(1);
    assertThat(all.out())
        .containsOnlyOnce("divergence at ioctl")
        .contains("divergence at ioctl #1 ")
        .contains("1 of 2 contexts diverged")
        .containsPattern("[1-9]\\d* ioctls? skipped");
  }

  @Test
  void tamperedReplyBytesAreReportedAtTheirCall() throws Exception {
    Path trace = record("t_basic");
    List<String> lines = new ArrayList<>(Files.readAllLines(trace));
    // IOMMU_IOAS_ALLOC's reply carries the new id: the first ioctl's only write
    int line = 0;
    while (!lines.get(line).contains("\"seq\":1,")) {
      line++;
    }
    String l = lines.get(line);
    int w = l.indexOf("{\"op\":\"write\"");
    assertThat(w).isPositive();
    int b = l.indexOf("\"bytes\":\"", w) + 9;
    char c = l.charAt(b);
    lines.set(line, l.substring(0, b) + (c == 'f' ? '0' : 'f') + l.substring(b + 1));
    Files.write(trace, lines);
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.out()).contains("divergence at ioctl #1 ").contains("reply bytes");
  }

  @Test
  void theExitOfAProcessThatUsedTheServerIsRecorded() throws Exception {
    Path trace = record("t_fork");
    assertThat(Trace.read(trace).events()).filteredOn(Trace.Exit.class::isInstance).isNotEmpty();
    assertThat(Files.readAllLines(trace))
        .anyMatch(l -> l.matches("\\{\"type\":\"exit\",\"pid\":\\d+,\"t\":\\d+}"));
  }

  @Test
  void aTraceNamedGzIsCompressedAndReplays() throws Exception {
    Path trace = dir.resolve("t_basic.jsonl.gz");
    CliRun r =
        CliRun.of(
            "exec",
            "--record",
            trace.toString(),
            "--",
            "sh",
            "-c",
            TESTS.resolve("t_basic") + " >/dev/null");
    assertThat(r.status()).as(r.err()).isZero();
    byte[] bytes = Files.readAllBytes(trace);
    assertThat(bytes[0] & 0xff).isEqualTo(0x1f);
    assertThat(bytes[1] & 0xff).isEqualTo(0x8b);
    assertThat(Trace.read(trace).header().testAbi()).isTrue();
    CliRun replay = CliRun.of("replay", trace.toString());
    assertThat(replay.out()).startsWith("no divergence: ");
  }

  @Test
  void notATraceIsExitStatus2() throws Exception {
    Path f = Files.writeString(dir.resolve("x.jsonl"), "{\"format\":\"other\"}\n");
    assertThat(CliRun.of("replay", f.toString()).status()).isEqualTo(2);
  }

  @Test
  void inspectAtExitShowsEachContextBeforeItsTeardown() throws Exception {
    Path json = dir.resolve("exit.json");
    Path svg = dir.resolve("exit.svg");
    CliRun r =
        CliRun.of(
            "exec",
            "--inspect-at-exit",
            "--json",
            "--inspect-output",
            json.toString(),
            "--svg",
            svg.toString(),
            "--",
            "sh",
            "-c",
            TESTS.resolve("t_basic") + " >/dev/null");
    assertThat(r.status()).as(r.err()).isZero();
    ContextStates states = ContextStates.fromJson(Files.readString(json));
    assertThat(states.contexts()).hasSize(2).allMatch(ContextStates.Entry::closing);
    assertThat(states.contexts().get(0).snapshot().ioases()).isNotEmpty();
    assertThat(Files.readString(svg)).startsWith("<?xml").contains("<svg").endsWith("</svg>\n");
    CliRun table =
        CliRun.of("exec", "--inspect-at-exit", "--", TESTS.resolve("t_basic").toString());
    assertThat(table.err())
        .contains("== context ")
        .contains("just before its teardown")
        .contains("IOAS 1");
  }

  @Test
  void errorExitcodeFailsAProgramThatLeftObjectsBehindAndOnlyThen() {
    CliRun leaves =
        CliRun.of(
            "exec",
            "--inspect-at-exit",
            "--error-exitcode",
            "42",
            "--",
            "sh",
            "-c",
            TESTS.resolve("t_basic") + " >/dev/null");
    assertThat(leaves.status()).as(leaves.err()).isEqualTo(42);
    assertThat(leaves.err()).contains("IOAS 1").contains("--error-exitcode 42");
    CliRun clean =
        CliRun.of(
            "exec",
            "--inspect-at-exit",
            "--error-exitcode",
            "42",
            "--",
            "sh",
            "-c",
            "exec 3</dev/iommu");
    assertThat(clean.status()).as(clean.err()).isZero();
    assertThat(CliRun.of("exec", "--error-exitcode", "42", "--", "true").status())
        .as("needs --inspect-at-exit")
        .isEqualTo(125);
  }

  @Test
  void inspectOfATraceShowsTheFinalState() throws Exception {
    Path trace = record("t_basic");
    CliRun r = CliRun.of("inspect", "--trace", trace.toString());
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out()).contains("== context ").contains("IOAS 1");
    CliRun json = CliRun.of("inspect", "--trace", trace.toString(), "--json");
    assertThat(ContextStates.fromJson(json.out()).contexts()).hasSize(2);
  }

  @Test
  void inspectOfARunningServerShowsItsLiveContexts() throws Exception {
    Path socket = dir.resolve("sock");
    try (BridgeServer server = BridgeServer.start(socket, BridgeConfig.defaults());
        InspectSocket inspect =
            InspectSocket.open(
                socket,
                () ->
                    new ContextStates(
                        server.snapshots().stream()
                            .map(
                                c ->
                                    new ContextStates.Entry(
                                        c.file(), c.pid(), c.closing(), c.snapshot()))
                            .toList()))) {
      Path ready = dir.resolve("ready");
      ProcessBuilder pb =
          new ProcessBuilder(
              "sh", "-c", "exec 3</dev/iommu && touch " + ready + " && exec sleep 30");
      Shim.configure(pb.environment(), Shim.locate(null, dir), socket);
      Process p = pb.start();
      try {
        for (int i = 0; i < 200 && !Files.exists(ready); i++) {
          Thread.sleep(50);
        }
        assertThat(ready).exists();
        CliRun r = CliRun.of("inspect", "--socket", socket.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("== context ").contains("opened by pid ");
        CliRun json = CliRun.of("inspect", "--socket", socket.toString(), "--json");
        assertThat(ContextStates.fromJson(json.out()).contexts())
            .hasSize(1)
            .noneMatch(ContextStates.Entry::closing);
      } finally {
        p.destroyForcibly().waitFor();
      }
      assertThat(server.awaitNoContexts(Duration.ofSeconds(10))).isTrue();
      CliRun none = CliRun.of("inspect", "--socket", socket.toString());
      assertThat(none.out()).contains("no contexts");
    }
    assertThat(CliRun.of("inspect", "--socket", socket.toString()).status()).isEqualTo(1);
  }

  @Test
  void traceLinesRoundTrip() throws Exception {
    Path trace = record("t_access");
    Trace t = Trace.read(trace);
    List<String> lines = Files.readAllLines(trace);
    for (int i = 0; i < t.events().size(); i++) {
      assertThat(Trace.line(t.events().get(i))).isEqualTo(lines.get(i + 1));
    }
  }
}
