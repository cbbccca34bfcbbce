package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code exec --device MODEL -- PROGRAM}: PROGRAM's sysfs and /dev show the emulated devices, bound
 * to vfio-pci; sh, cat and readlink are dynamically linked, so the shim is in each of them.
 */
class ExecDevicesIT {
  private record Run(int status, String output, String err) {}

  /** Runs {@code exec ARGS... -- sh -c SCRIPT}, the script's output going to a file. */
  private static Run exec(String script, String... args) throws Exception {
    Path log = Files.createTempFile("exec-devices", ".log");
    try {
      List<String> all = new ArrayList<>(List.of("exec"));
      all.addAll(List.of(args));
      all.addAll(List.of("--", "sh", "-c", "exec >" + log + " 2>&1; " + script));
      StringWriter err = new StringWriter();
      picocli.CommandLine cl = Main.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int status = cl.execute(all.toArray(String[]::new));
      return new Run(status, Files.readString(log), err.toString());
    } finally {
      Files.delete(log);
    }
  }

  private static String describe(String bdf) {
    String dir = "/sys/bus/pci/devices/" + bdf;
    return "cat "
        + dir
        + "/vendor "
        + dir
        + "/device "
        + dir
        + "/class; "
        + "basename $(readlink "
        + dir
        + "/driver); "
        + "echo group $(basename $(readlink "
        + dir
        + "/iommu_group)); "
        + "ls "
        + dir
        + "/vfio-dev; ";
  }

  @Test
  void anEduIsBoundToVfioPciInItsOwnGroupAt04() throws Exception {
    Run run =
        exec(
            describe("0000:00:04.0")
                + "ls /sys/kernel/iommu_groups/0/devices; "
                + "test -c /dev/vfio/devices/vfio0 && echo cdev",
            "--device",
            "edu");
    assertThat(run.status()).as("%s%s", run.err(), run.output()).isZero();
    assertThat(run.output())
        .isEqualTo("0x1234\n0x11e8\n0x00ff00\nvfio-pci\ngroup 0\nvfio0\n" + "0000:00:04.0\ncdev\n");
  }

  @Test
  void twoDevicesGetTheNextAddressesAndAGroupEach() throws Exception {
    Run run =
        exec(
            describe("0000:00:04.0") + describe("0000:00:05.0") + "ls /dev/vfio",
            "--device",
            "edu",
            "--device",
            "edu");
    assertThat(run.status()).as("%s%s", run.err(), run.output()).isZero();
    assertThat(run.output())
        .isEqualTo(
            "0x1234\n0x11e8\n0x00ff00\nvfio-pci\ngroup 0\nvfio0\n"
                + "0x1234\n0x11e8\n0x00ff00\nvfio-pci\ngroup 1\nvfio1\n0\n1\ndevices\nvfio\n");
  }

  @Test
  void anExplicitAddressAndGroupAreWhereTheDeviceIs() throws Exception {
    Run run =
        exec(
            describe("0000:00:1a.3") + "ls /sys/kernel/iommu_groups",
            "--device",
            "edu@0000:00:1a.3,group=7");
    assertThat(run.status()).as("%s%s", run.err(), run.output()).isZero();
    assertThat(run.output()).isEqualTo("0x1234\n0x11e8\n0x00ff00\nvfio-pci\ngroup 7\nvfio0\n7\n");
  }

  @Test
  void badDevicesAreOneLineUsageErrorsAndNothingRuns() throws Exception {
    String[][] cases = {
      {"--device", "nvmf"},
      {"--device", "edu,colour=blue"},
      {"--device", "edu@0000:01:00.0"},
      {"--device", "edu@0000:00:04.0", "--device", "edu@0000:00:04.0"},
      {"--device", "edu,group=1", "--device", "edu,group=1"},
    };
    String[] expected = {
      "unknown model 'nvmf' (known: edu, virtio-net, nvme)",
      "edu has no option 'colour' (it takes: group, dma_mask)",
      "'0000:01:00.0' is not an address 0000:00:DD.F on the root bus",
      "--device: two devices at 0000:00:04.0",
      "--device: two devices in group 1",
    };
    for (int i = 0; i < cases.length; i++) {
      Run run = exec("echo ran", cases[i]);
      assertThat(run.status()).as(run.err()).isEqualTo(CliErrors.EXEC_FAILED);
      assertThat(run.output()).isEmpty();
      assertThat(run.err())
          .startsWith("iommufd4j exec: ")
          .contains(expected[i])
          .containsOnlyOnce("\n" + "Try 'iommufd4j exec --help'");
    }
  }
}
