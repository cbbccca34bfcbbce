package org.iommufd4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iommufd4j.inspect.Json;
import org.iommufd4j.inspect.Snapshot;

/**
 * The states of several contexts (a server's live ones, a program's at its last closes, a trace's
 * at its end) and their renderings: a table per context, one JSON document, one SVG with each
 * context's picture under a title.
 *
 * <p>JSON: {@code {"format":"iommufd4j-contexts","version":1,"contexts":[{"file":N,"pid":P,
 * "closing":B,"snapshot":<Snapshot.toJson()>}, ...]}}; {@code file} is the server's number for the
 * open file (as in a recorded trace), {@code closing} whether the state is the one just before the
 * context's teardown.
 */
record ContextStates(List<Entry> contexts) {
  static final String FORMAT = "iommufd4j-contexts";

  record Entry(long file, int pid, boolean closing, Snapshot snapshot) {
    String title() {
      return "context "
          + file
          + " (opened by pid "
          + pid
          + ")"
          + (closing ? ", just before its teardown" : "");
    }
  }

  ContextStates {
    contexts = List.copyOf(contexts);
  }

  String toTable() {
    if (contexts.isEmpty()) {
      return "no contexts\n";
    }
    StringBuilder sb = new StringBuilder();
    for (Entry e : contexts) {
      sb.append("== ").append(e.title()).append(" ==\n").append(e.snapshot().toTable());
      if (!sb.isEmpty() && sb.charAt(sb.length() - 1) != '\n') {
        sb.append('\n');
      }
    }
    return sb.toString();
  }

  String toJson() {
    StringBuilder sb = new StringBuilder();
    sb.append("{\"format\": \"").append(FORMAT).append("\", \"version\": 1, \"contexts\": [");
    for (int i = 0; i < contexts.size(); i++) {
      Entry e = contexts.get(i);
      sb.append(i == 0 ? "\n" : ",\n")
          .append("{\"file\": ")
          .append(e.file())
          .append(", \"pid\": ")
          .append(e.pid())
          .append(", \"closing\": ")
          .append(e.closing())
          .append(", \"snapshot\": ")
          .append(e.snapshot().toJson().strip())
          .append('}');
    }
    return sb.append("]}\n").toString();
  }

  /** Whether {@code text} is a contexts document (else it may be one context's snapshot). */
  static boolean isDocument(String text) {
    return Json.parse(text.strip()) instanceof Map<?, ?> m && FORMAT.equals(m.get("format"));
  }

  static ContextStates fromJson(String text) {
    Object root = Json.parse(text.strip());
    if (!(root instanceof Map<?, ?> m) || !FORMAT.equals(m.get("format"))) {
      throw new IllegalArgumentException("not an iommufd4j contexts document");
    }
    List<Entry> out = new ArrayList<>();
    for (Object o : (List<?>) m.get("contexts")) {
      Map<?, ?> c = (Map<?, ?>) o;
      out.add(
          new Entry(
              (Long) c.get("file"),
              ((Long) c.get("pid")).intValue(),
              Boolean.TRUE.equals(c.get("closing")),
              Snapshot.fromJson(Json.line(c.get("snapshot")))));
    }
    return new ContextStates(out);
  }

  private static final Pattern SIZE =
      Pattern.compile("<svg [^>]*width=\"([0-9.]+)\"[^>]*height=\"([0-9.]+)\"");

  /** One SVG: each context's own picture under its title, stacked. */
  String toSvg() {
    if (contexts.size() == 1) {
      return contexts.get(0).snapshot().toSvg();
    }
    StringBuilder body = new StringBuilder();
    double y = 0;
    double width = 400;
    for (Entry e : contexts) {
      String svg = e.snapshot().toSvg();
      svg = svg.substring(svg.indexOf("<svg"));
      Matcher m = SIZE.matcher(svg);
      double w = 800;
      double h = 200;
      if (m.find()) {
        w = Double.parseDouble(m.group(1));
        h = Double.parseDouble(m.group(2));
      }
      body.append("<text x=\"8\" y=\"")
          .append(y + 20)
          .append("\" font-family=\"sans-serif\" " + "font-size=\"16\" font-weight=\"bold\">")
          .append(escape(e.title()))
          .append("</text>\n");
      body.append("<g transform=\"translate(0,")
          .append(y + 28)
          .append(")\">\n")
          .append(svg)
          .append("\n</g>\n");
      y += 28 + h + 16;
      width = Math.max(width, w);
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
        + "width=\""
        + width
        + "\" height=\""
        + y
        + "\">\n"
        + body
        + "</svg>\n";
  }

  private static String escape(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;");
  }
}
