package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class BenchCommandTest {
  private static final List<BenchCommand.Row> ROWS =
      List.of(
          new BenchCommand.Row("getppid() through FFM (baseline)", 200, 5, 0.005),
          new BenchCommand.Row("typed MAP+UNMAP 4 KiB fixed, 10k live", 100, 2, 0.01),
          new BenchCommand.Row("MAP+UNMAP on own IOAS, 1 thread", 300, 3, 1 / 300.0),
          new BenchCommand.Row("MAP+UNMAP on own IOAS, 2 threads", 330, 3, 2 / 330.0));

  @Test
  void tableShowsRatiosToTheBaselineAndTheThreadSpeedup() {
    String table = BenchCommand.table(ROWS, 200, 121.5);
    assertThat(table)
        .contains("typed MAP+UNMAP 4 KiB fixed, 10k live")
        .containsPattern("typed MAP\\+UNMAP 4 KiB fixed, 10k live +100.0 +2.0 +0.50")
        .containsPattern("2 threads / 1 thread throughput +1.82")
        .containsPattern("heap bytes per live 4 KiB mapping \\(1M\\) +121.5");
  }

  @Test
  void jsonListsEveryRow() {
    String json = BenchCommand.json(ROWS, 200, Double.NaN);
    assertThat(json)
        .contains("\"operation\": \"getppid() through FFM (baseline)\"")
        .contains("\"ratioToGetppid\": 0.5000")
        .doesNotContain("heapBytesPerMapping");
  }

  @Test
  void suiteStartsWithTheBaselineAndCoversTheIssueTargets() {
    assertThat(BenchCommand.SUITE.getFirst().label()).contains("baseline");
    assertThat(BenchCommand.SUITE)
        .extracting(BenchCommand.Case::benchmark)
        .contains(
            "IoasMapUnmapBench.typedMapUnmap4k",
            "IoasMapUnmapBench.rawMapUnmap4k",
            "AutoAllocBench.mapAutoThenUnmap4k",
            "DomainBench.mapUnmap2m",
            "DomainBench.translate",
            "TwoIoasBench.mapUnmapOwnIoas");
  }
}
