package org.iommufd4j.inspect;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class JsonFormatTest {
  @Test
  void readingWhatWasWrittenGivesTheSameSnapshot() {
    Snapshot s = Samples.everything();
    assertThat(Snapshot.fromJson(s.toJson())).isEqualTo(s);
    Snapshot many = Samples.manyAreas(300);
    assertThat(Snapshot.fromJson(many.toJson())).isEqualTo(many);
  }

  @Test
  void u64ValuesAreHexStringsAndCountsAreNumbers() {
    String json = Samples.everything().toJson();
    assertThat(json)
        .contains(
            "\"format\": \"iommufd4j-snapshot\"",
            "\"version\": 1",
            "{\"start\": \"0x8000000000000000\", \"last\": \"0xffffffffffffffff\", "
                + "\"owner\": \"DOMAIN\", \"ownerId\": 3}",
            "\"owner\": \"TEST\", \"ownerId\": 0",
            "\"owner\": \"DEVICE\", \"ownerId\": 2",
            "\"iova\": \"0x1000\", \"last\": \"0x1fff\"",
            "\"pageSource\": 1",
            "\"pinnedPages\": 262144",
            "\"alignment\": \"0x1000\"",
            "\"domainHwpts\": [3]",
            "\"aperture\": null",
            "\"pageSizes\": \"0x201000\"",
            "\"pins\": [{\"iova\": \"0x500000\", \"length\": \"0x2000\", \"uses\": 2}]",
            "\"kind\": \"PROCESS\", \"id\": 42, \"pages\": 512");
  }

  @Test
  void vfioDevicesRoundTripAndOtherDevicesHaveNone() {
    Snapshot s = Samples.withVfioDevices();
    assertThat(Snapshot.fromJson(s.toJson())).isEqualTo(s);
    String json = s.toJson();
    assertThat(json)
        .contains(
            "\"vfio\": null",
            "\"bdf\": \"0000:00:04.0\"",
            "\"vendorId\": \"0x1234\"",
            "\"openedVia\": \"CDEV\"",
            "\"summary\": \"mac 52:54:00:00:05:00, link up\"",
            "{\"index\": 0, \"type\": \"MEM64\", \"prefetchable\": true, \"size\": \"0x4000\"}",
            "\"irqs\": {\"type\": \"INTX\", \"vectors\": 1, \"eventfds\": 1, \"masked\": true}",
            "\"dma\": {\"reads\": 3, \"readBytes\": 12288, \"writes\": 2, \"writeBytes\": 8,"
                + " \"faults\": 1, \"lastFaultIova\": \"0xdeadb000\"}");
  }

  @Test
  void documentsWrittenBeforeVfioDevicesHadASummaryReadAsEmpty() {
    Snapshot s = Samples.withVfioDevices();
    String old = s.toJson().replaceAll("\"summary\": \"[^\"]*\",\\s*", "");
    assertThat(old).doesNotContain("\"summary\"");
    assertThat(Snapshot.fromJson(old).devices())
        .filteredOn(d -> d.vfio() != null)
        .extracting(d -> d.vfio().summary())
        .containsOnly("");
  }

  @Test
  void documentsWrittenBeforeDevicesHadVfioReadAsNone() {
    Snapshot s = Samples.everything();
    String old = s.toJson().replaceAll(",\\s*\"vfio\": null", "");
    assertThat(old).doesNotContain("\"vfio\"");
    assertThat(Snapshot.fromJson(old)).isEqualTo(s);
  }

  @Test
  void eachAreaIsOneLine() {
    String json = Samples.manyAreas(3).toJson();
    assertThat(json.lines().filter(l -> l.contains("\"iova\"")).count()).isEqualTo(3);
    assertThat(json.lines().filter(l -> l.contains("\"iova\"")))
        .allSatisfy(
            l ->
                assertThat(l.strip())
                    .startsWith("{\"iova\"")
                    .contains("\"accessPins\"")
                    .endsWith("}" + (l.endsWith(",") ? "," : "")));
  }

  @Test
  void stringsAreEscaped() {
    Snapshot s = Samples.everything();
    Snapshot odd =
        new Snapshot(
            false,
            false,
            List.of(),
            List.of(),
            List.of(),
            List.of(
                new Snapshot.DeviceState(
                    2, 0, "a \"quoted\"\\model\n", null, 0, List.of(), 0, 0, null)),
            List.of(),
            List.of(),
            List.of(),
            s.host());
    assertThat(Snapshot.fromJson(odd.toJson())).isEqualTo(odd);
  }

  @Test
  void documentsThatAreNotSnapshotsAreRefusedWithTheReason() {
    assertThatThrownBy(() -> Snapshot.fromJson("{\"format\": \"other\"}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not an iommufd4j");
    assertThatThrownBy(
            () -> Snapshot.fromJson("{\"format\": \"iommufd4j-snapshot\", " + "\"version\": 2}"))
        .hasMessageContaining("version 2");
    String json = Samples.everything().toJson();
    assertThatThrownBy(
            () ->
                Snapshot.fromJson(json.replace("\"alignment\": \"0x1000\"", "\"alignment\": 4096")))
        .hasMessageContaining("$.ioases[0].alignment");
    assertThatThrownBy(() -> Snapshot.fromJson(json.replace("\"pageCount\": 512,", "")))
        .hasMessageContaining("$.pageSources[1].pageCount is missing");
    assertThatThrownBy(() -> Snapshot.fromJson(json + "x")).hasMessageContaining("offset");
    assertThatThrownBy(() -> Snapshot.fromJson("{\"a\": 1.5}")).hasMessageContaining("integers");
  }
}
