package org.iommufd4j.diff;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongFunction;
import org.iommufd4j.Configuration;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IommufdException;
import org.iommufd4j.diff.DifferentialRunner.Outcome;
import org.iommufd4j.diff.DifferentialRunner.Report;

/**
 * The differential runner from the command line, with nothing but the core jar on the class path
 * (so it also runs in a JVM inside the kernel oracle's VM):
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp iommufd4j-core.jar org.iommufd4j.diff.DiffMain \
 *     [--left SIDE] [--right SIDE] [--trace]
 *     [--save FILE] (FILE | --sample | --sample-mock | --random[-mock] SEED[:COUNT] [--seeds N]
 *     | --print-sample)
 * </pre>
 *
 * <p>SIDE is {@code kernel} ({@code /dev/iommu}), {@code kernel:PATH}, or {@code emulated} with
 * optional settings: {@code emulated:memlock=0x10000,testAbi=false,capIpcLock=true,vfio}. The
 * defaults are {@code --left emulated --right kernel}. Every emulated side runs on a host of its
 * own. {@code --seeds N} runs N random sequences (seeds SEED to SEED + N - 1), each on freshly
 * opened sides, and stops at the first difference; {@code --save FILE} then writes the ops up to
 * it as a sequence file that reproduces it. Exit status: 0 no difference, 1 a difference (printed), 2 a usage error or a side that
 * cannot be opened.
 */
public final class DiffMain {
  private DiffMain() {}

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** The command without {@code System.exit}: returns the exit status. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    String left = "emulated";
    String right = "kernel";
    boolean trace = false;
    Path save = null;
    int seeds = 1;
    String label = null;
    LongFunction<OpSequence> generator = null;
    long seed = 0;
    OpSequence sequence = null;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--left" -> left = args[++i];
          case "--right" -> right = args[++i];
          case "--trace" -> trace = true;
          case "--save" -> save = Path.of(args[++i]);
          case "--seeds" -> seeds = Integer.parseInt(args[++i]);
          case "--sample" -> sequence = SampleSequences.ioasBasics();
          case "--sample-mock" -> sequence = SampleSequences.mockDomain();
          case "--random", "--random-mock" -> {
            boolean mock = args[i].equals("--random-mock");
            String[] sc = args[++i].split(":");
            seed = Long.parseLong(sc[0]);
            int count = sc.length > 1 ? Integer.parseInt(sc[1]) : 200;
            label = (mock ? "--random-mock " : "--random ") + "%d:" + count;
            generator = mock ? s -> SampleSequences.randomWithMockDomains(s, count)
                : s -> SampleSequences.random(s, count);
          }
          case "--print-sample" -> {
            out.print(SampleSequences.ioasBasics().format());
            return 0;
          }
          case "-h", "--help" -> {
            out.println(usage());
            return 0;
          }
          default -> {
            if (args[i].startsWith("-")) {
              throw new IllegalArgumentException("unknown option " + args[i]);
            }
            sequence = OpSequence.parse(Files.readString(Path.of(args[i])));
          }
        }
      }
      if (sequence == null && generator == null) {
        throw new IllegalArgumentException("no sequence: give a FILE, --sample or --random");
      }
    } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException | IOException e) {
      err.println("diff: " + e.getMessage());
      err.println(usage());
      return 2;
    }
    int runs = generator == null ? 1 : seeds;
    long ops = 0;
    for (int n = 0; n < runs; n++) {
      OpSequence s = generator == null ? sequence : generator.apply(seed + n);
      String name = generator == null ? "" : " [" + label.formatted(seed + n) + "]";
      int status = runOne(s, name, left, right, trace, save, out, err);
      if (status != 0) {
        return status;
      }
      ops += s.ops().size();
    }
    out.println("no difference: " + (runs > 1 ? runs + " sequences, " : "") + ops
        + " ops, left=" + left + " right=" + right);
    return 0;
  }

  private static int runOne(OpSequence sequence, String name, String left, String right,
      boolean trace, Path save, PrintStream out, PrintStream err) {
    try (Iommufd l = open(left); Iommufd r = open(right)) {
      Report report = DifferentialRunner.run(sequence, l, r);
      if (trace) {
        printTrace(out, sequence, report.left(), report.right());
      }
      if (report.same()) {
        return 0;
      }
      out.println("difference after " + report.opsRun() + " of " + sequence.ops().size()
          + " ops" + name + " (left=" + left + " right=" + right + "):");
      out.println(report.difference().orElseThrow().describe());
      if (save != null) {
        // The ops up to the difference: a replayable reproducer.
        OpSequence prefix = new OpSequence(sequence.buffers(),
            sequence.ops().subList(0, report.opsRun()));
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

  private static void printTrace(PrintStream out, OpSequence sequence, List<Outcome> left,
      List<Outcome> right) {
    for (int i = 0; i < left.size(); i++) {
      out.printf("#%d %-24s left=%s right=%s%n", i, sequence.ops().get(i).requestName(),
          left.get(i).resultText(), right.get(i).resultText());
    }
  }

  private static String usage() {
    return "usage: DiffMain [--left SIDE] [--right SIDE] [--trace] (FILE | --sample | "
        + "--sample-mock | --random[-mock] SEED[:COUNT] [--seeds N] | --print-sample)\n"
        + "  [--save FILE]: write the ops up to a difference, as a sequence file\n  SIDE: kernel | kernel:PATH | emulated[:memlock=N,testAbi=false,"
        + "capIpcLock=true,capSysResource=false,vfio]";
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
        case "memlock" -> b.memlockLimit(value.equals("unlimited") ? Configuration.UNLIMITED
            : value.startsWith("0x") ? Long.parseLong(value.substring(2), 16)
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
