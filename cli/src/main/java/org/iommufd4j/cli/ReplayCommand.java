package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iommufd4j.trace.Replayer;
import org.iommufd4j.trace.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code replay FILE}: re-executes a recorded trace on a fresh emulator. */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    description = {
      "Re-execute a trace recorded by `exec --record FILE` on a fresh emulator "
          + "(simulated memory seeded with the bytes the recording read, one context per recorded "
          + "open, the recording's devices made again with their timers fired where the recording's "
          + "fired) and report the first divergence: result/errno, reply bytes, memory written, "
          + "interrupts or DMA.",
      "Exit status: 0 no divergence, 1 a divergence, 2 not a trace."
    })
final class ReplayCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--all",
      description =
          "Go on after a divergence: report each context's "
              + "first (its later calls skipped) while the other contexts replay on.")
  boolean all;

  @Parameters(paramLabel = "FILE", description = "The trace (JSON lines).")
  Path file;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Trace trace;
    try {
      trace = Trace.read(file);
    } catch (IOException e) {
      throw CliErrors.cannotRead("the trace", file, e, CliErrors.USAGE);
    } catch (IllegalArgumentException e) {
      err.println("iommufd4j replay: " + e.getMessage());
      return CliErrors.USAGE;
    }
    Replayer.Result r;
    try {
      r =
          all
              ? Replayer.replayAll(trace, Devices.REPLAYED)
              : Replayer.replay(trace, Devices.REPLAYED);
    } catch (IllegalArgumentException e) {
      err.println("iommufd4j replay: cannot make the trace's devices: " + e.getMessage());
      return CliErrors.USAGE;
    }
    String counts =
        count(r.ioctls(), "ioctl")
            + ", "
            + count(r.opens(), "open")
            + ", "
            + count(r.closes(), "close")
            + ", "
            + count(r.memoryOps(), "memory operation")
            + (r.deviceEvents() == 0 ? "" : ", " + count(r.deviceEvents(), "device event"));
    if (all && r.diverged()) {
      r.divergences().forEach(out::println);
      out.println(
          r.divergences().size()
              + " of "
              + count(r.opens(), "context")
              + " diverged ("
              + counts
              + ", "
              + count(r.skipped(), "ioctl")
              + " skipped after a divergence)");
      out.flush();
      return 1;
    }
    if (r.diverged()) {
      out.println(r.divergence());
      out.println("(after " + counts + ")");
      out.flush();
      return 1;
    }
    out.println("no divergence: " + counts);
    out.flush();
    return 0;
  }

  /** "1 ioctl", "2 ioctls". */
  static String count(long n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }
}
