package org.iommufd4j.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bridge's own C tests ({@code native/tests/t_*.c}), each run as a real program with the shim
 * preloaded against one server in this JVM, in four modes: the mailbox with the server reading the
 * program's memory itself and pinned pages shared (the default), the mailbox with the shim serving
 * memory (the fallback where ptrace is refused), socket frames only, and pinned pages left where
 * the program maps them ({@code IOMMUFD4J_SHARE=0}). After every program the server must be back to
 * nothing: no open context, no pinned page.
 */
class NativeBridgeIT {
  private static final Path NATIVE =
      Path.of(System.getProperty("iommufd4j.native", "target/native"));
  private static final Path SHIM = NATIVE.resolve(Shim.FILE_NAME).toAbsolutePath();
  private static final List<String> PROGRAMS =
      List.of(
          "t_basic",
          "t_file",
          "t_efault",
          "t_dup",
          "t_fork",
          "t_threads",
          "t_scm",
          "t_exec",
          "t_isolated",
          "t_kill",
          "t_access",
          "t_fortify",
          "t_kernel",
          "t_fault",
          "t_creds",
          "t_share");

  private static Path dir;
  private static BridgeServer server;

  @BeforeAll
  static void startServer() throws IOException {
    assertThat(SHIM).as("the shim built by make").isRegularFile();
    dir = Files.createTempDirectory("iommufd4j-it-");
    server = BridgeServer.start(dir.resolve("sock"), BridgeConfig.defaults());
  }

  @AfterAll
  static void stopServer() throws IOException {
    if (server != null) {
      server.close();
    }
    Files.deleteIfExists(dir);
  }

  @AfterEach
  void serverIsBackToNothing() throws InterruptedException {
    assertThat(server.awaitNoContexts(Duration.ofSeconds(20))).as("every context closed").isTrue();
    assertThat(server.host().totalPins()).as("pinned pages left").isZero();
    // every thread's channel ends with the thread (or the process)
    assertThat(server.awaitChannels(0, Duration.ofSeconds(20))).as("channels left").isTrue();
  }

  static Stream<Arguments> programs() {
    List<Arguments> all = new ArrayList<>();
    for (String mode : List.of("mailbox", "shim-memory", "socket", "no-share")) {
      for (String p : PROGRAMS) {
        all.add(Arguments.of(p, mode));
      }
    }
    return all.stream();
  }

  private static ProcessBuilder program(String name, String memoryMode, String... args) {
    List<String> command = new ArrayList<>();
    command.add(NATIVE.resolve("tests").resolve(name).toAbsolutePath().toString());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    Shim.configure(pb.environment(), SHIM, server.socketPath());
    if (memoryMode.equals("shim-memory")) {
      pb.environment().put(Shim.ENV_MEMORY, "shim");
    }
    if (memoryMode.equals("socket")) {
      pb.environment().put(Shim.ENV_MAILBOX, "0");
    }
    if (memoryMode.equals("no-share")) {
      pb.environment().put(Shim.ENV_SHARE, "0");
    }
    return pb;
  }

  private static Result run(ProcessBuilder pb) throws IOException, InterruptedException {
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("finished").isTrue();
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  record Result(int status, String output) {}

  @ParameterizedTest(name = "{0} ({1})")
  @MethodSource("programs")
  void cProgramPasses(String name, String memoryMode) throws Exception {
    Result r = run(program(name, memoryMode));
    Assumptions.assumeFalse(r.status() == 77, () -> name + ": " + r.output().trim());
    assertThat(r.status()).as("%s exit status; output:%n%s", name, r.output()).isZero();
    assertThat(r.output()).contains(name.replace("t_fortify", "t_fortify") + ": ok");
  }

  @Test
  void twoProgramsAtOnceAreIsolated() throws Exception {
    Process a = program("t_threads", "mailbox").start();
    Process b = program("t_basic", "shim-memory").start();
    Process c = program("t_fork", "socket").start();
    for (Process p : List.of(a, b, c)) {
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as(out).isZero();
    }
  }
}
