package org.iommufd4j.bridge.testbed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.bridge.testbed.PresentedFunction.Bar;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The generated tree: the kernel's formats, links that resolve as in /sys, and the shim's files.
 */
class SysfsTestbedTest {
  @TempDir Path root;

  private Path write(PresentedFunction... functions) {
    SysfsTestbed.write(root, List.of(functions));
    return root;
  }

  private Path sys(String path) {
    return root.resolve(path.substring(1));
  }

  @Test
  void idsReadInTheKernelsFormat() throws IOException {
    write(SysfsTestbedIT.EDU);
    Path dev = sys("/sys/devices/pci0000:00/0000:00:04.0");
    assertThat(dev.resolve("vendor")).hasContent("0x1234\n");
    assertThat(dev.resolve("device")).hasContent("0x11e8\n");
    assertThat(dev.resolve("subsystem_vendor")).hasContent("0x1af4\n");
    assertThat(dev.resolve("subsystem_device")).hasContent("0x1100\n");
    assertThat(dev.resolve("class")).hasContent("0x00ff00\n");
    assertThat(dev.resolve("revision")).hasContent("0x10\n");
    assertThat(dev.resolve("numa_node")).hasContent("-1\n");
    assertThat(dev.resolve("irq")).hasContent("11\n");
    assertThat(dev.resolve("driver_override")).hasContent("vfio-pci\n");
    assertThat(dev.resolve("modalias"))
        .hasContent("pci:v00001234d000011E8sv00001AF4sd00001100bc00scFFi00\n");
    assertThat(Files.readString(dev.resolve("uevent")))
        .isEqualTo(
            "DRIVER=vfio-pci\nPCI_CLASS=FF00\n"
                + "PCI_ID=1234:11E8\nPCI_SUBSYS_ID=1AF4:1100\nPCI_SLOT_NAME=0000:00:04.0\n"
                + "MODALIAS=pci:v00001234d000011E8sv00001AF4sd00001100bc00scFFi00\n");
  }

  @Test
  void resourceHasThirteenLinesAndEachBarFileIsTheBarsSize() throws IOException {
    write(SysfsTestbedIT.VIRTIO_NET);
    Path dev = sys("/sys/devices/pci0000:00/0000:00:05.0");
    List<String> lines = Files.readAllLines(dev.resolve("resource"));
    assertThat(lines).hasSize(13);
    assertThat(lines.get(0)).isEqualTo("0x000000000000c000 0x000000000000c01f 0x0000000000040101");
    assertThat(lines.get(1)).isEqualTo("0x00000000fe000000 0x00000000fe000fff 0x0000000000040200");
    assertThat(lines.get(4)).isEqualTo("0x0000000800000000 0x0000000800003fff 0x000000000014220c");
    String zero = "0x0000000000000000 0x0000000000000000 0x0000000000000000";
    assertThat(List.of(lines.get(2), lines.get(3), lines.get(5), lines.get(12))).containsOnly(zero);
    assertThat(Files.size(dev.resolve("resource0"))).isEqualTo(32);
    assertThat(Files.size(dev.resolve("resource4"))).isEqualTo(16384);
    assertThat(dev.resolve("resource4_wc")).exists();
    assertThat(dev.resolve("resource1_wc")).doesNotExist();
    assertThat(dev.resolve("resource2")).doesNotExist();
  }

  @Test
  void configIsPaddedAndCarriesTheAssignedBarAddresses() throws IOException {
    write(SysfsTestbedIT.VIRTIO_NET);
    byte[] config = Files.readAllBytes(sys("/sys/devices/pci0000:00/0000:00:05.0/config"));
    assertThat(config).hasSize(256);
    ByteBuffer b = ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN);
    assertThat(b.getShort(0) & 0xffff).isEqualTo(0x1af4);
    assertThat(b.getInt(0x10)).isEqualTo(0xc001);
    assertThat(b.getInt(0x14)).isEqualTo(0xfe000000);
    assertThat(b.getInt(0x20)).isEqualTo(0x0000000c); // 64-bit prefetchable, low half
    assertThat(b.getInt(0x24)).isEqualTo(0x8);
  }

  @Test
  void anExpressFunctionHasFourKibOfConfigSpace() throws IOException {
    byte[] config = SysfsTestbedIT.config(0x8086, 0x10d3, 0x020000, 0, 0);
    config = Arrays.copyOf(config, 300);
    write(
        new PresentedFunction(
            "0000:00:06.0", 0x8086, 0x10d3, 0x8086, 0, 0x020000, 0, List.of(), 6, 0, -1, config));
    Path dev = sys("/sys/devices/pci0000:00/0000:00:06.0");
    assertThat(Files.size(dev.resolve("config"))).isEqualTo(4096);
    assertThat(dev.resolve("irq")).hasContent("0\n"); // no INTx pin
  }

  @Test
  void linksResolveAsInSys() throws IOException {
    write(SysfsTestbedIT.EDU);
    Path dev = sys("/sys/devices/pci0000:00/0000:00:04.0");
    assertThat(Files.readSymbolicLink(sys("/sys/bus/pci/devices/0000:00:04.0")))
        .hasToString("../../../devices/pci0000:00/0000:00:04.0");
    assertThat(Files.readSymbolicLink(dev.resolve("driver")))
        .hasToString("../../../bus/pci/drivers/vfio-pci");
    assertThat(Files.readSymbolicLink(dev.resolve("iommu_group")))
        .hasToString("../../../kernel/iommu_groups/4");
    assertThat(Files.readSymbolicLink(dev.resolve("iommu")))
        .hasToString("../../virtual/iommu/dmar0");
    assertThat(Files.readSymbolicLink(dev.resolve("subsystem"))).hasToString("../../../bus/pci");
    assertThat(sys("/sys/kernel/iommu_groups/4/devices/0000:00:04.0").toRealPath())
        .isEqualTo(dev.toRealPath());
    assertThat(sys("/sys/bus/pci/drivers/vfio-pci/0000:00:04.0").toRealPath())
        .isEqualTo(dev.toRealPath());
    assertThat(sys("/sys/class/vfio-dev/vfio0").toRealPath())
        .isEqualTo(dev.resolve("vfio-dev/vfio0").toRealPath());
    assertThat(dev.resolve("vfio-dev/vfio0/device").toRealPath()).isEqualTo(dev.toRealPath());
    assertThat(sys("/sys/class/vfio/4/dev")).hasContent("241:0\n");
    assertThat(dev.resolve("vfio-dev/vfio0/dev")).hasContent("240:0\n");
    assertThat(dev.resolve("iommu/intel-iommu/cap")).hasContent("8d2078c106f0466\n");
    assertThat(sys("/sys/kernel/iommu_groups/4/type")).hasContent("DMA-FQ\n");
  }

  @Test
  void theModulesAreThoseOfAKernelWhoseContainerIsIommufd() {
    write(SysfsTestbedIT.EDU);
    assertThat(sys("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")).hasContent("N\n");
    assertThat(sys("/sys/module/vfio_pci/drivers/pci:vfio-pci")).isDirectory();
    assertThat(sys("/sys/module/iommufd")).isDirectory();
    assertThat(sys("/sys/module/vfio_iommu_type1")).doesNotExist();
  }

  @Test
  void theShimsFilesListTheDeviceNodesAndTheMergedDirectories() throws IOException {
    write(SysfsTestbedIT.VIRTIO_NET, SysfsTestbedIT.EDU);
    assertThat(Files.readAllLines(root.resolve("devnodes")))
        .containsExactly(
            "/dev/vfio/vfio 10 196 0666",
            "/dev/vfio/4 241 0 0600",
            "/dev/vfio/devices/vfio0 240 0 0600",
            "/dev/vfio/5 241 1 0600",
            "/dev/vfio/devices/vfio1 240 1 0600");
    assertThat(sys("/dev/vfio/devices/vfio1")).isRegularFile().isEmptyFile();
    List<String> merged = Files.readAllLines(root.resolve("merged"));
    assertThat(merged)
        .contains("/sys/bus/pci/devices", "/sys/kernel/iommu_groups", "/sys/module", "/dev/vfio")
        .doesNotContain("/sys/devices/pci0000:00/0000:00:04.0", "/sys/bus/pci/drivers/vfio-pci");
    for (String dir : merged) {
      assertThat(sys(dir)).isDirectory();
    }
  }

  @Test
  void cpuMasksArePrintedInThirtyTwoBitGroups() {
    assertThat(SysfsTestbed.cpuMask(1)).isEqualTo("1");
    assertThat(SysfsTestbed.cpuMask(2)).isEqualTo("3");
    assertThat(SysfsTestbed.cpuMask(8)).isEqualTo("ff");
    assertThat(SysfsTestbed.cpuMask(36)).isEqualTo("f,ffffffff");
    assertThat(SysfsTestbed.cpuMask(64)).isEqualTo("ffffffff,ffffffff");
  }

  private static final long BASE_SEED = Long.getLong("seed", 1234L);

  @ParameterizedTest(name = "seed offset {0}")
  @ValueSource(ints = {0, 1, 2, 3, 4, 5, 6, 7})
  void barsOfRandomSizesGetNaturallyAlignedDisjointAddresses(int offset) throws IOException {
    long seed = BASE_SEED + offset;
    SplittableRandom random = new SplittableRandom(seed);
    List<PresentedFunction> functions = new ArrayList<>();
    for (int f = 0; f < 8; f++) {
      List<Bar> bars =
          List.of(
              Bar.io(0, 4L << random.nextInt(7)),
              Bar.mem32(1, 4096L << random.nextInt(12)),
              Bar.mem64(2, 4096L << random.nextInt(20), random.nextBoolean()));
      functions.add(
          new PresentedFunction(
              "0000:00:0" + (f + 2) + ".0",
              0x1af4,
              0x1000,
              0x1af4,
              1,
              0x020000,
              0,
              bars,
              10 + f,
              f,
              -1,
              new byte[64]));
    }
    SysfsTestbed.write(root, functions);
    List<long[]> ranges = new ArrayList<>();
    for (PresentedFunction f : functions) {
      List<String> lines = Files.readAllLines(sys(SysfsTestbed.functionDir(f) + "/resource"));
      for (Bar bar : f.bars()) {
        String[] cols = lines.get(bar.index()).split(" ");
        long start = Long.decode(cols[0]);
        long end = Long.decode(cols[1]);
        assertThat(end - start + 1).as("seed %d", seed).isEqualTo(bar.size());
        assertThat(start % bar.size()).as("seed %d: aligned", seed).isZero();
        ranges.add(new long[] {start, end, bar.kind() == PresentedFunction.Kind.IO ? 1 : 0});
      }
    }
    for (int i = 0; i < ranges.size(); i++) {
      for (int j = i + 1; j < ranges.size(); j++) {
        long[] a = ranges.get(i);
        long[] b = ranges.get(j);
        boolean overlap = a[2] == b[2] && a[0] <= b[1] && b[0] <= a[1];
        assertThat(overlap).as("seed %d: ranges %d and %d overlap", seed, i, j).isFalse();
      }
    }
  }

  @Test
  void aDescriptionTheKernelCouldNotHaveIsRefused() {
    byte[] c = new byte[64];
    assertThatThrownBy(
            () -> new PresentedFunction("0000:01:00.0", 1, 1, 1, 1, 0, 0, List.of(), 1, 0, -1, c))
        .hasMessageContaining("root bus");
    assertThatThrownBy(
            () ->
                new PresentedFunction(
                    "0000:00:04.0", 0x10000, 1, 1, 1, 0, 0, List.of(), 1, 0, -1, c))
        .hasMessageContaining("vendor");
    assertThatThrownBy(
            () ->
                new PresentedFunction(
                    "0000:00:04.0",
                    1,
                    1,
                    1,
                    1,
                    0,
                    0,
                    List.of(Bar.mem64(0, 4096, false), Bar.mem32(1, 4096)),
                    1,
                    0,
                    -1,
                    c))
        .hasMessageContaining("BAR 1 given twice");
    assertThatThrownBy(() -> Bar.mem32(0, 3000)).hasMessageContaining("size");
    assertThatThrownBy(() -> Bar.mem64(5, 4096, false)).hasMessageContaining("index 5");
    PresentedFunction a =
        new PresentedFunction("0000:00:04.0", 1, 1, 1, 1, 0, 0, List.of(), 4, 0, -1, c);
    PresentedFunction sameGroup =
        new PresentedFunction("0000:00:05.0", 1, 1, 1, 1, 0, 0, List.of(), 4, 1, -1, c);
    assertThatThrownBy(() -> SysfsTestbed.write(root, List.of(a, sameGroup)))
        .hasMessageContaining("used twice");
  }
}
