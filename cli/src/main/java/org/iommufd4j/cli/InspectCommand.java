package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.trace.Replayer;
import org.iommufd4j.trace.Trace;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code inspect}: takes a {@link Snapshot} from a source and prints it as a table or JSON,
 * optionally writing the SVG map of every IOVA space too.
 *
 * <p>Sources: the built-in example, a saved JSON snapshot ({@code --input}), a running {@code
 * serve} ({@code --socket PATH}: its inspect socket answers with every live context) and a recorded
 * trace ({@code --trace FILE}: replayed on the emulator; each context's state just before its
 * close, or at the end). The last two give several contexts ({@link ContextStates}).
 */
@Command(
    name = "inspect",
    description = {
      "Show the state of an iommufd context: IOASes, areas (IOVA range, user address, page "
          + "source, permissions, pins), allowed and reserved ranges with their owners, HWPTs "
          + "and their domains, devices, accesses, pinned pages and memory-lock accounting.",
      "",
      "With no source it builds an example state on the embedded emulator and shows that: two "
          + "IOASes with mappings, a selftest-mock and a VT-d-like device, allowed ranges, a "
          + "test reserved range, a COPY and an access pinning pages.",
      ""
    },
    footer = {
      "",
      "Examples:",
      "  ./run.sh inspect                        the example, as a table",
      "  ./run.sh inspect --svg iova.svg         ... and a picture of each IOVA space",
      "  ./run.sh inspect --json > state.json    the example as JSON",
      "  ./run.sh inspect --input state.json --svg iova.svg",
      "  ./run.sh inspect --socket /tmp/iommu.sock   the live contexts of a running serve",
      "  ./run.sh inspect --trace trace.jsonl        the final state of a recorded run"
    })
final class InspectCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = {"-h", "--help"},
      usageHelp = true,
      description = "Show this help and exit.")
  boolean help;

  @Option(names = "--json", description = "Print JSON (stable field names) instead of the table.")
  boolean json;

  @Option(
      names = "--svg",
      paramLabel = "FILE",
      description = "Also write an SVG picture of every IOVA space to FILE.")
  Path svg;

  @ArgGroup(exclusive = true)
  Source source = new Source();

  /** Where the snapshot comes from; nothing chosen = the built-in example. */
  static final class Source {
    @Option(
        names = "--input",
        paramLabel = "FILE",
        description = "Read a snapshot written by --json (or by Snapshot.toJson()); - for stdin.")
    String input;

    @Option(
        names = "--socket",
        paramLabel = "PATH",
        description = "Every live context of a running `serve --socket PATH`.")
    Path socket;

    @Option(
        names = "--trace",
        paramLabel = "FILE",
        description = "Replay a trace of `exec --record FILE` and show each context's final state.")
    Path trace;
  }

  private static String readInput(String option, Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw CliErrors.cannotRead(option, file, e, CliErrors.USAGE);
    }
  }

  private static ContextStates fromTrace(Path file, PrintWriter err) {
    Trace trace;
    try {
      trace = Trace.read(file);
    } catch (IOException e) {
      throw CliErrors.cannotRead("--trace", file, e, CliErrors.USAGE);
    }
    Replayer.Result r = Replayer.replay(trace, Devices.REPLAYED);
    if (r.diverged()) {
      err.println("iommufd4j inspect: the replay diverged; the state shown is where it stopped");
      err.println(r.divergence());
    }
    return new ContextStates(
        r.states().stream()
            .map(s -> new ContextStates.Entry(s.file(), s.pid(), s.closed(), s.snapshot()))
            .toList());
  }

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    CliErrors.checkWritable("--svg", svg, CliErrors.FAILED);
    Source source = this.source != null ? this.source : new Source();
    ContextStates states;
    Snapshot snapshot;
    try {
      if (source.socket != null) {
        states = InspectSocket.ask(source.socket);
        snapshot = null;
      } else if (source.trace != null) {
        states = fromTrace(source.trace, err);
        snapshot = null;
      } else if (source.input != null) {
        // a snapshot of one context (--json), or the contexts document of exec and serve
        String text =
            source.input.equals("-")
                ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
                : readInput("--input", Path.of(source.input));
        boolean document = ContextStates.isDocument(text);
        states = document ? ContextStates.fromJson(text) : null;
        snapshot = document ? null : Snapshot.fromJson(text);
      } else {
        states = null;
        snapshot = InspectExample.take();
      }
    } catch (IllegalArgumentException e) {
      err.println("iommufd4j inspect: " + e.getMessage());
      return CliErrors.FAILED;
    }
    out.print(
        json
            ? (states != null ? states.toJson() : snapshot.toJson())
            : states != null ? states.toTable() : snapshot.toTable());
    out.flush();
    if (svg != null) {
      Files.writeString(svg, states != null ? states.toSvg() : snapshot.toSvg());
      err.println(
          "iommufd4j inspect: wrote "
              + svg
              + (states != null
                  ? " (" + ReplayCommand.count(states.contexts().size(), "context") + ")"
                  : " (" + ReplayCommand.count(snapshot.ioases().size(), "IOVA space") + ")"));
    }
    return 0;
  }
}
