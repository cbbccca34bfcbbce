package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.iommufd4j.bridge.testbed.PresentedFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.trace.Trace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DevicesTest {
  private static Devices create(String... specs) {
    return Devices.create(Arrays.stream(specs).map(DeviceSpec::parse).toList());
  }

  @Test
  void anEduIsPresentedWithWhatTheModelSays() {
    try (Devices devices = create("edu")) {
      PresentedFunction f = devices.presented().getFirst();
      assertThat(f.bdf()).isEqualTo("0000:00:04.0");
      assertThat(
              List.of(
                  f.vendor(),
                  f.device(),
                  f.subsystemVendor(),
                  f.subsystemDevice(),
                  f.classCode(),
                  f.revision()))
          .containsExactly(0x1234, 0x11e8, 0x1af4, 0x1100, 0x00ff00, 0x10);
      assertThat(f.bars()).containsExactly(PresentedFunction.Bar.mem32(0, 1 << 20));
      assertThat(f.config()).isEqualTo(devices.devices().getFirst().function().config().snapshot());
      assertThat(List.of(f.iommuGroup(), f.vfioIndex(), f.numaNode())).containsExactly(0, 0, -1);
      assertThat(devices.devices().getFirst().function().model()).isInstanceOf(EduDevice.class);
    }
  }

  @Test
  void defaultAddressesSkipTheSlotsGivenAndGroupsTheNumbersGiven() {
    try (Devices devices = create("edu", "edu@0000:00:05.0,group=0", "edu", "edu,group=3")) {
      assertThat(devices.devices())
          .map(d -> d.bdf() + " group " + d.iommuGroup() + " vfio" + d.vfioIndex())
          .containsExactly(
              "0000:00:04.0 group 1 vfio0",
              "0000:00:05.0 group 0 vfio1",
              "0000:00:06.0 group 2 vfio2",
              "0000:00:07.0 group 3 vfio3");
    }
  }

  @Test
  void twoDevicesAtOneAddressOrInOneGroupAreRefused() {
    assertThatThrownBy(() -> create("edu@0000:00:04.0", "edu@0000:00:04.0"))
        .hasMessage("two devices at 0000:00:04.0");
    assertThatThrownBy(() -> create("edu,group=2", "edu,group=2"))
        .hasMessage("two devices in group 2 (a group holds one device)");
  }

  @Test
  void theRootBusHoldsTwentyEightDefaultDevices() {
    String[] specs = new String[28];
    Arrays.fill(specs, "edu");
    try (Devices devices = create(specs)) {
      assertThat(devices.devices().getLast().bdf()).isEqualTo("0000:00:1f.0");
    }
    String[] more = Arrays.copyOf(specs, 29);
    more[28] = "edu";
    assertThatThrownBy(() -> create(more)).hasMessageContaining("more devices than free slots");
  }

  @Test
  void aRecordingsDevicesAreMadeAgainWhereTheySat() {
    List<DeviceSpec> specs =
        Arrays.stream(new String[] {"edu", "edu@0000:00:05.0,group=0", "nvme,size=1M"})
            .map(DeviceSpec::parse)
            .toList();
    List<Trace.Device> recorded = Devices.recorded(specs);
    assertThat(recorded)
        .map(d -> d.model() + "@" + d.bdf() + " group " + d.group() + " vfio" + d.cdev())
        .containsExactly(
            "edu@0000:00:04.0 group 1 vfio0",
            "edu@0000:00:05.0 group 0 vfio1",
            "nvme@0000:00:06.0 group 2 vfio2");
    try (Devices made = Devices.replayed(recorded, bdf -> new VirtualClock());
        Devices original = Devices.create(specs)) {
      assertThat(made.presented().stream().map(DevicesTest::shown))
          .containsExactlyElementsOf(
              original.presented().stream().map(DevicesTest::shown).toList());
    }
  }

  @Test
  void aFileBackedNamespaceIsRecordedWithItsSizeAndReplayedInMemory(@TempDir Path dir)
      throws Exception {
    Path disk = dir.resolve("disk.img");
    Files.write(disk, new byte[2 << 20]); // an existing file keeps its length over a smaller size
    List<Trace.Device> recorded =
        Devices.recorded(List.of(DeviceSpec.parse("nvme,backing=" + disk + ",size=1M")));
    assertThat(recorded.getFirst().options())
        .containsEntry("backing", disk.toString())
        .containsEntry("size", Long.toString(2 << 20));
    Files.delete(disk);
    try (Devices made = Devices.replayed(recorded, bdf -> new VirtualClock())) {
      assertThat(made.devices()).hasSize(1);
    }
    assertThat(disk).doesNotExist(); // the replay never made the file
  }

  @Test
  void aRecordingsDeviceThatTheCommandLineWouldRefuseIsRefused() {
    assertThatThrownBy(
            () ->
                Devices.replayed(
                    List.of(new Trace.Device("edu", "0000:01:04.0", 0, 0, Map.of())),
                    bdf -> new VirtualClock()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0000:01:04.0");
    assertThatThrownBy(
            () ->
                Devices.replayed(
                    List.of(new Trace.Device("tpm", "0000:00:04.0", 0, 0, Map.of())),
                    bdf -> new VirtualClock()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("tpm");
  }

  /** What sysfs shows of a function, its config space's bytes included. */
  private static String shown(PresentedFunction f) {
    return f.bdf()
        + " group "
        + f.iommuGroup()
        + " vfio"
        + f.vfioIndex()
        + " "
        + f.bars()
        + " "
        + java.util.HexFormat.of().formatHex(f.config());
  }
}
