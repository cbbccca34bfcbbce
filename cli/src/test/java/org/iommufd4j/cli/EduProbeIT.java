package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The VFIO probes of QEMU's edu ({@code bridge/native/tests/vfio/edu_cdev.c}, {@code edu_group.c}),
 * unmodified, under {@code exec --device edu}: their output must be the real kernel's transcript
 * ({@code bridge/src/test/resources/oracle/}), line for line, but for the differences {@link
 * #KNOWN} lists with their reason. A known difference that no longer differs fails too, so the list
 * only ever shrinks. The probes need Linux 6.12's uapi headers: they are built against the kernel
 * source {@code bridge/selftests/kernel-source.sh} unpacks, and skipped where it cannot.
 */
class EduProbeIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Path PROBES = ROOT.resolve("bridge/native/tests/vfio");
  private static final Path ORACLE = ROOT.resolve("bridge/src/test/resources/oracle");

  /** Transcript lines (after the probe's name) that do not match yet, and why. */
  private static final Map<String, List<Known>> KNOWN =
      Map.of("edu_cdev", List.of(), "edu_group", List.of());

  record Known(String oracleLine, String reason) {}

  /** Builds the probe against the 6.12 uapi headers: its path, or a skip. */
  static Path build(String probe) throws Exception {
    Process source =
        new ProcessBuilder(ROOT.resolve("bridge/selftests/kernel-source.sh").toString())
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start();
    String cache = new String(source.getInputStream().readAllBytes()).strip();
    Assumptions.assumeTrue(
        source.waitFor() == 0 && !cache.isEmpty(),
        "no Linux 6.12 source for the uapi headers (bridge/selftests/kernel-source.sh)");
    Path out = Path.of("target/edu-probes").toAbsolutePath();
    Files.createDirectories(out);
    Path binary = out.resolve(probe);
    Process cc =
        new ProcessBuilder(
                "cc",
                "-O2",
                "-std=gnu11",
                "-isystem",
                cache + "/include",
                "-o",
                binary.toString(),
                PROBES.resolve(probe + ".c").toString(),
                PROBES.resolve("edu_common.c").toString())
            .redirectErrorStream(true)
            .start();
    String log = new String(cc.getInputStream().readAllBytes());
    assertThat(cc.waitFor(120, TimeUnit.SECONDS) && cc.exitValue() == 0)
        .as("building %s:%n%s", probe, log)
        .isTrue();
    return binary;
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev", "edu_group"})
  void aProbeUnderExecDeviceEduPrintsTheRealKernelsTranscript(String probe) throws Exception {
    Path binary = build(probe);
    Path output = Files.createTempFile(probe, ".out");
    try {
      CliRun run =
          CliRun.of(
              "exec",
              "--device",
              "edu",
              "--",
              "sh",
              "-c",
              "exec \"$0\" >" + output + " 2>&1",
              binary.toString());
      List<String> got = Files.readAllLines(output);
      List<String> expected = Files.readAllLines(ORACLE.resolve(probe + ".txt"));
      expected = expected.subList(1, expected.size()); // the recording's description
      assertThat(run.status())
          .as("%s exit status; %s%s", probe, run.err(), String.join("\n", got))
          .isZero();
      compare(probe, expected, got);
    } finally {
      Files.delete(output);
    }
  }

  private static void compare(String probe, List<String> expected, List<String> got) {
    List<Known> known = KNOWN.get(probe);
    List<String> unexplained = new ArrayList<>();
    List<String> stale = new ArrayList<>();
    for (int i = 0; i < Math.max(expected.size(), got.size()); i++) {
      String want = i < expected.size() ? expected.get(i) : "(nothing)";
      String have = i < got.size() ? got.get(i) : "(nothing)";
      boolean isKnown = known.stream().anyMatch(k -> k.oracleLine().equals(want));
      if (!want.equals(have) && !isKnown) {
        unexplained.add("line " + (i + 2) + ": the kernel's <" + want + ">, here <" + have + ">");
      } else if (want.equals(have) && isKnown) {
        stale.add(want);
      }
    }
    assertThat(unexplained).as("%s: lines that differ from the kernel's", probe).isEmpty();
    assertThat(stale)
        .as("%s: known differences that match now (drop them from KNOWN)", probe)
        .isEmpty();
  }
}
