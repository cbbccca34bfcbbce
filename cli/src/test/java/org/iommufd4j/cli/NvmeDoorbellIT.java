package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * A C program drives an emulated NVMe controller under {@code exec --device nvme} with its
 * doorbells in shared memory ({@code bridge/native/tests/t_nvme_doorbell.c}): BAR0 mapped, the
 * register page trapped, the doorbell page the server's memfd, the admin queue run on plain stores.
 */
class NvmeDoorbellIT {
  private static final Path TESTS =
      Path.of("../bridge/target/native/tests").toAbsolutePath().normalize();

  @Test
  void aProgramRingsTheDoorbellsWithPlainStoresAndSeesItsCompletions() throws Exception {
    Path output = Files.createTempFile("t_nvme_doorbell", ".out");
    try {
      CliRun run =
          CliRun.of(
              "exec",
              "--device",
              "nvme",
              "--",
              "sh",
              "-c",
              "exec \"$0\" >" + output + " 2>&1",
              TESTS.resolve("t_nvme_doorbell").toString());
      String got = Files.readString(output);
      assertThat(run.status()).as("exit status; %s%s", run.err(), got).isZero();
      assertThat(got).contains("t_nvme_doorbell: ok");
    } finally {
      Files.delete(output);
    }
  }
}
