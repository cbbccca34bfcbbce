package org.iommufd4j.fuzz;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.iommufd4j.Errno;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.Dispatcher;
import org.iommufd4j.uapi.Vfio;

/**
 * Runs fuzz cases: each a fresh {@link FuzzWorld} and up to {@code callsPerCase} generated calls
 * (iommufd ioctls, and calls on the files of the world's emulated edu: opens through the cdev and
 * the group, the device file's ioctls, region reads and writes, mmap checks), checking after every
 * call that no emulator fault happened (an unexpected exception answered EIO) and that every
 * invariant holds, and after the case that closing left nothing behind. A failing case is shrunk to
 * a minimal call list that still fails the same way.
 */
public final class Fuzzer {
  /** What one run did. */
  public record Report(
      long seed,
      long cases,
      long calls,
      Set<String> paths,
      List<String> failures,
      List<Path> saved) {
    public boolean passed() {
      return failures.isEmpty();
    }

    @Override
    public String toString() {
      return String.format(
          "seed=%d cases=%d calls=%d distinct (ioctl, result) paths=%d "
              + "invariant failures/crashes/leaks=%d",
          seed, cases, calls, paths.size(), failures.size());
    }
  }

  private final long seed;
  private final int callsPerCase;
  private final boolean testAbi;
  private final Path saveDirectory;

  /**
   * @param saveDirectory where minimal failing cases are written ({@code fuzz-SEED-CASE.jsonl}), or
   *     null
   */
  public Fuzzer(long seed, int callsPerCase, boolean testAbi, Path saveDirectory) {
    this.seed = seed;
    this.callsPerCase = callsPerCase;
    this.testAbi = testAbi;
    this.saveDirectory = saveDirectory;
  }

  /** Runs until {@code maxCalls} calls or {@code deadlineNanos} (System.nanoTime), if sooner. */
  public Report run(long maxCalls, long deadlineNanos, Consumer<String> progress) {
    SplittableRandom seeds = new SplittableRandom(seed);
    Set<String> paths = new TreeSet<>();
    List<String> failures = new ArrayList<>();
    List<Path> saved = new ArrayList<>();
    long calls = 0;
    long cases = 0;
    long nextProgress = System.nanoTime() + 2_000_000_000L;
    while (calls < maxCalls && System.nanoTime() < deadlineNanos) {
      long caseSeed = seeds.nextLong();
      List<FuzzCall> trace = new ArrayList<>();
      String failure = runCase(caseSeed, trace, paths);
      calls += trace.size();
      cases++;
      if (failure != null) {
        List<FuzzCall> minimal = minimize(trace, failure);
        failures.add("case " + cases + " (" + minimal.size() + " calls): " + failure);
        saved.add(save(cases, minimal));
      }
      if (progress != null && System.nanoTime() > nextProgress) {
        nextProgress += 2_000_000_000L;
        progress.accept(
            String.format(
                "%,d calls, %d cases, %d paths, %d failures",
                calls, cases, paths.size(), failures.size()));
      }
    }
    return new Report(seed, cases, calls, paths, failures, saved);
  }

  /** Generates and runs one case; records its calls; returns the failure, or null. */
  private String runCase(long caseSeed, List<FuzzCall> trace, Set<String> paths) {
    CallGenerator gen = new CallGenerator(caseSeed);
    try (FuzzWorld world = new FuzzWorld(testAbi)) {
      for (int i = 0; i < callsPerCase; i++) {
        FuzzCall call = gen.next();
        trace.add(call);
        String failure = step(world, call, paths);
        if (failure != null) {
          return failure;
        }
        gen.learn(call, lastResult, world);
      }
      return world.closeAndCheckLeaks();
    }
  }

  private long lastResult;

  private String step(FuzzWorld world, FuzzCall call, Set<String> paths) {
    long faults = Dispatcher.internalErrors();
    try {
      lastResult = world.execute(call);
    } catch (RuntimeException | AssertionError e) {
      return "exception " + e;
    }
    if (paths != null) {
      paths.add(pathKey(call, lastResult));
    }
    if (Dispatcher.internalErrors() != faults) {
      return "emulator fault (EIO) in request 0x" + Long.toHexString(call.request());
    }
    List<String> broken = world.invariantViolations();
    return broken.isEmpty() ? null : "invariant: " + broken.getFirst();
  }

  /** The command (and test op) and its outcome: what "distinct errno paths" counts. */
  static String pathKey(FuzzCall call, long result) {
    String outcome = result < 0 ? errnoName((int) -result) : result == 0 ? "ok" : "positive";
    if (call.isPseudo() || call.fd() != FuzzCall.IOMMUFD) {
      return vfioName(call) + " -> " + outcome;
    }
    String name = "other";
    for (Command c : Command.values()) {
      if (c.request() == (call.request() & 0xffff_ffffL)) {
        name = c.name();
      }
    }
    if (name.equals("IOMMU_TEST_CMD")
        && !call.writes().isEmpty()
        && call.writes().getFirst().bytes().length >= 8) {
      byte[] b = call.writes().getFirst().bytes();
      name += "/op" + ((b[4] & 0xff) | (b[5] & 0xff) << 8 | (b[6] & 0xff) << 16 | b[7] << 24);
    }
    return name + " -> " + outcome;
  }

  /** The VFIO file call's name (group and device requests share numbers with the container's). */
  private static String vfioName(FuzzCall call) {
    long r = call.request();
    if (r == FuzzCall.CLOSE_FD) {
      return "close";
    } else if (r == FuzzCall.OPEN_CDEV) {
      return "open cdev";
    } else if (r == FuzzCall.OPEN_GROUP) {
      return "open group";
    } else if (r == FuzzCall.PREAD) {
      return "pread region " + (call.offset() >>> 40);
    } else if (r == FuzzCall.PWRITE) {
      return "pwrite region " + (call.offset() >>> 40);
    } else if (r == FuzzCall.MMAP) {
      return "mmap region " + (call.offset() >>> 40);
    }
    for (java.lang.reflect.Field f : Vfio.class.getFields()) {
      try {
        if ((f.getName().startsWith("VFIO_DEVICE_") || f.getName().startsWith("VFIO_GROUP_"))
            && f.getType() == long.class
            && f.getLong(null) == r) {
          return f.getName();
        }
      } catch (IllegalAccessException e) {
        throw new IllegalStateException(e);
      }
    }
    return "vfio 0x" + Long.toHexString(r);
  }

  private static String errnoName(int n) {
    try {
      return Errno.of(n).name();
    } catch (IllegalArgumentException e) {
      return "errno " + n;
    }
  }

  /** Replays a call list on a fresh world; returns the failure, or null. */
  public String replay(List<FuzzCall> calls) {
    try (FuzzWorld world = new FuzzWorld(testAbi)) {
      for (FuzzCall call : calls) {
        String failure = step(world, call, null);
        if (failure != null) {
          return failure;
        }
      }
      return world.closeAndCheckLeaks();
    }
  }

  /** Drops chunks of calls while the same kind of failure remains (delta debugging). */
  List<FuzzCall> minimize(List<FuzzCall> calls, String failure) {
    String kind = failure.split(":")[0];
    List<FuzzCall> current = new ArrayList<>(calls);
    for (int chunk = Math.max(1, current.size() / 2); chunk >= 1; chunk /= 2) {
      for (int start = 0; start < current.size(); ) {
        List<FuzzCall> candidate = new ArrayList<>(current.subList(0, start));
        candidate.addAll(current.subList(Math.min(current.size(), start + chunk), current.size()));
        String f = candidate.isEmpty() ? null : replay(candidate);
        if (f != null && f.split(":")[0].equals(kind)) {
          current = candidate;
        } else {
          start += chunk;
        }
      }
    }
    return current;
  }

  private Path save(long caseNumber, List<FuzzCall> calls) {
    if (saveDirectory == null) {
      return null;
    }
    Path file = saveDirectory.resolve("fuzz-" + seed + "-" + caseNumber + ".jsonl");
    try {
      Files.createDirectories(saveDirectory);
      Files.write(file, calls.stream().map(FuzzCall::toJson).toList());
      return file;
    } catch (IOException e) {
      throw new IllegalStateException("cannot save " + file + ": " + e.getMessage(), e);
    }
  }

  /** Reads a saved case. */
  public static List<FuzzCall> load(Path file) throws IOException {
    return Files.readAllLines(file).stream()
        .filter(l -> !l.isBlank())
        .map(FuzzCall::fromJson)
        .toList();
  }
}
