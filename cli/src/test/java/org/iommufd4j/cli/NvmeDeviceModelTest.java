package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.nvme.NvmeController;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NvmeDeviceModelTest {
  private static NvmeController make(String spec) {
    DeviceSpec parsed = DeviceSpec.parse(spec);
    DeviceClock clock = new VirtualClock();
    return (NvmeController)
        PciFunction.create(
                parsed.model().factory(parsed.bdf(), parsed.options(), new Object()),
                DmaPort.UNATTACHED,
                clock,
                Interrupts.Sink.DISCARD)
            .model();
  }

  @Test
  void nvmeAloneIsOneMemoryNamespaceOf64MiB() {
    assertThat(DeviceSpec.parse("nvme@0000:00:05.0"))
        .isEqualTo(new DeviceSpec(DeviceModel.NVME, "0000:00:05.0", null, Map.of()));
    assertThat(make("nvme").namespaces().getFirst().blocks()).isEqualTo((64L << 20) / 512);
  }

  @Test
  void sizesTakeBinarySuffixes() {
    assertThat(make("nvme,size=1M").namespaces().getFirst().blocks()).isEqualTo(2048);
    assertThat(make("nvme,size=4096").namespaces().getFirst().blocks()).isEqualTo(8);
    assertThat(DeviceModel.bytes("size", "2g")).isEqualTo(2L << 30);
    assertThat(DeviceModel.bytes("size", "0x10K")).isEqualTo(16L << 10);
  }

  @Test
  void aBackingFileIsCreatedWhenTheDeviceIsMadeNotWhenParsed(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("ns.img");
    DeviceSpec spec = DeviceSpec.parse("nvme,backing=" + file + ",size=8M");
    assertThat(file).doesNotExist();
    NvmeController nvme = make("nvme,backing=" + file + ",size=8M");
    assertThat(Files.size(file)).isEqualTo(8L << 20);
    assertThat(nvme.namespaces().getFirst().blocks()).isEqualTo(16384);
    assertThat(spec.options()).containsEntry("backing", file.toString());
    nvme.namespaces().getFirst().close();
  }

  @Test
  void badSizesAndKeysAreRefusedWhenParsed() {
    assertThatThrownBy(() -> DeviceSpec.parse("nvme,size=lots"))
        .hasMessageContaining("size=lots is not a number");
    assertThatThrownBy(() -> DeviceSpec.parse("nvme,size=100"))
        .hasMessageContaining("below one 512-byte block");
    assertThatThrownBy(() -> DeviceSpec.parse("nvme,size=99999999999T"))
        .hasMessageContaining("too large");
    assertThatThrownBy(() -> DeviceSpec.parse("nvme,backing="))
        .hasMessageContaining("needs a file name");
    assertThatThrownBy(() -> DeviceSpec.parse("nvme,queues=4"))
        .hasMessage("nvme has no option 'queues' (it takes: group, backing, size)");
  }
}
