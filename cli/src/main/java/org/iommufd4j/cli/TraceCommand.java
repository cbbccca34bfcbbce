package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.function.Predicate;
import org.iommufd4j.trace.CallPrinter;
import org.iommufd4j.trace.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code trace FILE}: a recorded trace as strace would print it, one line per event. */
@Command(
    name = "trace",
    mixinStandardHelpOptions = true,
    description = {
      "Print a trace recorded by `exec --record FILE` one line per event, as strace "
          + "decodes ioctls: each call by name with the struct it read, `=> {...}` the members it "
          + "changed, and its result or errno; opens, closes and exits on their own lines.",
      "Exit status: 0 printed, 2 not a readable trace or a bad filter."
    })
final class TraceCommand implements Callable<Integer> {
  /** Classes of requests for {@code -e trace=}, by the start of their names. */
  private static final Map<String, String> CLASSES =
      Map.of("ioas", "IOMMU_IOAS_", "hwpt", "IOMMU_HWPT_", "test", "IOMMU_TEST_", "vfio", "VFIO_");

  private static final Set<String> EVENTS =
      Set.of(
          "open", "close", "exit", "process", "pread", "pwrite", "read", "write", "load", "store",
          "mmap", "timer");

  /** What the trace's events so far made of its files (VFIO groups and devices). */
  private final CallPrinter.Files files = new CallPrinter.Files();

  @Spec CommandSpec spec;

  @Option(
      names = "-e",
      paramLabel = "EXPR",
      description = {
        "A filter, as strace's: "
            + "trace=NAME[,NAME...] (request names such as IOMMU_IOAS_MAP, classes ioas, hwpt, test, "
            + "vfio, and the events open, close, exit, process, the device accesses pread, pwrite, "
            + "read, write, load, store, mmap and the devices' timer); status=failed or "
            + "status=successful (calls only). Repeatable; an event is printed when it passes all."
      })
  List<String> expressions = List.of();

  @Option(names = "--pid", paramLabel = "PID", description = "Only events of process PID.")
  Integer pid;

  @Option(
      names = "--file",
      paramLabel = "N",
      description = "Only events of file N (opens, " + "ioctls and closes of that context).")
  Long file;

  @Option(
      names = {"-t", "--timestamps"},
      description = "Prefix each line with its time in " + "seconds since the recording started.")
  boolean timestamps;

  @Parameters(paramLabel = "FILE", description = "The trace (JSON lines, .gz too).")
  Path path;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Predicate<Trace.Event> filter;
    try {
      filter = filter();
    } catch (IllegalArgumentException e) {
      err.println("iommufd4j trace: " + e.getMessage());
      return CliErrors.USAGE;
    }
    Trace trace;
    try {
      trace = Trace.read(path);
    } catch (IOException e) {
      throw CliErrors.cannotRead("the trace", path, e, CliErrors.USAGE);
    } catch (IllegalArgumentException e) {
      err.println("iommufd4j trace: " + e.getMessage());
      return CliErrors.USAGE;
    }
    Map<Long, Integer> openedBy = new HashMap<>();
    for (Trace.Event e : trace.events()) {
      if (e instanceof Trace.Open o) {
        openedBy.putIfAbsent(o.file(), o.pid());
      } else if (e instanceof Trace.VfioOpen o) {
        openedBy.putIfAbsent(o.file(), o.pid());
      }
      boolean ofPid =
          pid == null
              || switch (e) {
                case Trace.Open o -> o.pid() == pid;
                case Trace.Process p -> p.pid() == pid;
                case Trace.Ioctl i -> i.pid() == pid;
                case Trace.Exit x -> x.pid() == pid;
                case Trace.Close c -> openedBy.getOrDefault(c.file(), -1).equals(pid);
                case Trace.VfioOpen o -> o.pid() == pid;
                case Trace.Transfer x -> x.pid() == pid;
                case Trace.Mmap m -> m.pid() == pid;
                case Trace.Timer t -> false;
              };
      boolean shown = ofPid && filter.test(e);
      String line = CallPrinter.line(e, timestamps, files);
      files.see(e);
      if (shown) {
        out.println(line);
      }
    }
    out.flush();
    return 0;
  }

  private Predicate<Trace.Event> filter() {
    Predicate<Trace.Event> all =
        e ->
            file == null
                || switch (e) {
                  case Trace.Open o -> o.file() == file;
                  case Trace.Ioctl i -> i.file() == file;
                  case Trace.Close c -> c.file() == file;
                  case Trace.Process p -> false;
                  case Trace.Exit x -> false;
                  case Trace.VfioOpen o -> o.file() == file;
                  case Trace.Transfer x -> x.file() == file;
                  case Trace.Mmap m -> m.file() == file;
                  case Trace.Timer t -> false;
                };
    for (String expression : expressions) {
      int eq = expression.indexOf('=');
      String key = eq < 0 ? "" : expression.substring(0, eq);
      String value = expression.substring(eq + 1);
      all =
          all.and(
              switch (key) {
                case "trace" -> names(List.of(value.split(",")));
                case "status" -> status(value);
                default ->
                    throw new IllegalArgumentException(
                        "unknown filter -e "
                            + expression
                            + " (trace=NAME,... or status=failed|successful)");
              });
    }
    return all;
  }

  private Predicate<Trace.Event> names(List<String> names) {
    for (String n : names) {
      if (!EVENTS.contains(n) && !CLASSES.containsKey(n) && !n.equals(n.toUpperCase(Locale.ROOT))) {
        throw new IllegalArgumentException(
            "unknown name in -e trace=: "
                + n
                + " (request "
                + "names are upper case; classes: ioas, hwpt, test, vfio; events: open, close, exit, "
                + "process)");
      }
    }
    return e -> {
      String name =
          switch (e) {
            case Trace.Ioctl i -> files.requestName(i);
            case Trace.Open o -> "open";
            case Trace.Close c -> "close";
            case Trace.Exit x -> "exit";
            case Trace.Process p -> "process";
            case Trace.VfioOpen o -> "open";
            case Trace.Transfer x -> x.access().name().toLowerCase(Locale.ROOT);
            case Trace.Mmap m -> "mmap";
            case Trace.Timer t -> "timer";
          };
      return names.stream()
          .anyMatch(
              n ->
                  n.equals(name)
                      || e instanceof Trace.Ioctl
                          && CLASSES.containsKey(n)
                          && name.startsWith(CLASSES.get(n)));
    };
  }

  /** Whether a call failed; null for events that are not calls. */
  private static Boolean failed(Trace.Event e) {
    long result =
        switch (e) {
          case Trace.Ioctl i -> i.result();
          case Trace.VfioOpen o -> o.result();
          case Trace.Transfer x -> x.result();
          case Trace.Mmap m -> m.result();
          default -> 0;
        };
    return e instanceof Trace.Ioctl
            || e instanceof Trace.VfioOpen
            || e instanceof Trace.Transfer
            || e instanceof Trace.Mmap
        ? Trace.errnoName(result) != null
        : null;
  }

  private static Predicate<Trace.Event> status(String value) {
    return switch (value) {
      case "failed" -> e -> failed(e) == Boolean.TRUE;
      case "successful" -> e -> failed(e) == Boolean.FALSE;
      default ->
          throw new IllegalArgumentException(
              "unknown status in -e status=" + value + " (failed or successful)");
    };
  }
}
