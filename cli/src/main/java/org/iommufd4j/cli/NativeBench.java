package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The native half of {@code ./run.sh bench}: the C latency driver run through the shim by {@code
 * ./run.sh exec} (medians of real system calls against the emulated {@code /dev/iommu}, with a C
 * getppid and a plain Unix-socket round trip as baselines), and the start-up cost of {@code exec --
 * true} against {@code --version}. Needs a source checkout (run.sh and the built driver).
 */
final class NativeBench {
  private static final Pattern LINE =
      Pattern.compile("^(.+?)\\s+median\\s+([0-9.]+) us\\s+p99\\s+([0-9.]+) us$");
  private static final int STARTS = 7;

  record Result(List<BenchCommand.Row> rows) {}

  private NativeBench() {}

  /** The repository root, found from the CLI jar's location (cli/target/cli-*.jar). */
  static Path root() {
    try {
      Path jar =
          Path.of(NativeBench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path root = jar.getParent().getParent().getParent();
      return Files.isExecutable(root.resolve("run.sh")) ? root : null;
    } catch (Exception e) {
      return null;
    }
  }

  static Result run(PrintWriter err) {
    Path root = root();
    Path driver = root == null ? null : root.resolve("bridge/target/native/bench/latency");
    if (driver == null || !Files.isExecutable(driver)) {
      err.println("native: skipped (needs a source checkout with bridge/target/native built)");
      return null;
    }
    List<BenchCommand.Row> rows = new ArrayList<>();
    try {
      err.println("[native] C latency driver through the shim (./run.sh exec) ...");
      String out =
          exec(
              root,
              List.of(root.resolve("run.sh").toString(), "exec", "--", driver.toString(), "20000"));
      for (String line : out.split("\n")) {
        Matcher m = LINE.matcher(line.strip());
        if (m.matches()) {
          rows.add(
              new BenchCommand.Row(
                  "native: " + m.group(1).strip() + " (median)",
                  1000 * Double.parseDouble(m.group(2)),
                  Double.NaN,
                  Double.NaN));
        }
      }
      err.println("[native] start-up: exec -- true against --version ...");
      double version = medianMillis(root, List.of(root.resolve("run.sh").toString(), "--version"));
      double execTrue =
          medianMillis(root, List.of(root.resolve("run.sh").toString(), "exec", "--", "true"));
      rows.add(
          new BenchCommand.Row(
              "native: ./run.sh --version (median)", version * 1e6, Double.NaN, Double.NaN));
      rows.add(
          new BenchCommand.Row(
              "native: ./run.sh exec -- true (median)", execTrue * 1e6, Double.NaN, Double.NaN));
    } catch (IOException e) {
      err.println("native: failed: " + e.getMessage());
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
    return new Result(rows);
  }

  private static String exec(Path root, List<String> command)
      throws IOException, InterruptedException {
    Process p =
        new ProcessBuilder(command).directory(root.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IOException(String.join(" ", command) + " exited " + p.exitValue() + ": " + out);
    }
    return out;
  }

  private static double medianMillis(Path root, List<String> command)
      throws IOException, InterruptedException {
    exec(root, command); // warm the page cache and the AOT cache
    double[] t = new double[STARTS];
    for (int i = 0; i < STARTS; i++) {
      long start = System.nanoTime();
      exec(root, command);
      t[i] = (System.nanoTime() - start) / 1e6;
    }
    Arrays.sort(t);
    return t[STARTS / 2];
  }
}
