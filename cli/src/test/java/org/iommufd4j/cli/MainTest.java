package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class MainTest {
  private static String run(String... args) {
    StringWriter out = new StringWriter();
    CommandLine cl = new CommandLine(new Main());
    cl.setOut(new PrintWriter(out, true));
    assertThat(cl.execute(args)).as("exit status of %s", String.join(" ", args)).isZero();
    return out.toString();
  }

  @Test
  void demoShowsKernelResultsAndErrors() {
    String out = run("demo");
    assertThat(out)
        .contains("IOMMU_IOAS_ALLOC             -> ioas id 1")
        .contains("Mapping[iova=0x1000, length=0x1000]")
        .contains("-> EEXIST")
        .contains("-> EPERM")
        .contains("-> ENOENT")
        .contains("-> -95");
  }

  @Test
  void versionNamesTheKernelEmulated() {
    assertThat(run("--version")).contains("Linux 6.12");
  }

  @Test
  void unknownCommandFailsWithUsage() {
    assertThat(
            new CommandLine(new Main())
                .setErr(new PrintWriter(new StringWriter()))
                .execute("no-such-command"))
        .isNotZero();
  }
}
