package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.iommufd4j.bridge.Shim;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code exec -- PROGRAM}: PROGRAM gets the emulated /dev/iommu and its exit status is ours. The
 * programs are the bridge's C tests, built by the bridge module next door.
 */
class ExecCommandIT {
  private static final Path TESTS =
      Path.of("../bridge/target/native/tests").toAbsolutePath().normalize();

  @BeforeAll
  static void testsAreBuilt() {
    assertThat(TESTS.resolve("t_basic")).as("built by the bridge module").isRegularFile();
  }

  private static int exec(StringWriter err, String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "exec";
    System.arraycopy(args, 0, all, 1, args.length);
    picocli.CommandLine cl = Main.commandLine();
    cl.setErr(new PrintWriter(err, true));
    return cl.execute(all);
  }

  @Test
  void aProgramSeesTheEmulatedDevice() throws Exception {
    StringWriter err = new StringWriter();
    Path log = Files.createTempFile("t_basic", ".log");
    int status = exec(err, "--", "sh", "-c", TESTS.resolve("t_basic") + " >" + log + " 2>&1");
    String output = Files.readString(log);
    Files.delete(log);
    assertThat(status).as("%s%s", err, output).isZero();
    assertThat(output).contains("t_basic: ok");
  }

  /**
   * t_creds drops and raises CAP_IPC_LOCK, changes its own RLIMIT_MEMLOCK and has another process
   * change it, between MAPs and across threads: by default exec reads them at each call.
   */
  @Test
  void capabilitiesAndLimitsChangedWhileRunningAreSeenAtTheNextCall() throws Exception {
    StringWriter err = new StringWriter();
    Path log = Files.createTempFile("t_creds", ".log");
    int status = exec(err, "--", "sh", "-c", TESTS.resolve("t_creds") + " >" + log + " 2>&1");
    String output = Files.readString(log);
    Files.delete(log);
    org.junit.jupiter.api.Assumptions.assumeFalse(status == 77, output);
    assertThat(status).as("%s%s", err, output).isZero();
    assertThat(output).contains("t_creds: ok");
  }

  /** The same program with CAP_IPC_LOCK pinned held: its dropped capability no longer counts. */
  @Test
  void aPinnedCapabilityIgnoresWhatTheProgramDoes() throws Exception {
    StringWriter err = new StringWriter();
    Path log = Files.createTempFile("t_creds", ".log");
    int status =
        exec(
            err,
            "--cap-ipc-lock",
            "yes",
            "--",
            "sh",
            "-c",
            TESTS.resolve("t_creds") + " >" + log + " 2>&1");
    String output = Files.readString(log);
    Files.delete(log);
    org.junit.jupiter.api.Assumptions.assumeFalse(status == 77, output);
    assertThat(status).as(output).isEqualTo(1);
    assertThat(output).contains("map(1 * MIB)").contains("expected errno 12");
  }

  @Test
  void optionsAfterTheProgramAreTheProgramsAndWithoutDashDashToo() {
    StringWriter err = new StringWriter();
    assertThat(exec(err, "--memlock", "unlimited", "sh", "-c", "exit 7"))
        .as(err::toString)
        .isEqualTo(7);
  }

  @Test
  void theExitStatusOfAKilledProgramIs128PlusTheSignal() {
    assertThat(exec(new StringWriter(), "--", "sh", "-c", "kill -9 $$")).isEqualTo(137);
  }

  @Test
  void aMissingProgramIs127() {
    StringWriter err = new StringWriter();
    assertThat(exec(err, "--", "/no/such/program")).isEqualTo(127);
    assertThat(err.toString()).contains("cannot run /no/such/program");
  }

  @Test
  void withoutTheTestAbiTheTestCommandIsEnotty() throws Exception {
    StringWriter err = new StringWriter();
    assertThat(
            exec(err, "--no-test-abi", "--shim-memory", "--", TESTS.resolve("t_basic").toString()))
        .as(err.toString())
        .isZero();
  }

  @Test
  void anExplicitShimThatDoesNotExistIsReported() {
    StringWriter err = new StringWriter();
    assertThat(exec(err, "--shim", "/nonexistent.so", "--", "true")).isEqualTo(125);
    assertThat(err.toString()).contains("does not exist");
  }

  @Test
  void theShimIsFoundInTheBuildTree() throws Exception {
    assertThat(Files.isRegularFile(Shim.locate(null, Files.createTempDirectory("shim")))).isTrue();
  }
}
