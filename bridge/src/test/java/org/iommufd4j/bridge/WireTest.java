package org.iommufd4j.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Java and C sides of the protocol name the same numbers the same way. */
class WireTest {
  /** Wire's constants that are not part of the protocol: errno numbers and fcntl's FD_CLOEXEC. */
  private static final Set<String> JAVA_ONLY =
      Set.of("EMFILE", "EPROTO", "ECONNABORTED", "FD_CLOEXEC");

  private static final Pattern DEFINE =
      Pattern.compile("#define (\\w+)(?: +([^/\\n]*?))? *(?:/\\*\\s*(\\S+)[^\\n]*)?$");
  private static final Pattern FIELD_TYPE = Pattern.compile("[ui](8|16|32|64)");

  /** One #define of proto.h: its name as Wire spells it (no I4J_), value, and field type. */
  private record Define(String name, Object value, int fieldBytes) {}

  /** proto.h's #defines (all but the include guard), paragraph by paragraph, evaluated. */
  private static List<List<Define>> protoH() throws IOException {
    Map<String, Object> known = new TreeMap<>();
    List<List<Define>> paragraphs = new ArrayList<>();
    List<Define> paragraph = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("native/proto.h"))) {
      if (line.isBlank() && !paragraph.isEmpty()) {
        paragraphs.add(paragraph);
        paragraph = new ArrayList<>();
      }
      Matcher m = DEFINE.matcher(line);
      if (!m.matches() || m.group(2) == null) {
        continue; // not a define, or the include guard
      }
      String name = m.group(1).replaceFirst("^I4J_", "");
      Object value = evaluate(m.group(2).strip(), known);
      known.put(name, value);
      Matcher type = FIELD_TYPE.matcher(m.group(3) == null ? "" : m.group(3));
      int bytes = type.matches() ? Integer.parseInt(type.group(1)) / 8 : 0;
      paragraph.add(new Define(name, value, bytes));
    }
    if (!paragraph.isEmpty()) {
      paragraphs.add(paragraph);
    }
    return paragraphs;
  }

  /** A string literal, or a sum of terms (numbers, 'c', names defined above, (a << b)). */
  private static Object evaluate(String expression, Map<String, Object> known) {
    if (expression.startsWith("\"")) {
      return expression.substring(1, expression.length() - 1);
    }
    String e = expression.replaceAll("^\\((.*)\\)$", "$1");
    long sum = 0;
    for (String term : e.split("\\+")) {
      String[] shift = term.strip().split("<<");
      long value = term(shift[0].strip(), known);
      if (shift.length == 2) {
        value <<= term(shift[1].strip(), known);
      }
      sum += value;
    }
    return sum;
  }

  private static long term(String t, Map<String, Object> known) {
    if (t.startsWith("'")) {
      return t.charAt(1);
    }
    if (Character.isDigit(t.charAt(0))) {
      String digits = t.replaceFirst("[uU]$", "");
      return digits.startsWith("0x")
          ? Long.parseLong(digits.substring(2), 16)
          : Long.parseLong(digits);
    }
    Object v = known.get(t.replaceFirst("^I4J_", ""));
    assertThat(v).as("%s defined before it is used", t).isInstanceOf(Long.class);
    return (Long) v;
  }

  private static Map<String, Object> wireConstants() throws IllegalAccessException {
    Map<String, Object> wire = new LinkedHashMap<>();
    for (Field f : Wire.class.getDeclaredFields()) {
      int modifiers = f.getModifiers();
      if (Modifier.isStatic(modifiers) && Modifier.isFinal(modifiers)) {
        f.setAccessible(true);
        Object v = f.get(null);
        wire.put(f.getName(), v instanceof Integer i ? (Object) (long) i : v);
      }
    }
    return wire;
  }

  @Test
  void everyNameOfProtoHIsInWireWithTheSameValue() throws Exception {
    Map<String, Object> wire = wireConstants();
    int compared = 0;
    for (List<Define> paragraph : protoH()) {
      for (Define d : paragraph) {
        assertThat(wire).as("Wire." + d.name()).containsKey(d.name());
        assertThat(wire.get(d.name())).as("Wire." + d.name()).isEqualTo(d.value());
        compared++;
      }
    }
    assertThat(compared).as("names compared").isGreaterThan(120);
  }

  @Test
  void everyProtocolNameOfWireIsInProtoH() throws Exception {
    Set<String> c = new HashSet<>();
    protoH().forEach(p -> p.forEach(d -> c.add(d.name())));
    for (String name : wireConstants().keySet()) {
      if (!JAVA_ONLY.contains(name)) {
        assertThat(c).as("proto.h defines %s", name).contains(name);
      }
    }
  }

  /**
   * Each payload layout (a paragraph of fields with their types) is coherent: fields in order,
   * naturally aligned, not overlapping, and, where the paragraph gives the fixed part's size,
   * packed without holes up to exactly that size. The mailbox spreads its words over cache lines.
   */
  @Test
  void everyPayloadLayoutIsPackedAndAligned() throws Exception {
    int layouts = 0;
    for (List<Define> paragraph : protoH()) {
      List<Define> fields = paragraph.stream().filter(d -> d.fieldBytes() > 0).toList();
      if (fields.isEmpty()) {
        continue;
      }
      layouts++;
      boolean packed = !fields.getFirst().name().startsWith("MBOX_");
      long end = (Long) fields.getFirst().value();
      for (Define f : fields) {
        long offset = (Long) f.value();
        assertThat(offset % f.fieldBytes()).as("%s aligned", f.name()).isZero();
        if (packed) {
          assertThat(offset).as("%s follows the field before it", f.name()).isEqualTo(end);
        } else {
          assertThat(offset)
              .as("%s after the field before it", f.name())
              .isGreaterThanOrEqualTo(end);
        }
        end = offset + f.fieldBytes();
      }
      for (Define d : paragraph) {
        if (d.name().endsWith("_SIZE") && packed) {
          assertThat(d.value()).as(d.name()).isEqualTo(end);
        }
      }
    }
    assertThat(layouts).as("layouts checked").isGreaterThanOrEqualTo(19);
  }
}
