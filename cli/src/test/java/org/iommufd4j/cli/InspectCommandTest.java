package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.inspect.Snapshot.OwnerKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
  /** Exit status, standard output and standard error of one run. */
  @Test
  void withoutASourceItShowsTheExampleAsATable() {
    CliRun r = CliRun.of("inspect");
    assertThat(r.status()).isZero();
    assertThat(r.out())
        .startsWith("iommufd context: open, 7 objects")
        .contains(
            "IOAS 1: alignment 0x1000, huge pages on, domains hwpt 3, hwpt 5",
            "IOAS 6: alignment 0x1000, huge pages on, domains none, accesses access 7",
            "domain of hwpt 3",
            "domain of hwpt 5",
            "device 4",
            "test",
            "selftest-mock",
            "radix",
            "[0x100000000 +0x2000]x1",
            "USER");
  }

  @Test
  void theExampleHasEveryKindOfThing() {
    Snapshot s = InspectExample.take();
    assertThat(s.ioases()).hasSize(2);
    assertThat(s.ioases().get(0).reserved())
        .extracting(Snapshot.Reserved::owner)
        .contains(OwnerKind.DOMAIN, OwnerKind.DEVICE);
    assertThat(s.ioases().get(1).reserved())
        .extracting(Snapshot.Reserved::owner)
        .containsExactly(OwnerKind.TEST);
    assertThat(s.ioases().get(1).allowed()).hasSize(2);
    assertThat(s.ioases().get(0).areas()).hasSize(3);
    assertThat(s.ioases().get(1).areas().getFirst().pageSourceId())
        .as("a COPY of the first mapping")
        .isEqualTo(1);
    assertThat(s.devices())
        .extracting(Snapshot.DeviceState::model)
        .containsExactly("selftest-mock", "radix");
    assertThat(s.accesses()).singleElement().satisfies(a -> assertThat(a.pins()).hasSize(1));
    assertThat(s.host().pinnedFrames()).isPositive();
    assertThat(s.host().accounts()).isNotEmpty();
  }

  @Test
  void jsonReadsBackAndRendersTheSameTable(@TempDir Path dir) throws Exception {
    CliRun json = CliRun.of("inspect", "--json");
    assertThat(json.status()).isZero();
    Snapshot s = Snapshot.fromJson(json.out());
    assertThat(s.ioases()).hasSize(2);
    Path file = dir.resolve("state.json");
    Files.writeString(file, json.out());
    CliRun again = CliRun.of("inspect", "--input", file.toString());
    assertThat(again.status()).isZero();
    assertThat(again.out()).isEqualTo(s.toTable());
  }

  @Test
  void inputReadsTheContextsDocumentOfExecAndServe(@TempDir Path dir) throws Exception {
    ContextStates states =
        new ContextStates(
            List.of(
                new ContextStates.Entry(1, 4242, true, InspectExample.take()),
                new ContextStates.Entry(2, 4243, false, InspectExample.take())));
    Path file = Files.writeString(dir.resolve("contexts.json"), states.toJson());
    CliRun r = CliRun.of("inspect", "--input", file.toString());
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.out())
        .isEqualTo(states.toTable())
        .contains(
            "== context 1 (opened by pid 4242), just before its teardown ==",
            "== context 2 (opened by pid 4243) ==");
    CliRun json = CliRun.of("inspect", "--input", file.toString(), "--json");
    assertThat(ContextStates.fromJson(json.out()).contexts()).hasSize(2);
  }

  @Test
  void svgIsWrittenToTheFileAndIsWellFormed(@TempDir Path dir) throws Exception {
    Path svg = dir.resolve("iova.svg");
    CliRun r = CliRun.of("inspect", "--svg", svg.toString());
    assertThat(r.status()).isZero();
    assertThat(r.out()).startsWith("iommufd context:");
    assertThat(r.err()).contains("wrote " + svg, "2 IOVA spaces");
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    var doc = f.newDocumentBuilder().parse(new ByteArrayInputStream(Files.readAllBytes(svg)));
    assertThat(doc.getDocumentElement().getLocalName()).isEqualTo("svg");
    assertThat(Files.readString(svg))
        .contains(
            "data-ioas=\"1\"",
            "data-ioas=\"6\"",
            "data-kind=\"area\"",
            "data-kind=\"reserved\"",
            "data-kind=\"allowed\"",
            "data-kind=\"aperture\"");
  }

  @Test
  void aFileThatIsNotASnapshotFailsWithTheReason(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("other.json");
    Files.writeString(file, "{\"format\": \"something else\"}");
    CliRun r = CliRun.of("inspect", "--input", file.toString());
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.err()).contains("inspect: not an iommufd4j snapshot");
  }

  @Test
  void helpSaysWhatItShowsWithoutASource() {
    CliRun r = CliRun.of("inspect", "--help");
    assertThat(r.out())
        .contains("example state on the embedded emulator", "--json", "--svg", "--input");
  }
}
