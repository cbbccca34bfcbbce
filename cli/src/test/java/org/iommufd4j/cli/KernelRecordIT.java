package org.iommufd4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.trace.MemoryLog;
import org.iommufd4j.trace.Trace;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code exec --record FILE --kernel} with real processes, the real shim and real preloading. These
 * machines have no /dev/iommu, so the kernel is a stand-in preloaded after the shim ({@code
 * tests/fake_kernel.c}, which answers t_kernel's calls as Linux 6.12 does): the shim's
 * pass-through, the server's footprints and the trace are real; only the kernel is not. The real
 * kernel was checked in the oracle VM (README, "Record and replay").
 */
class KernelRecordIT {
  private static final Path TESTS =
      Path.of("../bridge/target/native/tests").toAbsolutePath().normalize();
  private static final Path FAKE = TESTS.resolve("libfakekernel.so");

  @TempDir Path dir;

  @BeforeAll
  static void built() {
    assertThat(FAKE).as("built by the bridge module").isRegularFile();
  }

  /** Records t_kernel on the stand-in kernel; {@code lie}: what FAKE_KERNEL_LIE says. */
  private Path recordOnStandIn(String lie, String... options) {
    Path trace = dir.resolve("kernel.jsonl");
    Path log = dir.resolve("t_kernel.log");
    String env = lie == null ? "" : "FAKE_KERNEL_LIE=" + lie + " ";
    List<String> args = new ArrayList<>(List.of("exec", "--record", trace.toString(), "--kernel"));
    args.addAll(List.of(options));
    args.addAll(
        List.of(
            "--",
            "sh",
            "-c",
            env
                + "LD_PRELOAD=\"$LD_PRELOAD "
                + FAKE
                + "\" exec "
                + TESTS.resolve("t_kernel")
                + " >"
                + log
                + " 2>&1"));
    CliRun r = CliRun.of(args.toArray(String[]::new));
    assertThat(r.status()).as("%s %s", r.err(), log).isEqualTo(lie == null ? 0 : 1);
    return trace;
  }

  @Test
  void aKernelRecordingSaysSoAndHoldsEveryCallWithItsFootprint() throws Exception {
    Trace t = Trace.read(recordOnStandIn(null));
    assertThat(t.header().kernel()).isTrue();
    assertThat(t.header().testAbi()).as("the stand-in has no IOMMU_TEST_CMD").isFalse();
    List<Trace.Ioctl> calls =
        t.events().stream()
            .filter(Trace.Ioctl.class::isInstance)
            .map(Trace.Ioctl.class::cast)
            .toList();
    assertThat(calls)
        .extracting(Trace.Ioctl::request)
        .containsExactly(
            0x3b81L, 0x3b84L, 0x3b84L, 0x3b82L, 0x3b85L, 0x3b85L, 0x3b86L, 0x3b80L, 0x3b80L);
    assertThat(calls)
        .extracting(Trace.Ioctl::result)
        .containsExactly(0L, 0L, -14L, 0L, 0L, -17L, 0L, -2L, 0L);
    assertThat(calls).allMatch(c -> c.file() == 1 && c.nanos() > 0);
    // IOVA_RANGES: the struct, then the array before and after (one range written)
    Trace.Ioctl ranges = calls.get(1);
    assertThat(ranges.memory())
        .extracting(MemoryLog.Op::kind)
        .containsExactly(
            MemoryLog.Kind.READ, MemoryLog.Kind.READ, MemoryLog.Kind.WRITE, MemoryLog.Kind.WRITE);
    assertThat(ranges.memory().get(3).length()).isEqualTo(4 * 16);
    assertThat(ranges.memory().get(3).bytes())
        .startsWith(new byte[8])
        .contains((byte) 0x5a); // slots the kernel left alone keep their bytes
    // the faulting array: its read failed, so a replay unmaps it
    assertThat(calls.get(2).memory())
        .anyMatch(op -> op.kind() == MemoryLog.Kind.READ && op.address() == 8 && !op.ok());
    // MAP pins its user range
    assertThat(calls.get(4).memory())
        .anyMatch(
            op ->
                op.kind() == MemoryLog.Kind.PINNABLE
                    && op.length() == 8192
                    && op.write()
                    && op.ok());
    assertThat(t.events()).filteredOn(Trace.Close.class::isInstance).hasSize(1);
    assertThat(t.events()).filteredOn(Trace.Process.class::isInstance).hasSize(1);
  }

  @Test
  void aFaithfulKernelsRecordingReplaysOnTheEmulatorWithoutDivergence() {
    Path trace = recordOnStandIn(null);
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).as(r.out() + r.err()).isZero();
    assertThat(r.out()).startsWith("no divergence: 9 ioctls, 1 open, 1 close");
  }

  @Test
  void memoryServedByTheShimRecordsTheSame() throws Exception {
    Trace direct = Trace.read(recordOnStandIn(null));
    Trace served = Trace.read(recordOnStandIn(null, "--shim-memory"));
    assertThat(served.events())
        .filteredOn(Trace.Ioctl.class::isInstance)
        .hasSameSizeAs(direct.events().stream().filter(Trace.Ioctl.class::isInstance).toList());
    CliRun r = CliRun.of("replay", dir.resolve("kernel.jsonl").toString());
    assertThat(r.out()).startsWith("no divergence: 9 ioctls");
  }

  @Test
  void aKernelAnswerTheEmulatorDoesNotGiveIsReportedAtItsCall() {
    Path trace = recordOnStandIn("unmap"); // UNMAP says half the length: t_kernel fails too
    CliRun r = CliRun.of("replay", trace.toString());
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.out())
        .contains("divergence at ioctl #7 (request 0x3b86 on file 1): reply bytes")
        .contains("recorded: ")
        .contains("180000000100000000001000000000000010000000000000")
        .contains("replayed: ")
        .contains("180000000100000000001000000000000020000000000000");
  }

  @Test
  void withoutDevIommuTheProgramFailsAsItWouldAndExecSaysWhy() throws Exception {
    assumeFalse(Files.exists(Path.of("/dev/iommu")), "this machine has a /dev/iommu");
    Path trace = dir.resolve("none.jsonl");
    CliRun r =
        CliRun.of(
            "exec",
            "--record",
            trace.toString(),
            "--kernel",
            "--",
            "sh",
            "-c",
            TESTS.resolve("t_kernel") + " 2>&1 | grep -q 'open(/dev/iommu): No such file'");
    assertThat(r.status()).as(r.err()).isZero();
    assertThat(r.err()).contains("cannot open /dev/iommu (ENOENT)");
    assertThat(Trace.read(trace).events()).isEmpty();
  }

  @Test
  void kernelNeedsARecordAndRefusesTheEmulatorsOptions() {
    Path trace = dir.resolve("x.jsonl");
    assertThat(CliRun.of("exec", "--kernel", "--", "true").err())
        .contains("--kernel needs --record");
    for (String option :
        List.of("--inspect-at-exit", "--fault-injection", "--selftest-compat", "--no-test-abi")) {
      CliRun r = CliRun.of("exec", "--record", trace.toString(), "--kernel", option, "--", "true");
      assertThat(r.status()).as(option).isEqualTo(125);
      assertThat(r.err()).as(option).contains(option);
    }
  }
}
