package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.fuzz.FuzzCall;
import org.iommufd4j.fuzz.Fuzzer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./run.sh fuzz}: structure-aware fuzzing of the byte ABI, or the replay of a saved case.
 */
@Command(
    name = "fuzz",
    description = "Fuzz the ioctl ABI of the emulator (or replay a saved case).")
final class FuzzCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--seconds",
      defaultValue = "10",
      description = "How long (default: ${DEFAULT-VALUE}).")
  long seconds;

  @Option(
      names = "--seed",
      defaultValue = "1234",
      description = "Seed (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(
      names = "--calls",
      defaultValue = "9223372036854775807",
      description = "Stop after this many calls.")
  long calls;

  @Option(
      names = "--calls-per-case",
      defaultValue = "300",
      description = "Calls on one context before a fresh one (default: ${DEFAULT-VALUE}).")
  int callsPerCase;

  @Option(names = "--production", description = "Fuzz a kernel without IOMMUFD_TEST.")
  boolean production;

  @Option(
      names = "--out",
      defaultValue = "fuzz-failures",
      description = "Where minimal failing cases are saved (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--replay", paramLabel = "FILE", description = "Replay a saved case instead.")
  Path replay;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Fuzzer fuzzer = new Fuzzer(seed, callsPerCase, !production, this.out);
    if (replay != null) {
      List<FuzzCall> case_ = Fuzzer.load(replay);
      String failure = fuzzer.replay(case_);
      out.println(
          replay
              + ": "
              + case_.size()
              + " calls, "
              + (failure == null ? "no failure" : "FAILS: " + failure));
      return failure == null ? 0 : 1;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    Fuzzer.Report report =
        fuzzer.run(
            calls,
            deadline,
            line -> {
              err.println("  " + line);
              err.flush();
            });
    out.println(report);
    for (String f : report.failures()) {
      out.println("  " + f);
    }
    for (Path p : report.saved()) {
      out.println("  saved " + p + " (replay: ./run.sh fuzz --replay " + p + ")");
    }
    return report.passed() ? 0 : 1;
  }
}
