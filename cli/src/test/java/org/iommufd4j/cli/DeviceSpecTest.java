package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DeviceSpecTest {
  @Test
  void aBareModelNameTakesTheDefaults() {
    assertThat(DeviceSpec.parse("edu"))
        .isEqualTo(new DeviceSpec(DeviceModel.EDU, null, null, Map.of()));
  }

  @Test
  void anAddressAGroupAndModelOptionsAreRead() {
    assertThat(DeviceSpec.parse("edu@0000:00:1F.7,group=12,dma_mask=0xffffffff"))
        .isEqualTo(
            new DeviceSpec(DeviceModel.EDU, "0000:00:1f.7", 12, Map.of("dma_mask", "0xffffffff")));
  }

  @Test
  void anUnknownModelNamesTheKnownOnes() {
    assertThatThrownBy(() -> DeviceSpec.parse("nvmf"))
        .hasMessage("unknown model 'nvmf' (known: edu, virtio-net, nvme)");
    assertThatThrownBy(() -> DeviceSpec.parse("@0000:00:04.0")).hasMessageStartingWith("no model");
  }

  @Test
  void anUnknownKeyNamesTheKeysTheModelTakes() {
    assertThatThrownBy(() -> DeviceSpec.parse("edu,irq=5"))
        .hasMessage("edu has no option 'irq' (it takes: group, dma_mask)");
  }

  @Test
  void badValuesAreRefusedWhenParsedNotWhenTheProgramRuns() {
    assertThatThrownBy(() -> DeviceSpec.parse("edu,group=two"))
        .hasMessageContaining("group=two is not a number");
    assertThatThrownBy(() -> DeviceSpec.parse("edu,group=-1"))
        .hasMessageContaining("group=-1 is not a number");
    assertThatThrownBy(() -> DeviceSpec.parse("edu,dma_mask=0xz"))
        .hasMessageContaining("dma_mask=0xz is not a number");
    assertThatThrownBy(() -> DeviceSpec.parse("edu,group=1,group=2"))
        .hasMessage("group given twice");
    assertThatThrownBy(() -> DeviceSpec.parse("edu,group")).hasMessage("'group' is not key=value");
    assertThatThrownBy(() -> DeviceSpec.parse("edu,")).hasMessage("'' is not key=value");
  }

  @Test
  void onlyAddressesOnTheRootBusAreAccepted() {
    for (String bad :
        new String[] {
          "0000:01:04.0",
          "0001:00:04.0",
          "00:04.0",
          "0000:00:20.0",
          "0000:00:04.8",
          "0000:00:4.0",
          ""
        }) {
      assertThatThrownBy(() -> DeviceSpec.parse("edu@" + bad))
          .as(bad)
          .hasMessageContaining("is not an address 0000:00:DD.F on the root bus");
    }
  }

  @Test
  void everyRootBusAddressParsesInEitherCase() {
    Random random = new Random(13);
    for (int i = 0; i < 200; i++) {
      String bdf = String.format("0000:00:%02x.%d", random.nextInt(32), random.nextInt(8));
      String typed = random.nextBoolean() ? bdf.toUpperCase(Locale.ROOT) : bdf;
      assertThat(DeviceSpec.parse("edu@" + typed).bdf()).as(typed).isEqualTo(bdf);
    }
  }

  @Test
  void aBadDeviceIsAUsageErrorOfServeBeforeItListens() {
    CliRun run =
        CliRun.of(
            "serve",
            "--socket",
            "/nonexistent/sock",
            "--device",
            "edu@0000:00:04.0",
            "--device",
            "edu@0000:00:04.0");
    assertThat(run.status()).as(run.err()).isEqualTo(CliErrors.USAGE);
    assertThat(run.err()).startsWith("iommufd4j serve: --device: two devices at 0000:00:04.0\n");
  }
}
