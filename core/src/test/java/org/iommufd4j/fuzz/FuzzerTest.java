package org.iommufd4j.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A CI-sized fuzz run of the byte ABI: no emulator fault, no broken invariant, no leak. */
class FuzzerTest {
  private static final long SEED = Long.getLong("seed", 1234L);
  private static final long CALLS = Long.getLong("fuzz.calls", 30_000L);

  @TempDir Path dir;

  @Test
  void randomIoctlsNeverCrashBreakInvariantsOrLeak() {
    Fuzzer.Report report = new Fuzzer(SEED, 300, true, dir).run(CALLS, Long.MAX_VALUE, null);
    assertThat(report.failures())
        .as("%s; minimal cases saved in %s", report, report.saved())
        .isEmpty();
    assertThat(report.calls()).isGreaterThanOrEqualTo(CALLS);
    assertThat(report.paths().size()).as("distinct paths").isGreaterThan(100);
  }

  @Test
  void theEmulatedEdusFilesAreFuzzedThroughBothPathsWithTheirCallsAndErrnos() {
    Fuzzer.Report report =
        new Fuzzer(SEED + 2, 200, true, dir).run(CALLS / 2, Long.MAX_VALUE, null);
    assertThat(report.failures()).as("%s; saved %s", report, report.saved()).isEmpty();
    assertThat(report.paths())
        .contains(
            "open cdev -> positive",
            "open group -> positive",
            "VFIO_GROUP_GET_DEVICE_FD -> positive",
            "VFIO_DEVICE_BIND_IOMMUFD -> ok",
            "VFIO_DEVICE_ATTACH_IOMMUFD_PT -> ok",
            "VFIO_DEVICE_SET_IRQS -> ok",
            "VFIO_DEVICE_SET_IRQS -> EINVAL",
            "VFIO_DEVICE_GET_REGION_INFO -> ok",
            "pread region 0 -> positive",
            "pwrite region 7 -> positive",
            "mmap region 0 -> ok");
    assertThat(report.paths().stream().filter(p -> p.startsWith("VFIO_") || p.contains("region")))
        .as("distinct device paths")
        .hasSizeGreaterThan(50);
  }

  @Test
  void theSameSeedGeneratesTheSameCallsAndAnswers() {
    Fuzzer.Report a = new Fuzzer(SEED + 3, 150, true, null).run(3000, Long.MAX_VALUE, null);
    Fuzzer.Report b = new Fuzzer(SEED + 3, 150, true, null).run(3000, Long.MAX_VALUE, null);
    assertThat(b.paths()).isEqualTo(a.paths());
    assertThat(b.calls()).isEqualTo(a.calls());
  }

  @Test
  void productionKernelProfileFuzzesToo() {
    Fuzzer.Report report =
        new Fuzzer(SEED + 1, 300, false, dir).run(CALLS / 5, Long.MAX_VALUE, null);
    assertThat(report.failures()).as(report.toString()).isEmpty();
  }

  @Test
  void callsRoundTripThroughTheirJsonLines() {
    FuzzCall call =
        new FuzzCall(
            0x3b85,
            0x10008,
            List.of(
                new FuzzCall.Write(0x10008, new byte[] {40, 0, 0, 0, 7}),
                new FuzzCall.Write(0x20000, new byte[0])));
    FuzzCall back = FuzzCall.fromJson(call.toJson());
    assertThat(back.request()).isEqualTo(0x3b85);
    assertThat(back.arg()).isEqualTo(0x10008);
    assertThat(back.writes()).hasSize(2);
    assertThat(back.writes().getFirst().bytes()).containsExactly(40, 0, 0, 0, 7);
    FuzzCall close =
        FuzzCall.fromJson(new FuzzCall(FuzzCall.CLOSE_FD, 1_000_000, List.of()).toJson());
    assertThat(close.request()).isEqualTo(FuzzCall.CLOSE_FD);
    assertThat(close.fd()).isEqualTo(FuzzCall.IOMMUFD);
    FuzzCall pwrite =
        new FuzzCall(
            FuzzCall.PWRITE,
            0x200000,
            List.of(new FuzzCall.Write(0x200000, new byte[] {5})),
            1_000_001,
            7L << 40 | 4,
            2);
    assertThat(FuzzCall.fromJson(pwrite.toJson())).usingRecursiveComparison().isEqualTo(pwrite);
  }
}
