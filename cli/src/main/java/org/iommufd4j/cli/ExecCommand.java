package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.iommufd4j.bridge.BridgeConfig;
import org.iommufd4j.bridge.BridgeServer;
import org.iommufd4j.bridge.Shim;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code exec -- PROGRAM [ARGS...]}: PROGRAM and everything it starts see an emulated
 * {@code /dev/iommu}. A private server listens on a socket in a new 0700 directory; the program
 * runs with the shim preloaded, its standard streams are this process's, and its exit status
 * (128 + signal when killed) becomes ours.
 */
@Command(name = "exec", sortOptions = false,
    description = {"Run PROGRAM with an emulated /dev/iommu (LD_PRELOAD shim + private server).",
        "Exits with PROGRAM's status."})
final class ExecCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin EmulatorOptions emulator;

  @Option(names = "--shim", paramLabel = "PATH",
      description = "The shim library (default: the build tree, then the copy in the jar).")
  Path shim;

  @Option(names = "--debug-shim", description = "Let the shim log every decision to stderr.")
  boolean debugShim;

  @Option(names = "--shim-memory", description = "Serve program memory through the shim even "
      + "where the server could read it with process_vm_readv (the fallback path).")
  boolean shimMemory;

  @Option(names = "--verbose", description = "Log the server's work to stderr.")
  boolean verbose;

  @Parameters(arity = "1..*", paramLabel = "PROGRAM", description = "The program and its arguments.")
  List<String> command;

  @Override
  public Integer call() throws Exception {
    Logging.configure(verbose);
    PrintWriter err = spec.commandLine().getErr();
    Path dir = Files.createTempDirectory("iommufd4j-"); // 0700
    Path socket = dir.resolve("sock");
    try {
      Path library;
      try {
        library = Shim.locate(shim, dir);
      } catch (IOException e) {
        err.println("iommufd4j exec: " + e.getMessage());
        return 125;
      }
      ProcessBuilder pb = new ProcessBuilder(command).inheritIO();
      Map<String, String> env = pb.environment();
      Shim.configure(env, library, socket);
      // The program starts while the server is still starting (the JVM's FFM set-up is most of
      // exec's cost): the shim waits for the socket when it first needs it.
      env.put(Shim.ENV_CONNECT_WAIT, Long.toString(Math.max(emulator.timeoutMillis, 10_000)));
      if (debugShim) {
        env.put(Shim.ENV_DEBUG, "1");
      }
      if (shimMemory) {
        env.put(Shim.ENV_MEMORY, "shim");
      }
      if (emulator.vfioContainer) {
        env.put(Shim.ENV_VFIO, "1");
      }
      if (emulator.faultInjection) {
        Path debugfs = dir.resolve("debugfs");
        Shim.prepareDebugfs(debugfs);
        env.put(Shim.ENV_DEBUGFS, debugfs.toString());
      }
      if (emulator.spinMicros != null) {
        env.putIfAbsent(Shim.ENV_SPIN, emulator.spinMicros.toString());
      }
      Process child;
      try {
        child = pb.start();
      } catch (IOException e) {
        err.println("iommufd4j exec: cannot run " + command.get(0) + ": " + e.getMessage());
        return 127;
      }
      Thread reaper = new Thread(() -> {
        if (child.isAlive()) {
          child.destroy(); // the JVM is being stopped (SIGINT/SIGTERM): take the program along
        }
      });
      Runtime.getRuntime().addShutdownHook(reaper);
      ServerStart start = new ServerStart(socket, emulator.config());
      Thread.ofPlatform().daemon().name("iommufd4j-start").start(start);
      int status = child.waitFor();
      try {
        Runtime.getRuntime().removeShutdownHook(reaper);
      } catch (IllegalStateException e) {
        // already shutting down
      }
      IOException failed = start.finish();
      if (failed != null) {
        err.println("iommufd4j exec: the server did not start: " + failed.getMessage());
        return status == 0 ? 125 : status;
      }
      return status;
    } finally {
      deleteTree(dir);
    }
  }

  /**
   * Starts the server beside the program, which may well end first (exec -- true): then the
   * server is not waited for, only closed if it is already up.
   */
  private static final class ServerStart implements Runnable {
    private final Path socket;
    private final BridgeConfig config;
    private BridgeServer server;
    private IOException failure;
    private boolean abandoned;

    ServerStart(Path socket, BridgeConfig config) {
      this.socket = socket;
      this.config = config;
    }

    @Override
    public void run() {
      BridgeServer s = null;
      IOException e = null;
      try {
        s = BridgeServer.start(socket, config);
      } catch (IOException ex) {
        e = ex;
      }
      boolean late;
      synchronized (this) {
        server = s;
        failure = e;
        late = abandoned;
      }
      if (late && s != null) {
        s.close();
      }
    }

    /** The program has ended: close the server if it is up. Returns why it failed, if it did. */
    IOException finish() {
      BridgeServer s;
      synchronized (this) {
        abandoned = true;
        s = server;
        server = null;
      }
      if (s != null) {
        s.close();
      }
      synchronized (this) {
        // only a failure the program could have noticed is worth reporting
        return failure;
      }
    }
  }

  private static void deleteTree(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // leave it; it is empty of secrets
    }
  }
}
