package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.LongFunction;
import org.iommufd4j.Configuration;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IommufdException;
import org.iommufd4j.diff.DifferentialRunner;
import org.iommufd4j.diff.DifferentialRunner.Outcome;
import org.iommufd4j.diff.DifferentialRunner.Report;
import org.iommufd4j.diff.OpSequence;
import org.iommufd4j.diff.SampleSequences;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code diff}: one sequence of raw ioctls on two iommufd sides, and their first difference. */
@Command(
    name = "diff",
    mixinStandardHelpOptions = true,
    description = {
      "Run one sequence of raw ioctls on two sides (the emulator, or the real "
          + "/dev/iommu) and report the first difference: result, struct written back, or a buffer "
          + "the call pointed into.",
      "SIDE: kernel | kernel:PATH | emulated[:memlock=N|unlimited,testAbi=false,"
          + "capIpcLock=true,capSysResource=false,vfio]; every emulated side has a host of its own.",
      "Exit status: 0 no difference, 1 a difference (printed), 2 a usage error or a side that "
          + "cannot be opened."
    })
final class DiffCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--left",
      paramLabel = "SIDE",
      defaultValue = "emulated",
      description = "The left side (default: ${DEFAULT-VALUE}).")
  String left;

  @Option(
      names = "--right",
      paramLabel = "SIDE",
      defaultValue = "kernel",
      description = "The right side (default: ${DEFAULT-VALUE}).")
  String right;

  @Option(names = "--trace", description = "Print each op's result on both sides.")
  boolean trace;

  @Option(
      names = "--save",
      paramLabel = "FILE",
      description = "After a difference, write the ops up to it as a sequence file.")
  Path save;

  @Option(
      names = "--seeds",
      paramLabel = "N",
      defaultValue = "1",
      description =
          "With --random: run N sequences (seeds SEED to SEED + N - 1), each on freshly "
              + "opened sides, and stop at the first difference.")
  int seeds;

  @ArgGroup(multiplicity = "1")
  Source source;

  /** Exactly one sequence. */
  static final class Source {
    @Parameters(paramLabel = "FILE", description = "A sequence file (--print-sample shows one).")
    Path file;

    @Option(names = "--sample", description = "The built-in IOAS sequence.")
    boolean sample;

    @Option(names = "--sample-mock", description = "The built-in sequence with mock domains.")
    boolean sampleMock;

    @Option(
        names = "--random",
        paramLabel = "SEED[:COUNT]",
        description = "A seeded random sequence of COUNT ops (default 200).")
    String random;

    @Option(
        names = "--random-mock",
        paramLabel = "SEED[:COUNT]",
        description = "The same, with mock domains (test ABI).")
    String randomMock;

    @Option(names = "--print-sample", description = "Print the sample's text form and exit.")
    boolean printSample;
  }

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    try {
      if (source.printSample) {
        out.print(SampleSequences.ioasBasics().format());
        return 0;
      }
      if (source.random != null || source.randomMock != null) {
        boolean mock = source.randomMock != null;
        String[] seedCount = (mock ? source.randomMock : source.random).split(":");
        long seed = Long.parseLong(seedCount[0]);
        int count = seedCount.length > 1 ? Integer.parseInt(seedCount[1]) : 200;
        LongFunction<OpSequence> generator =
            mock
                ? s -> SampleSequences.randomWithMockDomains(s, count)
                : s -> SampleSequences.random(s, count);
        String label = (mock ? "--random-mock " : "--random ") + "%d:" + count;
        return runSeeds(generator, seed, label);
      }
      OpSequence sequence =
          source.sample
              ? SampleSequences.ioasBasics()
              : source.sampleMock
                  ? SampleSequences.mockDomain()
                  : OpSequence.parse(Files.readString(source.file));
      int status = runOne(sequence, "");
      if (status == 0) {
        out.println(
            "no difference: " + sequence.ops().size() + " ops, left=" + left + " right=" + right);
      }
      return status;
    } catch (IOException | IllegalArgumentException e) {
      throw new ParameterException(spec.commandLine(), "diff: " + e.getMessage(), e);
    } finally {
      out.flush();
    }
  }

  private int runSeeds(LongFunction<OpSequence> generator, long seed, String label) {
    long ops = 0;
    for (int n = 0; n < seeds; n++) {
      OpSequence s = generator.apply(seed + n);
      int status = runOne(s, " [" + label.formatted(seed + n) + "]");
      if (status != 0) {
        return status;
      }
      ops += s.ops().size();
    }
    spec.commandLine()
        .getOut()
        .println(
            "no difference: "
                + (seeds > 1 ? seeds + " sequences, " : "")
                + ops
                + " ops, left="
                + left
                + " right="
                + right);
    return 0;
  }

  private int runOne(OpSequence sequence, String name) {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (Iommufd l = open(left);
        Iommufd r = open(right)) {
      Report report = DifferentialRunner.run(sequence, l, r);
      if (trace) {
        printTrace(out, sequence, report.left(), report.right());
      }
      if (report.same()) {
        return 0;
      }
      out.println(
          "difference after "
              + report.opsRun()
              + " of "
              + sequence.ops().size()
              + " ops"
              + name
              + " (left="
              + left
              + " right="
              + right
              + "):");
      out.println(report.difference().orElseThrow().describe());
      if (save != null) {
        // The ops up to the difference: a replayable reproducer.
        OpSequence prefix =
            new OpSequence(sequence.buffers(), sequence.ops().subList(0, report.opsRun()));
        Files.writeString(save, prefix.format());
        out.println("saved the first " + report.opsRun() + " ops to " + save);
      }
      return 1;
    } catch (IommufdException | IllegalArgumentException e) {
      err.println("diff: cannot open a side: " + e.getMessage());
      return 2;
    } catch (IOException e) {
      err.println("diff: cannot save: " + e.getMessage());
      return 2;
    }
  }

  private static void printTrace(
      PrintWriter out, OpSequence sequence, List<Outcome> left, List<Outcome> right) {
    for (int i = 0; i < left.size(); i++) {
      out.printf(
          "#%d %-24s left=%s right=%s%n",
          i,
          sequence.ops().get(i).requestName(),
          left.get(i).resultText(),
          right.get(i).resultText());
    }
  }

  /** Opens one side from its spec. */
  static Iommufd open(String spec) {
    if (spec.equals("kernel")) {
      return Iommufd.kernel();
    }
    if (spec.startsWith("kernel:")) {
      return Iommufd.kernel(spec.substring("kernel:".length()));
    }
    if (!spec.equals("emulated") && !spec.startsWith("emulated:")) {
      throw new IllegalArgumentException("side " + spec + ": expected kernel or emulated");
    }
    Configuration.Builder b = Configuration.builder().privateHost(true);
    String settings = spec.equals("emulated") ? "" : spec.substring("emulated:".length());
    for (String s : settings.split(",")) {
      if (s.isEmpty()) {
        continue;
      }
      int eq = s.indexOf('=');
      String key = eq < 0 ? s : s.substring(0, eq);
      String value = eq < 0 ? "true" : s.substring(eq + 1);
      switch (key) {
        case "memlock" ->
            b.memlockLimit(
                value.equals("unlimited")
                    ? Configuration.UNLIMITED
                    : value.startsWith("0x")
                        ? Long.parseLong(value.substring(2), 16)
                        : Long.parseLong(value));
        case "testAbi" -> b.testAbi(Boolean.parseBoolean(value));
        case "capIpcLock" -> b.capIpcLock(Boolean.parseBoolean(value));
        case "capSysResource" -> b.capSysResource(Boolean.parseBoolean(value));
        case "vfio" -> b.vfioContainer(Boolean.parseBoolean(value));
        default -> throw new IllegalArgumentException("side " + spec + ": unknown setting " + key);
      }
    }
    return Iommufd.emulated(b.build());
  }
}
