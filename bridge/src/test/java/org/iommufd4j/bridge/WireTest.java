package org.iommufd4j.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The Java and C sides of the protocol use the same numbers. */
class WireTest {
  private static Map<String, Long> cDefines() throws IOException {
    String header = Files.readString(Path.of("native/proto.h"));
    Map<String, Long> defines = new HashMap<>();
    Matcher m = Pattern.compile("#define (\\w+) \\(?(0x[0-9a-f]+|\\d+|'.')u?( << (\\d+))?\\)?")
        .matcher(header);
    while (m.find()) {
      String v = m.group(2);
      long value = v.startsWith("'") ? v.charAt(1)
          : v.startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
      if (m.group(4) != null) {
        value <<= Integer.parseInt(m.group(4));
      }
      defines.put(m.group(1).replaceFirst("^I4J_", ""), value);
    }
    return defines;
  }

  @Test
  void everyProtocolNumberMatchesProtoH() throws Exception {
    Map<String, Long> c = cDefines();
    int compared = 0;
    for (Field f : Wire.class.getDeclaredFields()) {
      if (!Modifier.isStatic(f.getModifiers()) || f.getType() != int.class) {
        continue;
      }
      String name = f.getName();
      if (c.containsKey(name)) {
        f.setAccessible(true);
        assertThat((long) f.getInt(null)).as(name).isEqualTo(c.get(name));
        compared++;
      }
    }
    assertThat(compared).as("constants compared").isGreaterThan(30);
    assertThat(c).containsKeys("T_HELLO", "T_CLOSED", "CB_GET_FD", "KIND_FAULT", "MAX_PAYLOAD");
  }
}
