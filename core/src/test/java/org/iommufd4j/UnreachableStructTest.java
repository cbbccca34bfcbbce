package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.File;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.UnreachableStructChild.Case;
import org.iommufd4j.UnreachableStructChild.Page;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An argument struct the kernel cannot read or write is EFAULT, whatever kind of segment a Java
 * program passes (main.c: iommufd_fops_ioctl(); iommufd_private.h: iommufd_ucmd_respond()). Every
 * command runs through {@code Iommufd.ioctl(request, segment)} with its struct in a read-only,
 * {@code PROT_NONE} or unmapped page behind a segment made with {@code
 * MemorySegment.ofAddress(address).reinterpret(size)}, in a JVM of its own: a fault there would
 * kill the JVM, and a dead child fails this test instead of the test run. The child also
 * re-protects the page of a struct that worked between two calls (by the calling thread and by
 * another), so that no fast path may take a page it once reached as still reachable.
 */
class UnreachableStructTest {
  private static final int EFAULT = -Errno.EFAULT.number();

  private static List<String> lines;
  private static int exitCode;

  @BeforeAll
  static void runTheCallsInAChildJvm()
      throws IOException, InterruptedException, URISyntaxException {
    List<String> command =
        List.of(
            ProcessHandle.current().info().command().orElseThrow(),
            "--enable-native-access=ALL-UNNAMED",
            "-XX:-CreateCoredumpOnCrash",
            "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/unreachable-struct-%p.log",
            "-cp",
            classPath(),
            UnreachableStructChild.class.getName());
    Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
    child.getOutputStream().close();
    String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!child.waitFor(2, TimeUnit.MINUTES)) {
      child.destroyForcibly();
    }
    exitCode = child.exitValue();
    lines = out.lines().toList();
  }

  /** Where this JVM found its classes, module path or not, as one class path. */
  private static String classPath() throws URISyntaxException {
    Set<String> entries = new LinkedHashSet<>();
    entries.add(root(UnreachableStructChild.class));
    entries.add(root(ProcessMemory.class));
    for (String property : new String[] {"jdk.module.path", "java.class.path"}) {
      String value = System.getProperty(property, "");
      for (String entry : value.split(File.pathSeparator)) {
        if (!entry.isEmpty()) {
          entries.add(entry);
        }
      }
    }
    return String.join(File.pathSeparator, entries);
  }

  private static String root(Class<?> c) throws URISyntaxException {
    Path file = Path.of(c.getResource(c.getSimpleName() + ".class").toURI());
    Path root = file.getParent();
    for (int i = 0; i < c.getPackageName().split("\\.").length; i++) {
      root = root.getParent();
    }
    return root.toString();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"heap", "native"})
  void aReplyIntoAReadOnlySegmentIsEfault(String kind) {
    try (Arena arena = Arena.ofConfined();
        Iommufd iommufd = Iommufd.emulated()) {
      MemorySegment struct =
          kind.equals("heap")
              ? MemorySegment.ofArray(new long[Command.IOMMU_IOAS_ALLOC.ksize() / 8])
              : arena.allocate(Command.IOMMU_IOAS_ALLOC.ksize(), 8);
      Struct.over(struct, Command.IOMMU_IOAS_ALLOC);

      assertThat(iommufd.ioctl(Command.IOMMU_IOAS_ALLOC.request(), struct.asReadOnly()))
          .isEqualTo(EFAULT);
      assertThat(iommufd.inspect().objects()).as("the IOAS is not created").isEmpty();
    }
  }

  @Test
  void aClosedSegmentIsRefusedAsAnyAccessToItIs() {
    try (Iommufd iommufd = Iommufd.emulated()) {
      Arena arena = Arena.ofConfined();
      MemorySegment struct = arena.allocate(Command.IOMMU_IOAS_ALLOC.ksize(), 8);
      Struct.over(struct, Command.IOMMU_IOAS_ALLOC);
      arena.close();

      assertThatThrownBy(() -> iommufd.ioctl(Command.IOMMU_IOAS_ALLOC.request(), struct))
          .isInstanceOf(IllegalStateException.class);
      assertThat(iommufd.inspect().objects()).isEmpty();
    }
  }

  @Test
  void aConfinedSegmentFromAnotherThreadIsRefused() throws InterruptedException {
    try (Iommufd iommufd = Iommufd.emulated();
        Arena arena = Arena.ofConfined()) {
      MemorySegment struct = arena.allocate(Command.IOMMU_IOAS_ALLOC.ksize(), 8);
      Struct.over(struct, Command.IOMMU_IOAS_ALLOC);
      Throwable[] thrown = new Throwable[1];
      Thread.ofPlatform()
          .start(
              () -> {
                try {
                  iommufd.ioctl(Command.IOMMU_IOAS_ALLOC.request(), struct);
                } catch (Throwable t) {
                  thrown[0] = t;
                }
              })
          .join();

      assertThat(thrown[0]).isInstanceOf(WrongThreadException.class);
      assertThat(iommufd.inspect().objects()).isEmpty();
    }
  }

  @Test
  void aStructPageReprotectedBetweenCallsIsEfaultUntilItIsWritableAgain() {
    String ok = " 0 0";
    String fault = " " + EFAULT + " " + EFAULT;
    assertThat(lines)
        .containsSubsequence(
            "between ARENA READ_WRITE" + ok,
            "between ARENA READ_ONLY" + fault,
            "between ARENA READ_WRITE_AGAIN" + ok,
            "between ARENA PROT_NONE_BY_ANOTHER_THREAD" + fault,
            "between ARENA RESTORED" + ok,
            "between ADDRESS READ_WRITE" + ok,
            "between ADDRESS READ_ONLY" + fault,
            "between ADDRESS READ_WRITE_AGAIN" + ok,
            "between ADDRESS PROT_NONE_BY_ANOTHER_THREAD" + fault,
            "between ADDRESS RESTORED" + ok,
            "between ADDRESS UNMAPPED" + fault);
  }

  @Test
  void theChildJvmSurvivesEveryCall() {
    assertThat(lines).as("child output").contains("done");
    assertThat(exitCode).as("child exit code (134: SIGSEGV)").isZero();
  }

  @Test
  void aStructInAPageThatIsNotMappedOrNotAccessibleIsEfault() {
    List<String> expected = new ArrayList<>();
    for (Case c : UnreachableStructChild.cases()) {
      expected.add(c.name() + " " + Page.PROT_NONE + " " + EFAULT);
      expected.add(c.name() + " " + Page.UNMAPPED + " " + EFAULT);
    }
    assertThat(lines).containsAll(expected);
  }

  @Test
  void aReplyIntoAReadOnlyStructIsEfault() {
    List<String> expected = new ArrayList<>();
    for (Case c : UnreachableStructChild.cases()) {
      int result = c.writesReply() ? EFAULT : c.readOnlyResult();
      expected.add(c.name() + " " + Page.READ_ONLY + " " + result);
    }
    assertThat(lines).containsAll(expected);
  }
}
