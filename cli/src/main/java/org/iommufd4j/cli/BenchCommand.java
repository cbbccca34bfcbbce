package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.bench.MemoryFootprint;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./run.sh bench}: a quick JMH suite, each figure with its ratio to a bare system call
 * measured in the same run (these 2-core machines are noisy: compare within one run).
 */
@Command(name = "bench", description = "Run the benchmark suite and print a table of results.")
final class BenchCommand implements Runnable {
  private static final String PKG = "org.iommufd4j.bench.";

  /** One line of the suite: a JMH benchmark, its parameters and thread count. */
  record Case(String label, String benchmark, String param, String value, int threads) {}

  /** One measured line of the table; {@code opsPerUs} is the total throughput of all threads. */
  record Row(String label, double nsPerOp, double error, double opsPerUs) {}

  static final List<Case> SUITE =
      List.of(
          new Case("getppid() through FFM (baseline)", "SyscallBaseline.getppid", null, null, 1),
          new Case(
              "typed MAP+UNMAP 4 KiB fixed, 10k live",
              "IoasMapUnmapBench.typedMapUnmap4k",
              "live",
              "10000",
              1),
          new Case(
              "raw ioctl MAP+UNMAP 4 KiB fixed, 10k live",
              "IoasMapUnmapBench.rawMapUnmap4k",
              "live",
              "10000",
              1),
          new Case(
              "auto IOVA MAP+UNMAP, 0 live", "AutoAllocBench.mapAutoThenUnmap4k", "live", "0", 1),
          new Case(
              "auto IOVA MAP+UNMAP, 100k live",
              "AutoAllocBench.mapAutoThenUnmap4k",
              "live",
              "100000",
              1),
          new Case(
              "auto IOVA MAP+UNMAP, 1M live",
              "AutoAllocBench.mapAutoThenUnmap4k",
              "live",
              "1000000",
              1),
          new Case("MAP+UNMAP 2 MiB, mock domain", "DomainBench.mapUnmap2m", "model", "mock", 1),
          new Case(
              "MAP+UNMAP 2 MiB, VT-d-like domain", "DomainBench.mapUnmap2m", "model", "vtd", 1),
          new Case(
              "IOVA -> address through a VT-d-like domain",
              "DomainBench.translate",
              "model",
              "vtd",
              1),
          new Case(
              "MAP+UNMAP on own IOAS, 1 thread", "TwoIoasBench.mapUnmapOwnIoas", null, null, 1),
          new Case(
              "MAP+UNMAP on own IOAS, 2 threads", "TwoIoasBench.mapUnmapOwnIoas", null, null, 2));

  @Spec CommandSpec spec;

  @Option(names = "--json", paramLabel = "FILE", description = "Also write the results as JSON.")
  Path json;

  @Option(
      names = "--include",
      paramLabel = "REGEX",
      description = "Run only the cases whose label matches.")
  String include;

  @Option(
      names = "--iterations",
      defaultValue = "3",
      description = "Measurement iterations of 1 s per case (default: ${DEFAULT-VALUE}).")
  int iterations;

  @Option(names = "--no-memory", description = "Skip the heap-per-mapping measurement.")
  boolean noMemory;

  @Option(
      names = "--no-native",
      description = "Skip the native path (C driver through the shim, exec start-up).")
  boolean noNative;

  @Override
  public void run() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    List<Case> cases =
        SUITE.stream()
            .filter(
                c ->
                    include == null
                        || c.label().contains("baseline")
                        || c.label().matches("(?i).*(?:" + include + ").*"))
            .toList();
    boolean nativeIncluded =
        !noNative && (include == null || "native".matches("(?i).*(?:" + include + ").*"));
    if (include != null
        && !nativeIncluded
        && cases.stream().allMatch(c -> c.label().contains("baseline"))) {
      throw new CliErrors.UserError(
          "--include "
              + include
              + " matches no benchmark (labels: "
              + SUITE.stream().map(Case::label).filter(l -> !l.contains("baseline")).toList()
              + ", native)",
          CliErrors.USAGE);
    }
    List<Row> rows = new ArrayList<>();
    int i = 0;
    for (Case c : cases) {
      err.printf("[%d/%d] %s ...%n", ++i, cases.size(), c.label());
      err.flush();
      Row row = measure(c);
      err.printf("       %s%n", format(row.nsPerOp(), row.error()));
      rows.add(row);
    }
    if (nativeIncluded) {
      NativeBench.Result nat = NativeBench.run(err);
      if (nat != null) {
        rows.addAll(nat.rows());
      }
    }
    double baseline =
        rows.stream()
            .filter(r -> r.label().contains("baseline"))
            .mapToDouble(Row::nsPerOp)
            .findFirst()
            .orElse(Double.NaN);
    double footprint = Double.NaN;
    if (!noMemory) {
      err.println("heap per live 4 KiB mapping at 1M mappings ...");
      try {
        footprint = MemoryFootprint.measure(1_000_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    out.println(table(rows, baseline, footprint));
    if (json != null) {
      try {
        Files.writeString(json, json(rows, baseline, footprint));
      } catch (IOException e) {
        throw new IllegalStateException("cannot write " + json + ": " + e.getMessage(), e);
      }
    }
  }

  private Row measure(Case c) {
    ChainedOptionsBuilder options =
        new OptionsBuilder()
            .include(PKG + c.benchmark().replace(".", "\\.") + "$")
            .forks(1)
            .warmupIterations(2)
            .warmupTime(TimeValue.seconds(1))
            .measurementIterations(iterations)
            .measurementTime(TimeValue.seconds(1))
            .threads(c.threads())
            .timeUnit(TimeUnit.NANOSECONDS)
            .verbosity(VerboseMode.SILENT);
    if (c.param() != null) {
      options.param(c.param(), c.value());
    }
    try {
      RunResult result = new Runner(options.build()).runSingle();
      Result<?> primary = result.getPrimaryResult();
      double score = primary.getScore();
      double error = primary.getScoreError();
      if (primary.getScoreUnit().equals("ops/ns")) { // throughput: also show time per op
        double nsPerOp = c.threads() / score; // each thread's time per operation
        double relErr = Double.isNaN(error) ? Double.NaN : error / score;
        return new Row(c.label(), nsPerOp, nsPerOp * relErr, score);
      }
      if (!primary.getScoreUnit().equals("ns/op")) {
        throw new IllegalStateException("unexpected unit " + primary.getScoreUnit());
      }
      return new Row(c.label(), score, error, 1 / score);
    } catch (RunnerException e) {
      throw new IllegalStateException(
          "benchmark " + c.benchmark() + " failed: " + e.getMessage(), e);
    }
  }

  private static String format(double ns, double error) {
    return String.format(Locale.ROOT, "%,.1f ns/op ± %,.1f", ns, error);
  }

  static String table(List<Row> rows, double baseline, double footprint) {
    StringBuilder sb = new StringBuilder();
    sb.append(
        String.format(
            Locale.ROOT, "%-46s %14s %12s %10s%n", "operation", "ns/op", "± error", "x getppid"));
    for (Row r : rows) {
      String error = Double.isNaN(r.error()) ? "-" : String.format(Locale.ROOT, "%,.1f", r.error());
      sb.append(
          String.format(
              Locale.ROOT,
              "%-46s %,14.1f %12s %10.2f%n",
              r.label(),
              r.nsPerOp(),
              error,
              r.nsPerOp() / baseline));
    }
    if (!Double.isNaN(footprint)) {
      sb.append(
          String.format(
              Locale.ROOT, "%-46s %14.1f%n", "heap bytes per live 4 KiB mapping (1M)", footprint));
    }
    double one = throughput(rows, "1 thread");
    double two = throughput(rows, "2 threads");
    if (!Double.isNaN(one) && !Double.isNaN(two)) {
      sb.append(
          String.format(
              Locale.ROOT, "%-46s %14.2f%n", "2 threads / 1 thread throughput", two / one));
    }
    sb.append("(thread rows: each thread's time per operation)");
    return sb.toString();
  }

  private static double throughput(List<Row> rows, String suffix) {
    return rows.stream()
        .filter(r -> r.label().endsWith(suffix))
        .mapToDouble(Row::opsPerUs)
        .findFirst()
        .orElse(Double.NaN);
  }

  static String json(List<Row> rows, double baseline, double footprint) {
    StringBuilder sb = new StringBuilder("{\n  \"results\": [\n");
    for (int i = 0; i < rows.size(); i++) {
      Row r = rows.get(i);
      sb.append(
          String.format(
              Locale.ROOT,
              "    {\"operation\": \"%s\", \"nsPerOp\": %.3f, \"error\": %.3f, \"ratioToGetppid\": %.4f}%s%n",
              r.label(),
              r.nsPerOp(),
              Double.isNaN(r.error()) ? 0 : r.error(),
              r.nsPerOp() / baseline,
              i + 1 < rows.size() ? "," : ""));
    }
    sb.append("  ]");
    if (!Double.isNaN(footprint)) {
      sb.append(String.format(Locale.ROOT, ",%n  \"heapBytesPerMapping\": %.1f", footprint));
    }
    return sb.append("\n}\n").toString();
  }
}
