package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.iommufd4j.inspect.Snapshot;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code inspect}: takes a {@link Snapshot} from a source and prints it as a table or JSON,
 * optionally writing the SVG map of every IOVA space too.
 *
 * <p>Sources are {@link SnapshotSource}s: the built-in example and a saved JSON snapshot today.
 * TODO(issue 8): a running {@code serve} ({@code --socket PATH}: the server answers an inspect
 * request with {@link Snapshot#toJson()}, read back with {@link Snapshot#fromJson}), the snapshot
 * {@code exec --inspect-at-exit} writes (already readable with {@code --input}), and a recorded
 * trace ({@code --trace FILE}: replay it on the emulator, then inspect). Each is one more option
 * in {@link Source} and one more {@link SnapshotSource}.
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
        ""},
    footer = {"", "Examples:",
        "  ./run.sh inspect                        the example, as a table",
        "  ./run.sh inspect --svg iova.svg         ... and a picture of each IOVA space",
        "  ./run.sh inspect --json > state.json    the example as JSON",
        "  ./run.sh inspect --input state.json --svg iova.svg"})
final class InspectCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  @Option(names = "--json", description = "Print JSON (stable field names) instead of the table.")
  boolean json;

  @Option(names = "--svg", paramLabel = "FILE",
      description = "Also write an SVG picture of every IOVA space to FILE.")
  Path svg;

  @ArgGroup(exclusive = true)
  Source source = new Source();

  /** Where the snapshot comes from; nothing chosen = the built-in example. */
  static final class Source {
    @Option(names = "--input", paramLabel = "FILE",
        description = "Read a snapshot written by --json (or by Snapshot.toJson()); - for stdin.")
    String input;
  }

  /** One place a snapshot can come from. */
  interface SnapshotSource {
    Snapshot take() throws IOException;
  }

  SnapshotSource source() {
    if (source != null && source.input != null) {
      String file = source.input;
      return () -> Snapshot.fromJson(file.equals("-")
          ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
          : Files.readString(Path.of(file)));
    }
    return InspectExample::take;
  }

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    Snapshot snapshot;
    try {
      snapshot = source().take();
    } catch (IllegalArgumentException e) {
      err.println("inspect: " + e.getMessage());
      return 1;
    }
    out.print(json ? snapshot.toJson() : snapshot.toTable());
    out.flush();
    if (svg != null) {
      Files.writeString(svg, snapshot.toSvg());
      err.println("inspect: wrote " + svg + " (" + snapshot.ioases().size() + " IOVA spaces)");
    }
    return 0;
  }
}
