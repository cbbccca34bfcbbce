package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.iommufd4j.Configuration;
import org.iommufd4j.Iommufd;
import org.iommufd4j.diff.DifferentialRunner;
import org.iommufd4j.diff.DifferentialRunner.Report;
import org.iommufd4j.diff.OpSequence;
import org.iommufd4j.diff.SampleSequences;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code diff}: the differential runner from the command line, emulator against emulator. */
class DiffCommandTest {
  private static final Configuration OWN_HOST = Configuration.builder().privateHost(true).build();

  @TempDir Path dir;

  @Test
  void aDifferenceIsReportedWithExitStatusOne() throws Exception {
    Path file = dir.resolve("seq.ops");
    Files.writeString(file, SampleSequences.mockDomain().format());
    CliRun r =
        CliRun.of(
            "diff",
            "--left",
            "emulated",
            "--right",
            "emulated:memlock=0x10000",
            "--trace",
            file.toString());
    assertThat(r.status()).as(r.err()).isEqualTo(1);
    assertThat(r.out()).contains("#6 IOMMU_IOAS_MAP", "difference after 7 of 11 ops", "-ENOMEM");
    CliRun same = CliRun.of("diff", "--left", "emulated", "--right", "emulated", "--sample");
    assertThat(same.status()).as(same.err()).isZero();
    assertThat(same.out()).contains("no difference: ");
  }

  @Test
  void manySeedsRunUntilADifferenceAndItsReproducerIsSaved() throws Exception {
    CliRun many =
        CliRun.of(
            "diff",
            "--left",
            "emulated",
            "--right",
            "emulated",
            "--random-mock",
            "5:100",
            "--seeds",
            "3");
    assertThat(many.status()).as(many.err()).isZero();
    assertThat(many.out()).contains("no difference: 3 sequences");
    Path saved = dir.resolve("repro.ops");
    CliRun differs =
        CliRun.of(
            "diff",
            "--left",
            "emulated",
            "--right",
            "emulated:memlock=0x10000",
            "--random-mock",
            "1:300",
            "--seeds",
            "10",
            "--save",
            saved.toString());
    assertThat(differs.status()).as(differs.err()).isEqualTo(1);
    assertThat(differs.out()).contains("[--random-mock ", "-ENOMEM");
    OpSequence repro = OpSequence.parse(Files.readString(saved));
    try (Iommufd l = Iommufd.emulated(OWN_HOST);
        Iommufd r = Iommufd.emulated(OWN_HOST.toBuilder().memlockLimit(0x10000).build())) {
      Report again = DifferentialRunner.run(repro, l, r);
      assertThat(again.difference()).isPresent();
      assertThat(again.opsRun()).isEqualTo(repro.ops().size());
    }
  }

  @Test
  void aSideThatCannotBeOpenedIsExplainedWithExitStatusTwo() {
    CliRun r = CliRun.of("diff", "--right", "kernel:/nonexistent/iommu", "--sample");
    assertThat(r.status()).isEqualTo(2);
    assertThat(r.err()).contains("/nonexistent/iommu", "ENOENT");
  }

  @Test
  void aUsageErrorIsExitStatusTwo() {
    CliRun none = CliRun.of("diff", "--left", "emulated");
    assertThat(none.status()).isEqualTo(2);
    assertThat(none.err()).contains("Missing required argument");
    CliRun missing = CliRun.of("diff", dir.resolve("absent.ops").toString());
    assertThat(missing.status()).isEqualTo(2);
    assertThat(missing.err()).contains("absent.ops");
  }

  @Test
  void theSamplePrintsAsASequenceFile() {
    CliRun r = CliRun.of("diff", "--print-sample");
    assertThat(r.status()).isZero();
    assertThat(OpSequence.parse(r.out()).ops()).hasSameSizeAs(SampleSequences.ioasBasics().ops());
  }
}
