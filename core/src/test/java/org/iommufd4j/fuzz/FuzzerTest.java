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
  }
}
