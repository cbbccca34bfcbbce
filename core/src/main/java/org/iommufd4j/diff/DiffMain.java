package org.iommufd4j.diff;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
 *     (FILE | --sample | --sample-mock | --random[-mock] SEED[:COUNT] | --print-sample)
 * </pre>
 *
 * <p>SIDE is {@code kernel} ({@code /dev/iommu}), {@code kernel:PATH}, or {@code emulated} with
 * optional settings: {@code emulated:memlock=0x10000,testAbi=false,capIpcLock=true,vfio}. The
 * defaults are {@code --left emulated --right kernel}. Every emulated side runs on a host of its
 * own. Exit status: 0 no difference, 1 a difference (printed), 2 a usage error or a side that
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
    OpSequence sequence = null;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--left" -> left = args[++i];
          case "--right" -> right = args[++i];
          case "--trace" -> trace = true;
          case "--sample" -> sequence = SampleSequences.ioasBasics();
          case "--sample-mock" -> sequence = SampleSequences.mockDomain();
          case "--random", "--random-mock" -> {
            String[] sc = args[++i].split(":");
            long seed = Long.parseLong(sc[0]);
            int count = sc.length > 1 ? Integer.parseInt(sc[1]) : 200;
            sequence = args[i - 1].equals("--random") ? SampleSequences.random(seed, count)
                : SampleSequences.randomWithMockDomains(seed, count);
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
      if (sequence == null) {
        throw new IllegalArgumentException("no sequence: give a FILE or --sample");
      }
    } catch (IllegalArgumentException | ArrayIndexOutOfBoundsException | IOException e) {
      err.println("diff: " + e.getMessage());
      err.println(usage());
      return 2;
    }
    try (Iommufd l = open(left); Iommufd r = open(right)) {
      Report report = DifferentialRunner.run(sequence, l, r);
      if (trace) {
        printTrace(out, sequence, report.left(), report.right());
      }
      if (report.same()) {
        out.println("no difference: " + report.opsRun() + " ops, left=" + left + " right="
            + right);
        return 0;
      }
      out.println("difference after " + report.opsRun() + " of " + sequence.ops().size()
          + " ops (left=" + left + " right=" + right + "):");
      out.println(report.difference().orElseThrow().describe());
      return 1;
    } catch (IommufdException | IllegalArgumentException e) {
      err.println("diff: cannot open a side: " + e.getMessage());
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
        + "--sample-mock | --random SEED[:COUNT] | --random-mock SEED[:COUNT] | --print-sample)\n  SIDE: kernel | kernel:PATH | emulated[:memlock=N,testAbi=false,"
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
