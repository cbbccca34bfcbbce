package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.abort;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's C example compiles with {@code ./run.sh cflags} (Linux 6.12's uapi headers) and
 * prints, under {@code exec}, what its marker says: {@code <!-- example: c; prints: L1|L2 -->},
 * each line a regular expression.
 */
class ReadmeCExampleIT {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final Pattern EXAMPLE =
      Pattern.compile("<!-- example: c; prints: (.*?) -->\n```c\n(.*?)```\n", Pattern.DOTALL);

  @TempDir Path dir;

  @Test
  void theReadmesCProgramCompilesWithTheProjectsFlagsAndRunsUnderExec() throws Exception {
    Matcher m = EXAMPLE.matcher(Files.readString(ROOT.resolve("README.md")));
    assertThat(m.find()).as("the README has a C example with its marker").isTrue();
    Path source = Files.writeString(dir.resolve("example.c"), m.group(2));
    Path binary = dir.resolve("example");
    String cflags = run(List.of(ROOT.resolve("scripts/c-headers.sh").toString(), "cflags"));
    if (cflags == null) {
      abort("no Linux 6.12 uapi headers here (scripts/c-headers.sh cflags failed)");
    }
    List<String> cc = new ArrayList<>(List.of("cc", "-Wall", "-Werror"));
    cc.addAll(List.of(cflags.strip().split(" ")));
    cc.addAll(List.of("-o", binary.toString(), source.toString()));
    assertThat(run(cc)).as("cc %s", cc).isNotNull();

    Path out = dir.resolve("out.txt");
    CliRun r = CliRun.of("exec", "--", "sh", "-c", binary + " > " + out);
    assertThat(r.status()).as(r.err()).isZero();
    // each line of the marker is a regular expression: the IOVA the kernel picks depends on where
    // mmap put the buffer (automatic IOVAs keep the buffer's alignment)
    List<String> expected = List.of(m.group(1).split("\\|"));
    List<String> printed = Files.readAllLines(out);
    assertThat(printed).hasSameSizeAs(expected);
    for (int i = 0; i < expected.size(); i++) {
      assertThat(printed.get(i)).matches(expected.get(i));
    }
  }

  /** The command's standard output, or null if it failed. */
  private static String run(List<String> command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return p.waitFor() == 0 ? out : null;
  }
}
