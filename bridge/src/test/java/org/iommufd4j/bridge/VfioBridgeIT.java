package org.iommufd4j.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.bridge.testbed.PresentedFunction;
import org.iommufd4j.bridge.testbed.SysfsTestbed;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A C program ({@code native/tests/t_vfio.c}) opens a VFIO group and device cdev of the testbed and
 * drives them through every path the transport has (ioctls with caller memory and descriptors,
 * read/write/pread/pwrite, loads and stores through a trapped mapping, an eventfd the device
 * signals), against {@link FakeVfioNodes}; afterwards every file it opened is released.
 */
class VfioBridgeIT {
  private static final Path NATIVE =
      Path.of(System.getProperty("iommufd4j.native", "target/native"));
  private static final Path SHIM = NATIVE.resolve(Shim.FILE_NAME).toAbsolutePath();

  private static Path dir;
  private static BridgeServer server;
  private static final FakeVfioNodes NODES = new FakeVfioNodes();

  @BeforeAll
  static void start() throws IOException {
    dir = Files.createTempDirectory("iommufd4j-vfio-it-");
    byte[] config = new byte[64];
    config[0] = 0x34;
    config[1] = 0x12;
    SysfsTestbed.write(
        dir.resolve("testbed"),
        List.of(
            new PresentedFunction(
                "0000:00:04.0",
                0x1234,
                0x11e8,
                0x1af4,
                0x1100,
                0x00ff00,
                0x10,
                List.of(PresentedFunction.Bar.mem32(0, 4096)),
                FakeVfioNodes.GROUP,
                FakeVfioNodes.CDEV,
                -1,
                config)));
    server = BridgeServer.start(dir.resolve("sock"), BridgeConfig.defaults().withVfioNodes(NODES));
  }

  @AfterAll
  static void stop() throws IOException {
    if (server != null) {
      server.close();
    }
    try (var walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @AfterEach
  void everythingIsReleased() throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (NODES.live.get() != 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(NODES.live.get()).as("VFIO files not released").isZero();
    assertThat(server.awaitNoContexts(Duration.ofSeconds(20))).as("every context closed").isTrue();
    assertThat(server.awaitChannels(0, Duration.ofSeconds(20))).as("channels left").isTrue();
  }

  private static ProcessBuilder program(String mode, String... args) {
    List<String> command =
        new ArrayList<>(List.of(NATIVE.resolve("tests/t_vfio").toAbsolutePath().toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    Shim.configure(pb.environment(), SHIM, server.socketPath());
    pb.environment().put(Shim.ENV_TESTBED, dir.resolve("testbed").toString());
    switch (mode) {
      case "shim-memory" -> pb.environment().put(Shim.ENV_MEMORY, "shim");
      case "socket" -> pb.environment().put(Shim.ENV_MAILBOX, "0");
      default -> {}
    }
    return pb;
  }

  private static String run(ProcessBuilder pb) throws IOException, InterruptedException {
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("finished").isTrue();
    assertThat(p.exitValue()).as("t_vfio exit status; output:%n%s", out).isZero();
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"mailbox", "shim-memory", "socket"})
  void aProgramDrivesTheGroupAndTheDeviceThroughTheirNodes(String mode) throws Exception {
    int releasedBefore = NODES.released.get();
    assertThat(run(program(mode))).contains("t_vfio: ok");
    // the cdev twice, the device fd from the group, the group twice
    assertThat(NODES.released.get() - releasedBefore).isEqualTo(5);
  }

  @Test
  void withoutVfioNodesTheDeviceNodesAreNotThere() throws Exception {
    try (BridgeServer plain = BridgeServer.start(dir.resolve("plain"), BridgeConfig.defaults())) {
      ProcessBuilder pb = program("mailbox", "--expect-enoent");
      Shim.configure(pb.environment(), SHIM, plain.socketPath());
      assertThat(run(pb)).contains("t_vfio: ok (ENOENT)");
    }
  }
}
