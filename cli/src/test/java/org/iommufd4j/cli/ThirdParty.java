package org.iommufd4j.cli;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Assumptions;

/** The unmodified third-party programs the integration tests run (scripts/test-programs.sh). */
final class ThirdParty {
  private ThirdParty() {}

  /** Skips the test, saying why, unless {@code program} is on the PATH. */
  static void assumeInstalled(String program, String debianPackage) {
    String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
    boolean found =
        Arrays.stream(path.split(File.pathSeparator))
            .filter(dir -> !dir.isEmpty())
            .map(dir -> Path.of(dir, program))
            .anyMatch(Files::isExecutable);
    Assumptions.assumeTrue(
        found,
        program
            + " is not installed (scripts/test-programs.sh installs "
            + debianPackage
            + " as root)");
  }
}
