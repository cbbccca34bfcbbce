package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trace}'s answers to what it cannot print. */
class TraceCommandTest {
  @TempDir Path dir;

  @Test
  void aMissingTraceIsOneLineWithItsErrno() {
    Path trace = dir.resolve("missing.jsonl");
    CliRun r = CliRun.of("trace", trace.toString());

    assertThat(r.status()).isEqualTo(2);
    assertThat(r.out()).isEmpty();
    assertThat(r.err().strip())
        .isEqualTo(
            "iommufd4j trace: cannot read the trace "
                + trace
                + ": ENOENT (No such file or directory)");
  }

  @Test
  void aFileThatIsNotATraceIsOneLine() throws IOException {
    Path notATrace = Files.writeString(dir.resolve("x.jsonl"), "{\"format\":\"other\"}\n");
    CliRun r = CliRun.of("trace", notATrace.toString());

    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err().strip().lines())
        .hasSize(1)
        .first()
        .asString()
        .startsWith("iommufd4j trace: ");
  }

  @Test
  void anUnknownFilterIsAUsageError() {
    CliRun r = CliRun.of("trace", "-e", "verbose=all", dir.resolve("t.jsonl").toString());
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).contains("unknown filter -e verbose=all");

    CliRun s = CliRun.of("trace", "-e", "status=maybe", dir.resolve("t.jsonl").toString());
    assertThat(s.status()).isEqualTo(2);
    assertThat(s.err()).contains("unknown status in -e status=maybe");

    CliRun n = CliRun.of("trace", "-e", "trace=ioctl", dir.resolve("t.jsonl").toString());
    assertThat(n.status()).isEqualTo(2);
    assertThat(n.err()).contains("unknown name in -e trace=: ioctl");
  }

  @Test
  void helpNamesTheFilters() {
    CliRun r = CliRun.of("trace", "--help");
    assertThat(r.status()).isZero();
    assertThat(r.out())
        .contains("-e=EXPR", "trace=NAME", "status=failed", "--pid", "--file", "--timestamps");
  }
}
