package org.iommufd4j.bridge;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where the LD_PRELOAD shim is, and the environment that makes a program use it.
 *
 * <p>Lookup order: an explicit path; {@code $IOMMUFD4J_SHIM}; the build tree next to the jar or
 * classes this class came from ({@code <root>/bridge/target/native/libiommufd4j-shim.so}, with
 * {@code <root>} two levels above {@code cli/target/cli-*-all.jar} or {@code bridge/target/
 * classes}); the copy inside the jar, extracted into a directory the caller gives. The loader
 * ignores a preload it cannot open and runs the program without it, so the path is always made
 * absolute and checked to exist.
 */
public final class Shim {
  public static final String FILE_NAME = "libiommufd4j-shim.so";

  /** Names the server socket; the shim emulates nothing without it. */
  public static final String ENV_SOCKET = "IOMMUFD4J_SOCKET";

  /** Any value but empty or 0: the shim logs every decision to stderr. */
  public static final String ENV_DEBUG = "IOMMUFD4J_DEBUG";

  /** {@code shim}: serve caller memory through the shim even where the server could read it. */
  public static final String ENV_MEMORY = "IOMMUFD4J_MEMORY";

  /**
   * {@code 0}: pinned pages stay where the program maps them, read with process_vm_readv, instead
   * of becoming shared memory the server maps (the README's "Caller memory").
   */
  public static final String ENV_SHARE = "IOMMUFD4J_SHARE";

  /** {@code 1}: also emulate {@code /dev/vfio/vfio}. */
  public static final String ENV_VFIO = "IOMMUFD4J_VFIO";

  public static final String ENV_PATH = "IOMMUFD4J_SHIM";

  /**
   * A directory standing in for {@code /sys/kernel/debug}: the shim redirects that path there and
   * emulates {@code /proc/self/task/<tid>/fail-nth} (the server must allow fault injection).
   */
  public static final String ENV_DEBUGFS = "IOMMUFD4J_DEBUGFS";

  /** Microseconds the shim spins for a reply in the mailbox before sleeping. */
  public static final String ENV_SPIN = "IOMMUFD4J_SPIN_US";

  /** {@code 0}: frames over the socket only, no shared-memory mailbox. */
  public static final String ENV_MAILBOX = "IOMMUFD4J_MAILBOX";

  /** Milliseconds the shim keeps retrying while the server socket does not answer yet. */
  public static final String ENV_CONNECT_WAIT = "IOMMUFD4J_CONNECT_WAIT_MS";

  /**
   * {@code 1}: the program's calls go to the real {@code /dev/iommu}, and the server records them
   * ({@code exec --record --kernel}; the server's recorder must be a kernel one).
   */
  public static final String ENV_KERNEL = "IOMMUFD4J_KERNEL";

  /**
   * An absolute directory written by {@link org.iommufd4j.bridge.testbed.SysfsTestbed}: the shim
   * presents its sysfs and {@code /dev} tree in place of the real one, merged with the host's.
   */
  public static final String ENV_TESTBED = "IOMMUFD4J_TESTBED";

  private Shim() {}

  /**
   * The shim to preload.
   *
   * @param explicit a path given by the user, or null
   * @param extractDir where to unpack the jar's copy if nothing else is found
   * @throws IOException if there is no shim anywhere
   */
  public static Path locate(Path explicit, Path extractDir) throws IOException {
    List<Path> tried = new ArrayList<>();
    if (explicit != null) {
      return existing(explicit, tried);
    }
    String env = System.getenv(ENV_PATH);
    if (env != null && !env.isEmpty()) {
      return existing(Path.of(env), tried);
    }
    Path built = buildTree();
    if (built != null && Files.isRegularFile(built)) {
      return built.toAbsolutePath();
    }
    try (InputStream in = Shim.class.getResourceAsStream(FILE_NAME)) {
      if (in != null) {
        Path out = extractDir.resolve(FILE_NAME).toAbsolutePath();
        Files.copy(in, out, StandardCopyOption.REPLACE_EXISTING);
        return out;
      }
    }
    throw new IOException(
        "no "
            + FILE_NAME
            + " (looked at "
            + (built == null ? "" : built + ", ")
            + "the jar's resources); build it with ./run.sh or set "
            + ENV_PATH);
  }

  private static Path existing(Path p, List<Path> tried) throws IOException {
    Path abs = p.toAbsolutePath();
    if (!Files.isRegularFile(abs)) {
      throw new IOException("shim " + abs + " does not exist");
    }
    return abs;
  }

  /** {@code <root>/bridge/target/native/<shim>} for the jar or classes directory of this class. */
  static Path buildTree() {
    try {
      Path here = Path.of(Shim.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      Path target = here.getParent(); // <module>/target
      Path root =
          target == null || target.getParent() == null ? null : target.getParent().getParent();
      return root == null ? null : root.resolve("bridge/target/native").resolve(FILE_NAME);
    } catch (URISyntaxException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Makes {@code dir} look like the fault-injection part of debugfs the kernel selftests set up
   * ({@code failslab}, {@code fail_page_alloc}, {@code fail_iommufd}), for {@link #ENV_DEBUGFS}.
   */
  public static void prepareDebugfs(Path dir) throws IOException {
    String[][] files = {
      {"failslab", "ignore-gfp-wait", "verbose", "probability", "interval", "times"},
      {
        "fail_page_alloc",
        "ignore-gfp-wait",
        "ignore-gfp-highmem",
        "verbose",
        "probability",
        "interval",
        "times"
      },
      {"fail_iommufd", "verbose", "probability", "interval", "times", "task-filter"}
    };
    for (String[] entry : files) {
      Path d = Files.createDirectories(dir.resolve(entry[0]));
      for (int i = 1; i < entry.length; i++) {
        Files.writeString(d.resolve(entry[i]), "0\n");
      }
    }
  }

  /**
   * Sets the variables that make a child use the shim with the server at {@code socket}: the shim
   * goes first in LD_PRELOAD (an existing value is kept after it).
   */
  public static void configure(Map<String, String> env, Path shim, Path socket) {
    String preload = env.get("LD_PRELOAD");
    env.put(
        "LD_PRELOAD",
        shim.toAbsolutePath() + (preload == null || preload.isBlank() ? "" : " " + preload));
    env.put(ENV_SOCKET, socket.toAbsolutePath().toString());
  }
}
