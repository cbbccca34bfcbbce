package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trace FILE} on a real recording: the bridge's {@code t_basic} through {@code exec}. */
class TraceCommandIT {
  private static final Path TESTS =
      Path.of("../bridge/target/native/tests").toAbsolutePath().normalize();

  @TempDir static Path dir;
  private static Path recording;

  @BeforeAll
  static void recordBasic() {
    assertThat(TESTS.resolve("t_basic")).as("built by the bridge module").isRegularFile();
    recording = dir.resolve("t_basic.jsonl");
    CliRun r =
        CliRun.of(
            "exec",
            "--record",
            recording.toString(),
            "--",
            "sh",
            "-c",
            TESTS.resolve("t_basic") + " >" + dir.resolve("t_basic.log") + " 2>&1");
    assertThat(r.status()).as(r.err()).isZero();
  }

  private static List<String> trace(String... options) {
    String[] args = new String[options.length + 2];
    args[0] = "trace";
    System.arraycopy(options, 0, args, 1, options.length);
    args[args.length - 1] = recording.toString();
    CliRun r = CliRun.of(args);
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.err()).isEmpty();
    return r.out().lines().toList();
  }

  @Test
  void everyEventIsOneDecodedLine() {
    List<String> lines = trace();

    assertThat(lines.getFirst()).matches("\\[pid \\d+\\] open /dev/iommu = file 1");
    assertThat(lines)
        .anyMatch(l -> l.matches("\\[pid \\d+\\] process uid=\\d+ .*"))
        .anyMatch(
            l ->
                l.matches(
                    "\\[pid \\d+\\] ioctl\\(file 1, IOMMU_IOAS_ALLOC, \\{size=12, "
                        + "flags=0, out_ioas_id=0\\} => \\{out_ioas_id=1\\}\\) = 0"))
        .anyMatch(
            l ->
                l.contains(
                        ", IOMMU_IOAS_MAP, {size=40, "
                            + "flags=FIXED_IOVA|WRITEABLE|READABLE, ioas_id=1, ")
                    && l.endsWith("}) = -1 EEXIST (File exists)"))
        .anyMatch(
            l ->
                l.contains(
                    ", IOMMU_TEST_CMD, {size=72, op=MOCK_DOMAIN, id=1, "
                        + "out_stdev_id=0, out_hwpt_id=0, out_idev_id=0, last=0} => {out_stdev_id="))
        .contains("close file 1");
    assertThat(lines.getLast()).matches("\\[pid \\d+\\] exit");
    assertThat(lines).noneMatch(l -> l.contains("ioctl(") && l.contains(", 0x3b"));
  }

  @Test
  void traceFiltersByRequestNameAndClass() {
    assertThat(trace("-e", "trace=IOMMU_IOAS_MAP,IOMMU_IOAS_UNMAP"))
        .isNotEmpty()
        .allMatch(l -> l.contains(", IOMMU_IOAS_MAP, ") || l.contains(", IOMMU_IOAS_UNMAP, "))
        .anyMatch(l -> l.contains(", IOMMU_IOAS_UNMAP, "));
    assertThat(trace("-e", "trace=test,close"))
        .isNotEmpty()
        .allMatch(l -> l.contains(", IOMMU_TEST_CMD, ") || l.startsWith("close file "))
        .contains("close file 1", "close file 2");
  }

  @Test
  void statusFiltersFailedAndSuccessfulCalls() {
    List<String> failed = trace("-e", "status=failed");
    List<String> successful = trace("-e", "status=successful");

    assertThat(failed).isNotEmpty().allMatch(l -> l.matches(".*\\) = -1 E[A-Z0-9]+ \\(.*\\)"));
    assertThat(successful).isNotEmpty().allMatch(l -> l.matches(".*\\) = \\d+( \\(fd.*)?"));
    assertThat(failed.size() + successful.size())
        .isEqualTo(trace().stream().filter(l -> l.contains(" ioctl(")).count());
  }

  @Test
  void fileAndPidSelectOneContextOrProcess() {
    assertThat(trace("--file", "2"))
        .isNotEmpty()
        .allMatch(l -> l.contains("file 2"))
        .contains("close file 2");
    String pid = trace().getFirst().replaceAll("^\\[pid (\\d+)\\].*", "$1");
    assertThat(trace("--pid", pid)).hasSameSizeAs(trace());
    assertThat(trace("--pid", "1")).isEmpty();
  }

  @Test
  void timestampsPrefixEachEventWithItsSecondsSinceTheStart() {
    assertThat(trace("-t", "-e", "trace=open"))
        .isNotEmpty()
        .allMatch(l -> l.matches(" *\\d+\\.\\d{6} \\[pid \\d+\\] open /dev/iommu = file \\d+"));
  }
}
