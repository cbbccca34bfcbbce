package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every failure a user can cause ends in one line that names the object and the errno, with the
 * documented exit status, and never in a stack trace.
 */
class CliErrorsTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"demo", "inspect", "bench", "fuzz", "exec", "serve", "replay", "trace"})
  void everyCommandAnswersHelp(String command) {
    CliRun r = CliRun.of(command, "--help");
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out()).startsWith("Usage: iommufd4j " + command).contains("-h, --help");
  }

  @Test
  void aMistypedCommandSuggestsTheNearestOneWithoutDumpingTheUsage() {
    // "exce" would also suggest trace (picocli's similarity counts the shared "ce")
    CliRun r = CliRun.of("exc");
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err().lines().toList())
        .containsExactly(
            "iommufd4j: Unmatched argument at index 0: 'exc'",
            "Did you mean: iommufd4j exec?",
            "Try 'iommufd4j --help' for more information.");
  }

  @Test
  void aBadExecOptionIsExecsOwnFailure125NotAProgramStatus() {
    CliRun r = CliRun.of("exec", "--recrod", "x", "--", "true");
    assertThat(r.status()).isEqualTo(125);
    assertThat(r.err())
        .startsWith("iommufd4j exec: Unknown option: '--recrod'")
        .contains("--record")
        .doesNotContain("Usage:");
  }

  @Test
  void aRecordFileInAMissingDirectoryFailsBeforeTheProgramRuns() {
    Path marker = dir.resolve("ran");
    Path record = dir.resolve("no/such/dir/t.jsonl");
    CliRun r = CliRun.of("exec", "--record", record.toString(), "--", "touch", marker.toString());
    assertThat(r.status()).isEqualTo(125);
    assertThat(oneLine(r.err()))
        .isEqualTo(
            "iommufd4j exec: cannot write --record "
                + record
                + ": ENOENT (No such file or directory); the directory "
                + record.getParent()
                + " does not exist: create it first");
    assertThat(marker).doesNotExist();
  }

  @Test
  void anOutputPathThatIsADirectoryIsEisdir() {
    CliRun r =
        CliRun.of("exec", "--inspect-at-exit", "--inspect-output", dir.toString(), "--", "true");
    assertThat(r.status()).isEqualTo(125);
    assertThat(oneLine(r.err()))
        .isEqualTo(
            "iommufd4j exec: cannot write --inspect-output " + dir + ": EISDIR (Is a directory)");
  }

  @Test
  void aMissingTraceIsNamedWithItsErrno() {
    Path trace = dir.resolve("missing.jsonl");
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(oneLine(r.err()))
        .isEqualTo(
            "iommufd4j replay: cannot read the trace "
                + trace
                + ": ENOENT (No such file or directory)");
  }

  @Test
  void aMissingInspectInputIsNamedWithItsErrno() {
    Path input = dir.resolve("state.json");
    CliRun r = CliRun.of("inspect", "--input", input.toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(oneLine(r.err()))
        .isEqualTo(
            "iommufd4j inspect: cannot read --input "
                + input
                + ": ENOENT (No such file or directory)");
  }

  @Test
  void anUnreadableOrMalformedInspectInputIsOneLine() throws IOException {
    Path input = Files.writeString(dir.resolve("state.json"), "{}");
    Files.setPosixFilePermissions(input, Set.of());
    // root reads anything: then the file is read and fails as JSON instead, still one line
    CliRun r = CliRun.of("inspect", "--input", input.toString());
    assertThat(r.status()).isNotZero();
    assertThat(r.err().lines().count()).isEqualTo(1);
    assertThat(r.err()).doesNotContain("Exception");
  }

  @Test
  void aSocketPathTooLongForSunPathIsRefusedUpFront() {
    String socket = "/tmp/" + "a".repeat(100);
    CliRun r = CliRun.of("serve", "--socket", socket);
    assertThat(r.status()).isEqualTo(1);
    assertThat(oneLine(r.err()))
        .startsWith("iommufd4j serve: --socket " + socket + " is 105 bytes")
        .contains("ENAMETOOLONG");
  }

  @Test
  void noRunningServerIsEnoentNamingTheSocket() {
    Path socket = dir.resolve("nobody.sock");
    CliRun r = CliRun.of("inspect", "--socket", socket.toString());
    assertThat(r.status()).isEqualTo(1);
    assertThat(oneLine(r.err()))
        .isEqualTo(
            "iommufd4j inspect: cannot connect to "
                + socket
                + ".inspect: ENOENT (No such file or directory); is `serve --socket "
                + socket
                + "` running?");
  }

  @Test
  void benchIncludeMatchingNothingSaysSoInsteadOfRunningOnlyTheBaseline() {
    CliRun r = CliRun.of("bench", "--include", "no-such-benchmark");
    assertThat(r.status()).isEqualTo(2);
    assertThat(oneLine(r.err()))
        .startsWith("iommufd4j bench: --include no-such-benchmark matches no benchmark (labels: [");
  }

  @Test
  void replayCountsAreSingularForOne() {
    assertThat(
            List.of(
                ReplayCommand.count(1, "open"),
                ReplayCommand.count(2, "open"),
                ReplayCommand.count(0, "ioctl")))
        .containsExactly("1 open", "2 opens", "0 ioctls");
  }

  private static String oneLine(String err) {
    List<String> lines = err.lines().toList();
    assertThat(lines).as(err).hasSize(1);
    return lines.getFirst();
  }
}
