package org.iommufd4j.bridge.testbed;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.bridge.Shim;
import org.iommufd4j.bridge.testbed.PresentedFunction.Bar;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A generated testbed walked by a real program ({@code native/tests/t_testbed.c}) with the shim
 * preloaded, as DPDK and QEMU walk sysfs: it finds the two emulated functions among the host's and
 * reports what it read, which must be what was generated.
 */
class SysfsTestbedIT {
  private static final Path NATIVE =
      Path.of(System.getProperty("iommufd4j.native", "target/native"));
  private static final Path SHIM = NATIVE.resolve(Shim.FILE_NAME).toAbsolutePath();
  private static final Path PROGRAM = NATIVE.resolve("tests/t_testbed").toAbsolutePath();

  static final PresentedFunction EDU =
      new PresentedFunction(
          "0000:00:04.0",
          0x1234,
          0x11e8,
          0x1af4,
          0x1100,
          0x00ff00,
          0x10,
          List.of(Bar.mem32(0, 1 << 20)),
          4,
          0,
          -1,
          config(0x1234, 0x11e8, 0x00ff00, 0x10, 1));
  static final PresentedFunction VIRTIO_NET =
      new PresentedFunction(
          "0000:00:05.0",
          0x1af4,
          0x1000,
          0x1af4,
          0x0001,
          0x020000,
          0,
          List.of(Bar.io(0, 32), Bar.mem32(1, 4096), Bar.mem64(4, 16384, true)),
          5,
          1,
          0,
          config(0x1af4, 0x1000, 0x020000, 0, 1));

  /** A type 0 header with the ids, INTx pin A on line 11. */
  static byte[] config(int vendor, int device, int classCode, int revision, int pin) {
    byte[] c = new byte[64];
    c[0] = (byte) vendor;
    c[1] = (byte) (vendor >> 8);
    c[2] = (byte) device;
    c[3] = (byte) (device >> 8);
    c[8] = (byte) revision;
    c[9] = (byte) classCode;
    c[10] = (byte) (classCode >> 8);
    c[11] = (byte) (classCode >> 16);
    c[0x3c] = 11;
    c[0x3d] = (byte) pin;
    return c;
  }

  private static String run(Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of(PROGRAM.toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().remove(Shim.ENV_TESTBED);
    pb.environment().put("LD_PRELOAD", SHIM.toString());
    pb.environment().remove(Shim.ENV_SOCKET);
    pb.environment().putAll(env);
    Process p = pb.start();
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("t_testbed exit status; output:%n%s", out).isZero();
    return out;
  }

  @Test
  void aProgramWalkingSysfsFindsTheEmulatedFunctionsAmongTheHostsOnes(@TempDir Path dir)
      throws Exception {
    Path testbed = dir.resolve("testbed");
    SysfsTestbed.write(testbed, List.of(VIRTIO_NET, EDU));

    String out = run(Map.of(Shim.ENV_TESTBED, testbed.toString()));

    assertThat(out)
        .contains(
            "function 0000:00:04.0 1234:11e8 class 00ff00 numa -1 driver vfio-pci group 4 "
                + "cdev vfio0 240:0 group-node 241:0 bars 1 iommu-width 48");
    assertThat(out)
        .contains(
            "function 0000:00:05.0 1af4:1000 class 020000 numa 0 driver vfio-pci group 5 "
                + "cdev vfio1 240:1 group-node 241:1 bars 3 iommu-width 48");
    assertThat(out).contains("dev-vfio nodes 3").contains("t_testbed: ok\n");
    // the program's writes went into the testbed, nowhere else
    assertThat(testbed.resolve("sys/devices/pci0000:00/0000:00:05.0/driver_override"))
        .hasContent("vfio-pci");
    assertThat(testbed.resolve("sys/bus/pci/drivers/vfio-pci/bind")).hasContent("0000:00:05.0");
  }

  @Test
  void withoutATestbedTheShimPresentsNothing() throws Exception {
    assertThat(run(Map.of(), "--expect-none")).contains("t_testbed: ok (no testbed)");
  }

  @Test
  void aTestbedThatIsNotADirectoryPresentsNothing(@TempDir Path dir) throws Exception {
    Path file = Files.writeString(dir.resolve("file"), "");
    String out = run(Map.of(Shim.ENV_TESTBED, file.toString()), "--expect-none");
    assertThat(out)
        .contains(Shim.ENV_TESTBED + "=" + file + ": not a directory; no testbed")
        .contains("t_testbed: ok (no testbed)");
  }
}
