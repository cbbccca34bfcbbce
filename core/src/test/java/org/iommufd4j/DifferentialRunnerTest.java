package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.diff.DifferentialRunner;
import org.iommufd4j.diff.DifferentialRunner.Difference;
import org.iommufd4j.diff.DifferentialRunner.Outcome;
import org.iommufd4j.diff.DifferentialRunner.Report;
import org.iommufd4j.diff.OpSequence;
import org.iommufd4j.diff.SampleSequences;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIovaRange;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/** {@link DifferentialRunner} emulator against emulator; the kernel side is in the README. */
class DifferentialRunnerTest {
  private static final Configuration OWN_HOST = Configuration.builder().privateHost(true).build();

  private static Report run(OpSequence sequence, Configuration left, Configuration right) {
    try (Iommufd l = Iommufd.emulated(left);
        Iommufd r = Iommufd.emulated(right)) {
      return DifferentialRunner.run(sequence, l, r);
    }
  }

  private static List<String> results(List<Outcome> outcomes) {
    return outcomes.stream().map(Outcome::resultText).toList();
  }

  @Test
  void identicalConfigurationsShowNoDifferenceOnTheBasicSample() {
    Report report = run(SampleSequences.ioasBasics(), OWN_HOST, OWN_HOST);
    assertThat(report.difference()).isEmpty();
    assertThat(report.opsRun()).isEqualTo(SampleSequences.ioasBasics().ops().size());
    // The sample does what its comments say: these are the errno cases it is meant to reach.
    assertThat(results(report.left()))
        .containsExactly(
            "0",
            "0",
            "0",
            "0",
            "-EEXIST (-17)",
            "0",
            "0",
            "-EPERM (-1)",
            "-EMSGSIZE (-90)",
            "0",
            "0",
            "0",
            "-EINVAL (-22)",
            "-ENOENT (-2)",
            "0",
            "0",
            "0",
            "0",
            "0",
            "-ENOENT (-2)",
            "0");
  }

  @Test
  void identicalConfigurationsShowNoDifferenceOnTheMockDomainSample() {
    Report report = run(SampleSequences.mockDomain(), OWN_HOST, OWN_HOST);
    assertThat(report.difference()).isEmpty();
    assertThat(results(report.left()))
        .containsExactly(
            "0", "0", "-EADDRINUSE (-98)", "0", "0", "0", "0", "-EINVAL (-22)", "0", "0", "0");
  }

  @Test
  void aSmallerMemlockLimitIsReportedAtTheFirstMapThatPins() {
    Configuration small = OWN_HOST.toBuilder().memlockLimit(64 << 10).build();
    Report report = run(SampleSequences.mockDomain(), OWN_HOST, small);
    Difference d = report.difference().orElseThrow();
    assertThat(d.index()).isEqualTo(6);
    assertThat(d.op().requestName()).isEqualTo("IOMMU_IOAS_MAP");
    assertThat(d.what()).isEqualTo("result");
    assertThat(d.left()).isEqualTo("0");
    assertThat(d.right()).isEqualTo("-ENOMEM (-12)");
    assertThat(report.opsRun()).isEqualTo(7);
    assertThat(d.describe()).contains("op #6 IOMMU_IOAS_MAP", "-ENOMEM");
  }

  @Test
  void aKernelWithoutTheTestAbiIsReportedAtTheFirstTestCommand() {
    Configuration noTest = OWN_HOST.toBuilder().testAbi(false).build();
    Difference d = run(SampleSequences.mockDomain(), OWN_HOST, noTest).difference().orElseThrow();
    assertThat(d.index()).isEqualTo(2);
    assertThat(d.left()).isEqualTo("-EADDRINUSE (-98)");
    assertThat(d.right()).isEqualTo("-ENOTTY (-25)");
  }

  /** An emulator whose MAP reports one IOVA too high: the struct written back differs. */
  @Test
  void aDifferentStructWrittenBackIsReportedWithItsOffset() {
    try (Iommufd left = Iommufd.emulated(OWN_HOST);
        Iommufd right =
            new IoctlOverEmulator(Iommufd.emulated(OWN_HOST)) {
              @Override
              int rawIoctl(long request, MemorySegment arg) {
                int rc = super.rawIoctl(request, arg);
                if (request == Command.IOMMU_IOAS_MAP.request() && rc == 0) {
                  Struct map = Struct.over(arg, IommuIoasMap.LAYOUT);
                  map.u64(IommuIoasMap.IOVA, map.u64(IommuIoasMap.IOVA) + 4096);
                }
                return rc;
              }
            }) {
      Difference d =
          DifferentialRunner.run(SampleSequences.ioasBasics(), left, right)
              .difference()
              .orElseThrow();
      assertThat(d.index()).isEqualTo(2);
      assertThat(d.what()).isEqualTo("struct written back differs at offset 33");
    }
  }

  /** An emulator that reports the wrong range in IOVA_RANGES' array: a buffer differs. */
  @Test
  void aDifferentOutputArrayIsReportedWithTheBufferAndOffset() {
    try (Iommufd left = Iommufd.emulated(OWN_HOST);
        Iommufd right =
            new IoctlOverEmulator(Iommufd.emulated(OWN_HOST)) {
              @Override
              int rawIoctl(long request, MemorySegment arg) {
                int rc = super.rawIoctl(request, arg);
                if (request == Command.IOMMU_IOAS_IOVA_RANGES.request() && rc == 0) {
                  long array =
                      Struct.over(arg, IommuIoasIovaRanges.LAYOUT)
                          .u64(IommuIoasIovaRanges.ALLOWED_IOVAS);
                  Struct.over(MemorySegment.ofAddress(array).reinterpret(16), IommuIovaRange.LAYOUT)
                      .u64(IommuIovaRange.START, 0x1000L);
                }
                return rc;
              }
            }) {
      Difference d =
          DifferentialRunner.run(SampleSequences.ioasBasics(), left, right)
              .difference()
              .orElseThrow();
      assertThat(d.index()).isEqualTo(9);
      assertThat(d.what()).startsWith("buffer ranges differs at offset 0x1");
    }
  }

  @Test
  void identicalConfigurationsAgreeOnSeededRandomSequences() {
    long seed = Long.getLong("seed", 1234L);
    for (long s = seed; s < seed + 20; s++) {
      OpSequence sequence =
          s % 2 == 0
              ? SampleSequences.random(s, 150)
              : SampleSequences.randomWithMockDomains(s, 150);
      Report report = run(sequence, OWN_HOST, OWN_HOST);
      assertThat(report.difference()).as("seed " + s).isEmpty();
      assertThat(results(report.left()))
          .as("seed " + s + " reaches errors and successes")
          .contains("0")
          .anyMatch(r -> r.startsWith("-"));
      assertThat(OpSequence.parse(sequence.format())).as("seed " + s).isEqualTo(sequence);
    }
  }

  @Test
  void theTextFormRoundTrips() {
    for (OpSequence s : List.of(SampleSequences.ioasBasics(), SampleSequences.mockDomain())) {
      String text = s.format();
      assertThat(text).startsWith(OpSequence.HEADER + "\n");
      assertThat(OpSequence.parse(text)).isEqualTo(s);
    }
  }

  @Test
  void handWrittenTextRuns() {
    OpSequence s =
        OpSequence.parse(
            """
        iommufd4j-ops 1
        # a comment, then a buffer and two calls
        buffer data 0x1000 fill=0x5a
        ioctl IOMMU_IOAS_ALLOC 0c000000000000000000000000
        ioctl 0x3b85 280000000600000001000000000000000000000000000000001000000000000000000000000000 @16=data+0x0
        """);
    assertThat(s.ops()).hasSize(2);
    assertThat(s.ops().get(1).requestName()).isEqualTo("IOMMU_IOAS_MAP");
    try (Iommufd i = Iommufd.emulated(OWN_HOST)) {
      assertThat(results(DifferentialRunner.runOne(s, i))).containsExactly("0", "0");
    }
  }

  @Test
  void parseErrorsNameTheLine() {
    assertThatThrownBy(() -> OpSequence.parse("iommufd4j-ops 1\nbuffer x 0x10\nioctl NOPE 00\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("line 3:");
    assertThatThrownBy(
            () ->
                OpSequence.parse(
                    "iommufd4j-ops 1\nioctl IOMMU_DESTROY 0800000001000000 @0=nowhere\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("unknown buffer nowhere");
    assertThatThrownBy(() -> OpSequence.parse("ioctl IOMMU_DESTROY 00\n"))
        .hasMessageContaining("iommufd4j-ops 1");
  }
}
