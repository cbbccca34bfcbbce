package org.iommufd4j.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.StructLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarFile;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.iommufd4j.uapi.Command;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layout classes of {@code org.iommufd4j.uapi} say what the Linux 6.12 uapi headers say: {@code
 * bridge/selftests/uapi_layouts.c}, compiled against the kernel's own {@code iommufd.h}, {@code
 * vfio.h} and {@code iommufd_test.h}, prints every struct's size, every member's offset and size
 * and every number, and each must match the Java side, name for name, in both directions. Skips
 * (with the reason) where the kernel source is not available.
 */
class UapiLayoutsIT {
  private static final Path BUILD = Path.of("selftests/uapi-layouts.sh").toAbsolutePath();
  private static final Path OUT = Path.of("target/uapi").toAbsolutePath();
  private static final Pattern CONSTANT = Pattern.compile("(IOMMU|IOMMUFD|VFIO|MOCK)_\\w+");

  /** Names of later kernels that the selftest-compatibility extension accepts. */
  private static final Set<String> NOT_IN_6_12 =
      Set.of(
          "IOMMU_HW_INFO_TYPE_DEFAULT",
          "IOMMU_HW_INFO_FLAG_INPUT_TYPE",
          "MOCK_FLAGS_DEVICE_PASID",
          "MOCK_PASID_WIDTH");

  private static final Map<String, Long> structs = new TreeMap<>();

  /** "OFFSET SIZE" of each member. */
  private static final Map<String, String> members = new TreeMap<>();

  private static final Map<String, Long> constants = new TreeMap<>();

  @BeforeAll
  static void runTheCSide() throws Exception {
    Process build =
        new ProcessBuilder(BUILD.toString(), OUT.toString()).redirectErrorStream(true).start();
    String built = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    int status = build.waitFor();
    Assumptions.assumeTrue(status != 77, () -> "no Linux 6.12 headers: " + built.trim());
    assertThat(status).as("building uapi_layouts:%n%s", built).isZero();
    Process run = new ProcessBuilder(OUT.resolve("uapi_layouts").toString()).start();
    String facts = new String(run.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(run.waitFor()).isZero();
    for (String line : facts.split("\n")) {
      String[] f = line.split(" ", 3);
      switch (f[0]) {
        case "struct" -> structs.put(f[1], Long.parseLong(f[2]));
        case "member" -> members.put(f[1], f[2]);
        case "const" -> constants.put(f[1], Long.parseLong(f[2]));
        default -> throw new AssertionError("unexpected line: " + line);
      }
    }
  }

  /** Every public class of the uapi package, from core's classes directory or jar. */
  private static List<Class<?>> uapiClasses() throws IOException, URISyntaxException {
    Path where = Path.of(Command.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String prefix = "org/iommufd4j/uapi/";
    List<String> names = new ArrayList<>();
    if (Files.isDirectory(where)) {
      try (Stream<Path> files = Files.list(where.resolve(prefix))) {
        files.forEach(f -> names.add(prefix + f.getFileName()));
      }
    } else {
      try (JarFile jar = new JarFile(where.toFile())) {
        jar.stream().forEach(e -> names.add(e.getName()));
      }
    }
    List<Class<?>> classes = new ArrayList<>();
    for (String name : names) {
      if (name.startsWith(prefix) && name.endsWith(".class") && !name.contains("$")) {
        try {
          Class<?> c = Class.forName(name.replace('/', '.').replace(".class", ""));
          if (Modifier.isPublic(c.getModifiers())) {
            classes.add(c);
          }
        } catch (ClassNotFoundException e) {
          throw new AssertionError(e);
        }
      }
    }
    return classes;
  }

  private static List<Field> publicConstants(Class<?> c) {
    List<Field> fields = new ArrayList<>();
    for (Field f : c.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && Modifier.isFinal(f.getModifiers())) {
        fields.add(f);
      }
    }
    return fields;
  }

  /** Members as C names them: nested structs as a.b, anonymous unions and structs see-through. */
  private static void walk(GroupLayout group, String prefix, long base, Map<String, String> into) {
    long offset = base;
    for (MemoryLayout m : group.memberLayouts()) {
      long at = group instanceof StructLayout ? offset : base;
      if (m.name().isPresent()) {
        String name = prefix + m.name().get();
        into.put(name, at + " " + m.byteSize());
        if (m instanceof GroupLayout g) {
          walk(g, name + ".", at, into);
        }
      } else if (m instanceof GroupLayout anonymous) {
        walk(anonymous, prefix, at, into);
      }
      offset += m.byteSize();
    }
  }

  /** Each name whose value differs or that only one side has: "java=.. c=..". */
  private static <V> Map<String, String> differences(Map<String, V> java, Map<String, V> c) {
    Map<String, String> d = new TreeMap<>();
    Set<String> names = new TreeSet<>(java.keySet());
    names.addAll(c.keySet());
    for (String name : names) {
      if (!Objects.equals(java.get(name), c.get(name))) {
        d.put(name, "java=" + java.get(name) + " c=" + c.get(name));
      }
    }
    return d;
  }

  private static void layouts(Map<String, Long> structs, Map<String, String> members)
      throws Exception {
    for (Class<?> c : uapiClasses()) {
      for (Field f : publicConstants(c)) {
        if (f.get(null) instanceof StructLayout layout) {
          String name = layout.name().orElseThrow(() -> new AssertionError(f + " has no name"));
          structs.put(name, layout.byteSize());
          walk(layout, name + ".", 0, members);
        }
      }
    }
  }

  @Test
  void everyStructAndMemberMatchesTheHeaders() throws Exception {
    Map<String, Long> javaStructs = new TreeMap<>();
    Map<String, String> javaMembers = new TreeMap<>();
    layouts(javaStructs, javaMembers);
    assertThat(differences(javaStructs, structs)).as("sizeof: Java vs C").isEmpty();
    assertThat(differences(javaMembers, members)).as("offsetof and sizeof: Java vs C").isEmpty();
    assertThat(structs).hasSizeGreaterThan(40);
    assertThat(members).hasSizeGreaterThan(250);
  }

  @Test
  void everyRequestNumberAndFlagMatchesTheHeaders() throws Exception {
    // Offsets named after their member path (IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID) are not
    // numbers of the header; the other test checks them.
    Map<String, String> javaMembers = new TreeMap<>();
    layouts(new TreeMap<>(), javaMembers);
    Set<String> offsetNames = new HashSet<>();
    javaMembers
        .keySet()
        .forEach(
            m -> offsetNames.add(m.substring(m.indexOf('.') + 1).replace('.', '_').toUpperCase()));
    Map<String, Long> java = new TreeMap<>();
    Set<String> ints = new HashSet<>();
    for (Command c : Command.values()) {
      java.put(c.name(), c.request());
    }
    for (Class<?> c : uapiClasses()) {
      for (Field f : publicConstants(c)) {
        String name = f.getName();
        if (CONSTANT.matcher(name).matches()
            && !NOT_IN_6_12.contains(name)
            && !offsetNames.contains(name)) {
          switch (f.get(null)) {
            case Integer i -> {
              java.put(name, (long) i);
              ints.add(name);
            }
            case Long l -> java.put(name, l);
            default -> {}
          }
        }
      }
    }
    // An int constant holds a u32 (0xfeedbeef) or an int (-1) alike: compare its 32 bits.
    Map<String, Long> c = new TreeMap<>();
    constants.forEach(
        (name, value) -> c.put(name, ints.contains(name) ? (long) (int) (long) value : value));
    assertThat(differences(java, c)).as("values: Java vs C").isEmpty();
    assertThat(constants).hasSizeGreaterThan(150);
  }
}
