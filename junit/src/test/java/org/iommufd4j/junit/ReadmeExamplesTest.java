package org.iommufd4j.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.StringWriter;
import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.platform.testkit.engine.EngineTestKit;

/**
 * Every Java example in the README compiles and runs as shown. Each {@code ```java} block is
 * preceded by a marker saying what it is:
 *
 * <ul>
 *   <li>{@code <!-- example: run -->} statements, run in a method;
 *   <li>{@code <!-- example: run; given: STATEMENTS -->} the same after STATEMENTS, which declare
 *       what the prose around the block assumes (a context, an IOAS, a buffer);
 *   <li>{@code <!-- example: compile; given: ... -->} compiled only (it needs what these machines
 *       lack, such as {@code /dev/iommu});
 *   <li>{@code <!-- example: junit -->} a JUnit test class, run with the extension.
 * </ul>
 */
class ReadmeExamplesTest {
  private static final Pattern MARKER =
      Pattern.compile("<!-- example: (run|compile|junit)(?:; given: (.*?))? -->");
  private static final String IMPORTS =
      """
      import static org.junit.jupiter.api.Assertions.*;
      import static org.iommufd4j.uapi.IommuIoasMap.*;
      import java.lang.foreign.*;
      import java.time.*;
      import java.util.*;
      import org.iommufd4j.*;
      import org.iommufd4j.pci.*;
      import org.iommufd4j.uapi.*;
      import org.iommufd4j.pci.edu.*;
      import org.iommufd4j.junit.*;
      import org.junit.jupiter.api.*;
      import org.junit.jupiter.api.extension.*;
      """;

  record Example(int line, String kind, String given, String code) {
    @Override
    public String toString() {
      return "README.md:" + line + " (" + kind + ")";
    }
  }

  static List<Example> examples() throws IOException {
    List<String> lines = Files.readAllLines(readme());
    List<Example> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (!lines.get(i).equals("```java")) {
        continue;
      }
      int start = i;
      StringBuilder code = new StringBuilder();
      for (i++; !lines.get(i).equals("```"); i++) {
        code.append(lines.get(i)).append('\n');
      }
      int m = start - 1;
      while (m >= 0 && lines.get(m).isBlank()) {
        m--;
      }
      Matcher marker = MARKER.matcher(m >= 0 ? lines.get(m) : "");
      out.add(
          marker.matches()
              ? new Example(start + 2, marker.group(1), marker.group(2), code.toString())
              : new Example(start + 2, "unmarked", null, code.toString()));
    }
    return out;
  }

  private static Path readme() {
    Path dir = Path.of("").toAbsolutePath();
    while (!Files.exists(dir.resolve("README.md")) || !Files.isDirectory(dir.resolve("core"))) {
      dir = dir.getParent();
    }
    return dir.resolve("README.md");
  }

  @Test
  void theReadmeHasExamplesAndEachSaysHowItIsChecked() throws IOException {
    List<Example> all = examples();
    assertThat(all)
        .hasSizeGreaterThanOrEqualTo(5)
        .allSatisfy(
            e ->
                assertThat(e.kind())
                    .as("%s needs an <!-- example: ... --> marker", e)
                    .isNotEqualTo("unmarked"));
    assertThat(all).extracting(Example::kind).contains("run", "junit");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("examples")
  void compilesAndRuns(Example example, @TempDir Path dir) throws Throwable {
    String name = "Example" + example.line();
    String source =
        example.kind().equals("junit")
            ? IMPORTS + example.code()
            : IMPORTS
                + "public class "
                + name
                + " {\n  public static void run() throws Throwable {\n"
                + (example.given() == null ? "" : example.given() + "\n")
                + example.code()
                + "\n  }\n}\n";
    String className = example.kind().equals("junit") ? className(example.code()) : name;
    Path file = dir.resolve(className + ".java");
    Files.writeString(file, source);
    compile(file, dir);
    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
      Class<?> c = loader.loadClass(className);
      switch (example.kind()) {
        case "run" -> {
          try {
            c.getMethod("run").invoke(null);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        }
        case "junit" ->
            EngineTestKit.engine("junit-jupiter")
                .selectors(selectClass(c))
                .execute()
                .testEvents()
                .assertStatistics(s -> s.failed(0).succeeded(1));
        default -> {} // compiled is all it can be here
      }
    }
  }

  private static String className(String code) {
    Matcher m = Pattern.compile("class (\\w+)").matcher(code);
    assertThat(m.find()).as("a class in %s", code).isTrue();
    return m.group(1);
  }

  /** Compiles against what this test runs with: the project's modules and their dependencies. */
  private static void compile(Path file, Path out) {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    String path =
        Stream.of(
                System.getProperty("jdk.module.path", ""),
                System.getProperty("java.class.path", ""))
            .filter(s -> !s.isEmpty())
            .reduce((a, b) -> a + File.pathSeparator + b)
            .orElse("");
    StringWriter errors = new StringWriter();
    int rc =
        javac.run(
            null,
            null,
            new PrintStream(
                new OutputStream() {
                  @Override
                  public void write(int b) {
                    errors.write(b);
                  }
                }),
            "-proc:none",
            "-Xlint:none",
            "-cp",
            path,
            "-d",
            out.toString(),
            file.toString());
    assertThat(rc).as("javac: %s", errors).isZero();
  }
}
