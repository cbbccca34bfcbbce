package org.iommufd4j.inspect;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The little JSON the snapshot needs, without a dependency: values are {@code Map<String, Object>}
 * (insertion ordered), {@code List<Object>}, {@code String}, {@code Long}, {@code Boolean} and
 * {@code null}. Only integers are numbers. Printing puts a container of scalars on one line (so
 * each area or range is one line), and a container of such containers too when that fits in {@value
 * #INLINE_WIDTH} characters.
 */
public final class Json {
  private static final int INLINE_WIDTH = 160;

  private Json() {}

  // ---- printing -----------------------------------------------------------------------------

  static String print(Object value) {
    StringBuilder sb = new StringBuilder();
    print(sb, value, "");
    return sb.append('\n').toString();
  }

  private static void print(StringBuilder sb, Object value, String indent) {
    if (!(value instanceof Map<?, ?>) && !(value instanceof List<?>)) {
      scalar(sb, value);
      return;
    }
    String compact = compact(value);
    if (compact != null && (isFlat(value) || compact.length() + indent.length() <= INLINE_WIDTH)) {
      sb.append(compact);
      return;
    }
    String inner = indent + "  ";
    if (value instanceof Map<?, ?> map) {
      if (map.isEmpty()) {
        sb.append("{}");
        return;
      }
      sb.append("{\n");
      int i = 0;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        sb.append(inner);
        string(sb, (String) e.getKey());
        sb.append(": ");
        print(sb, e.getValue(), inner);
        sb.append(++i < map.size() ? ",\n" : "\n");
      }
      sb.append(indent).append('}');
    } else {
      List<?> list = (List<?>) value;
      if (list.isEmpty()) {
        sb.append("[]");
        return;
      }
      sb.append("[\n");
      for (int i = 0; i < list.size(); i++) {
        sb.append(inner);
        print(sb, list.get(i), inner);
        sb.append(i + 1 < list.size() ? ",\n" : "\n");
      }
      sb.append(indent).append(']');
    }
  }

  /** Any value on one line, nested containers included (JSON lines, e.g. record traces). */
  public static String line(Object value) {
    StringBuilder sb = new StringBuilder();
    line(sb, value);
    return sb.toString();
  }

  private static void line(StringBuilder sb, Object value) {
    if (value instanceof Map<?, ?> map) {
      sb.append('{');
      int i = 0;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (i++ > 0) {
          sb.append(',');
        }
        string(sb, (String) e.getKey());
        sb.append(':');
        line(sb, e.getValue());
      }
      sb.append('}');
    } else if (value instanceof List<?> list) {
      sb.append('[');
      for (int i = 0; i < list.size(); i++) {
        if (i > 0) {
          sb.append(',');
        }
        line(sb, list.get(i));
      }
      sb.append(']');
    } else {
      scalar(sb, value instanceof Integer n ? (Object) n.longValue() : value);
    }
  }

  /** The one-line form, or null when {@code value} nests containers two deep. */
  private static String compact(Object value) {
    StringBuilder sb = new StringBuilder();
    if (value instanceof Map<?, ?> map) {
      sb.append('{');
      int i = 0;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        if (!inlineChild(e.getValue())) {
          return null;
        }
        string(sb, (String) e.getKey());
        sb.append(": ");
        leafOrFlat(sb, e.getValue());
        if (++i < map.size()) {
          sb.append(", ");
        }
      }
      return sb.append('}').toString();
    }
    List<?> list = (List<?>) value;
    sb.append('[');
    for (int i = 0; i < list.size(); i++) {
      if (!inlineChild(list.get(i))) {
        return null;
      }
      leafOrFlat(sb, list.get(i));
      if (i + 1 < list.size()) {
        sb.append(", ");
      }
    }
    return sb.append(']').toString();
  }

  private static boolean inlineChild(Object v) {
    return !(v instanceof Map<?, ?> || v instanceof List<?>) || isFlat(v);
  }

  /** A container of scalars only, or a scalar. */
  private static boolean isFlat(Object v) {
    if (v instanceof Map<?, ?> m) {
      return m.values().stream().noneMatch(x -> x instanceof Map<?, ?> || x instanceof List<?>);
    }
    if (v instanceof List<?> l) {
      return l.stream().noneMatch(x -> x instanceof Map<?, ?> || x instanceof List<?>);
    }
    return true;
  }

  private static void leafOrFlat(StringBuilder sb, Object v) {
    if (v instanceof Map<?, ?> || v instanceof List<?>) {
      sb.append(compact(v));
    } else {
      scalar(sb, v);
    }
  }

  private static void scalar(StringBuilder sb, Object v) {
    if (v == null) {
      sb.append("null");
    } else if (v instanceof String s) {
      string(sb, s);
    } else if (v instanceof Long || v instanceof Integer || v instanceof Boolean) {
      sb.append(v);
    } else {
      throw new IllegalArgumentException("not a JSON value: " + v.getClass());
    }
  }

  private static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }

  // ---- parsing ------------------------------------------------------------------------------

  /** Parses one JSON document; IllegalArgumentException (with the offset) if it is not one. */
  public static Object parse(String text) {
    Parser p = new Parser(text);
    p.skipSpace();
    Object v = p.value();
    p.skipSpace();
    if (p.pos != text.length()) {
      throw p.error("text after the document");
    }
    return v;
  }

  private static final class Parser {
    private final String text;
    int pos;

    Parser(String text) {
      this.text = text;
    }

    IllegalArgumentException error(String what) {
      return new IllegalArgumentException("bad JSON at offset " + pos + ": " + what);
    }

    void skipSpace() {
      while (pos < text.length() && " \t\r\n".indexOf(text.charAt(pos)) >= 0) {
        pos++;
      }
    }

    private char peek() {
      if (pos >= text.length()) {
        throw error("unexpected end");
      }
      return text.charAt(pos);
    }

    private void expect(char c) {
      if (peek() != c) {
        throw error("expected '" + c + "'");
      }
      pos++;
    }

    Object value() {
      char c = peek();
      switch (c) {
        case '{':
          return object();
        case '[':
          return array();
        case '"':
          return string();
        case 't':
          return literal("true", Boolean.TRUE);
        case 'f':
          return literal("false", Boolean.FALSE);
        case 'n':
          return literal("null", null);
        default:
          if (c == '-' || (c >= '0' && c <= '9')) {
            return number();
          }
          throw error("unexpected '" + c + "'");
      }
    }

    private Object literal(String word, Object v) {
      if (!text.startsWith(word, pos)) {
        throw error("expected " + word);
      }
      pos += word.length();
      return v;
    }

    private Long number() {
      int start = pos;
      if (peek() == '-') {
        pos++;
      }
      while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
        pos++;
      }
      if (pos < text.length() && ".eE".indexOf(text.charAt(pos)) >= 0) {
        throw error("only integers are numbers here");
      }
      try {
        return Long.parseLong(text.substring(start, pos));
      } catch (NumberFormatException e) {
        throw error("bad number");
      }
    }

    private String string() {
      expect('"');
      StringBuilder sb = new StringBuilder();
      while (true) {
        char c = peek();
        pos++;
        if (c == '"') {
          return sb.toString();
        }
        if (c != '\\') {
          sb.append(c);
          continue;
        }
        char e = peek();
        pos++;
        switch (e) {
          case '"', '\\', '/' -> sb.append(e);
          case 'n' -> sb.append('\n');
          case 'r' -> sb.append('\r');
          case 't' -> sb.append('\t');
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'u' -> {
            if (pos + 4 > text.length()) {
              throw error("short \\u escape");
            }
            sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
            pos += 4;
          }
          default -> throw error("bad escape");
        }
      }
    }

    private Map<String, Object> object() {
      expect('{');
      Map<String, Object> map = new LinkedHashMap<>();
      skipSpace();
      if (peek() == '}') {
        pos++;
        return map;
      }
      while (true) {
        skipSpace();
        String key = string();
        skipSpace();
        expect(':');
        skipSpace();
        map.put(key, value());
        skipSpace();
        if (peek() == ',') {
          pos++;
          continue;
        }
        expect('}');
        return map;
      }
    }

    private List<Object> array() {
      expect('[');
      List<Object> list = new ArrayList<>();
      skipSpace();
      if (peek() == ']') {
        pos++;
        return list;
      }
      while (true) {
        skipSpace();
        list.add(value());
        skipSpace();
        if (peek() == ',') {
          pos++;
          continue;
        }
        expect(']');
        return list;
      }
    }
  }
}
