package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.iommufd4j.bridge.BridgeConfig;
import org.iommufd4j.bridge.BridgeServer;
import org.iommufd4j.bridge.Shim;
import org.iommufd4j.trace.Trace;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code exec -- PROGRAM [ARGS...]}: PROGRAM and everything it starts see an emulated {@code
 * /dev/iommu}. A private server listens on a socket in a new 0700 directory; the program runs with
 * the shim preloaded, its standard streams are this process's, and its exit status (128 + signal
 * when killed) becomes ours.
 */
@Command(
    name = "exec",
    sortOptions = false,
    description = {
      "Run PROGRAM with an emulated /dev/iommu (LD_PRELOAD shim + private server).",
      "Exits with PROGRAM's status."
    })
final class ExecCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Mixin EmulatorOptions emulator;

  @Mixin DeviceOptions deviceOptions;

  @Option(
      names = "--shim",
      paramLabel = "PATH",
      description = "The shim library (default: the build tree, then the copy in the jar).")
  Path shim;

  @Option(names = "--debug-shim", description = "Let the shim log every decision to stderr.")
  boolean debugShim;

  @Option(
      names = "--shim-memory",
      description =
          "Serve program memory through the shim even "
              + "where the server could read it with process_vm_readv (the fallback path).")
  boolean shimMemory;

  @Option(
      names = "--no-share",
      description =
          "Leave pinned pages where the program maps them (read with process_vm_readv) instead of "
              + "making them shared memory the server maps.")
  boolean noShare;

  @Option(names = "--verbose", description = "Log the server's work to stderr.")
  boolean verbose;

  @Option(
      names = "--record",
      paramLabel = "FILE",
      description =
          "Record every ioctl (request, "
              + "memory read and written, result, timing, context and process) to FILE as JSON lines, "
              + "with --device also the VFIO files' opens, ioctls, region accesses (trapped loads and "
              + "stores too) and mmaps, and the models' timers with their DMA and interrupts; "
              + "replay it with `replay FILE`.")
  Path record;

  @Option(
      names = "--kernel",
      description =
          "With --record: the calls go to the real /dev/iommu "
              + "(made in the program's own process, as without iommufd4j) and the kernel's answers are "
              + "recorded, to replay on the emulator: `replay FILE` reports where the two differ.")
  boolean kernel;

  @Option(
      names = "--inspect-at-exit",
      description =
          "Show the state of each context just before "
              + "its teardown (the last close): what the program left mapped. On stderr, or --inspect-output.")
  boolean inspectAtExit;

  @Option(names = "--json", description = "With --inspect-at-exit: JSON instead of tables.")
  boolean json;

  @Option(
      names = "--svg",
      paramLabel = "FILE",
      description = "With --inspect-at-exit: also write an SVG picture of every IOVA space.")
  Path svg;

  @Option(
      names = "--inspect-output",
      paramLabel = "FILE",
      description = "With --inspect-at-exit: write the tables or JSON to FILE instead of stderr.")
  Path inspectOutput;

  @Option(
      names = "--error-exitcode",
      paramLabel = "N",
      description =
          "With --inspect-at-exit: "
              + "exit with N (1-255) when a context still held objects at its teardown, as valgrind's "
              + "option of that name does for leaks, so that CI fails on them. Default: PROGRAM's status.")
  Integer errorExitCode;

  @Parameters(
      arity = "1..*",
      paramLabel = "PROGRAM",
      description = "The program and its arguments.")
  List<String> command;

  @Override
  public Integer call() throws Exception {
    Logging.configure(verbose);
    PrintWriter err = spec.commandLine().getErr();
    if (kernel) {
      checkKernelOptions();
    }
    if (errorExitCode != null && (!inspectAtExit || errorExitCode < 1 || errorExitCode > 255)) {
      throw new ParameterException(
          spec.commandLine(),
          !inspectAtExit
              ? "--error-exitcode needs --inspect-at-exit (it judges what each context left behind)"
              : "--error-exitcode must be 1-255, not " + errorExitCode);
    }
    CliErrors.checkWritable("--record", record, CliErrors.EXEC_FAILED);
    CliErrors.checkWritable("--inspect-output", inspectOutput, CliErrors.EXEC_FAILED);
    CliErrors.checkWritable("--svg", svg, CliErrors.EXEC_FAILED);
    BridgeConfig config = emulator.config();
    Trace.Header header;
    if (kernel) {
      // what the recorded calls see is the process's own: its capabilities and limit
      config =
          config
              .withCapIpcLock(BridgeConfig.Privilege.FROM_PROCESS)
              .withCapSysResource(BridgeConfig.Privilege.FROM_PROCESS)
              .withMemlockLimit(BridgeConfig.MEMLOCK_FROM_PROCESS);
      header =
          record == null
              ? null
              : new Trace.Header(
                  KernelProbe.hasTestAbi(err), config.vfioContainer(), false, false, true);
    } else {
      List<Trace.Device> devices = deviceOptions.recorded();
      header =
          new Trace.Header(
              config.testAbi(),
              config.vfioContainer() || !devices.isEmpty(),
              config.selftestCompat(),
              config.faultInjection(),
              false,
              devices);
    }
    Trace.Writer recorder = record == null ? null : new Trace.Writer(record, header);
    Devices emulated = deviceOptions.create(recorder);
    Path dir = Files.createTempDirectory("iommufd4j-"); // 0700
    Path socket = dir.resolve("sock");
    try (recorder;
        emulated) {
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
      if (noShare) {
        env.put(Shim.ENV_SHARE, "0");
      }
      if (emulator.vfioContainer || emulated != null) {
        env.put(Shim.ENV_VFIO, "1"); // a host with VFIO devices has the container too
      }
      if (emulated != null) {
        env.put(Shim.ENV_TESTBED, emulated.writeTestbed(dir.resolve("testbed")).toString());
      }
      if (kernel) {
        env.put(Shim.ENV_KERNEL, "1");
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
      Thread reaper =
          new Thread(
              () -> {
                if (child.isAlive()) {
                  child.destroy(); // the JVM is being stopped (SIGINT/SIGTERM): take the program
                  // along
                }
              });
      Runtime.getRuntime().addShutdownHook(reaper);
      if (emulated != null) {
        config = config.withVfioContainer(true).withVfioNodes(emulated.vfio());
      }
      List<ContextStates.Entry> states = Collections.synchronizedList(new ArrayList<>());
      BridgeServer.Hooks hooks =
          new BridgeServer.Hooks(
              recorder,
              !inspectAtExit
                  ? null
                  : c ->
                      states.add(
                          new ContextStates.Entry(c.file(), c.pid(), c.closing(), c.snapshot())));
      ServerStart start = new ServerStart(socket, config, hooks);
      Thread.ofPlatform().daemon().name("iommufd4j-start").start(start);
      int status = waitFor(child);
      try {
        Runtime.getRuntime().removeShutdownHook(reaper);
      } catch (IllegalStateException e) {
        // already shutting down
      }
      IOException failed = start.finish();
      if (recorder != null) {
        recorder.close();
      }
      boolean leftBehind = false;
      if (inspectAtExit) {
        ContextStates shown =
            new ContextStates(
                states.stream()
                    .sorted(Comparator.comparingLong(ContextStates.Entry::file))
                    .toList());
        showStates(shown, err);
        leftBehind = shown.contexts().stream().anyMatch(e -> !e.snapshot().objects().isEmpty());
      }
      if (failed != null) {
        err.println("iommufd4j exec: the server did not start: " + failed.getMessage());
        return status == 0 ? 125 : status;
      }
      if (leftBehind && errorExitCode != null) {
        err.println(
            "iommufd4j exec: a context still held objects at its teardown (shown above); "
                + "exiting with --error-exitcode "
                + errorExitCode);
        return errorExitCode;
      }
      return status;
    } finally {
      deleteTree(dir);
    }
  }

  /**
   * The program's exit status. An interrupt does not end exec while the program runs (stopping the
   * JVM takes the program along, through the shutdown hook); it is kept for the caller.
   */
  private static int waitFor(Process child) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return child.waitFor();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** --kernel records the kernel: it needs a trace, and emulator-only options make no sense. */
  private void checkKernelOptions() {
    String clash =
        record == null
            ? "--kernel needs --record FILE (it records the kernel's answers)"
            : inspectAtExit
                ? "--inspect-at-exit shows emulated state; with --kernel there is none"
                : emulator.faultInjection
                    ? "--fault-injection is the emulator's; with --kernel the "
                        + "kernel's own fail-nth applies"
                    : emulator.selftestCompat
                        ? "--selftest-compat is the emulator's; not with --kernel"
                        : emulator.noTestAbi
                            ? "--no-test-abi is the emulator's; with --kernel the kernel's "
                                + "CONFIG_IOMMUFD_TEST decides"
                            : null;
    if (clash != null) {
      throw new ParameterException(spec.commandLine(), clash);
    }
  }

  private void showStates(ContextStates states, PrintWriter err) throws IOException {
    String text = json ? states.toJson() : states.toTable();
    if (inspectOutput != null) {
      Files.writeString(inspectOutput, text);
    } else {
      err.print(text);
      err.flush();
    }
    if (svg != null) {
      Files.writeString(svg, states.toSvg());
      err.println("iommufd4j exec: wrote " + svg);
    }
  }

  /**
   * Starts the server beside the program, which may well end first (exec -- true): then the server
   * is not waited for, only closed if it is already up.
   */
  private static final class ServerStart implements Runnable {
    private final Path socket;
    private final BridgeConfig config;
    private final BridgeServer.Hooks hooks;
    private BridgeServer server;
    private IOException failure;
    private boolean abandoned;

    ServerStart(Path socket, BridgeConfig config, BridgeServer.Hooks hooks) {
      this.socket = socket;
      this.config = config;
      this.hooks = hooks;
    }

    @Override
    public void run() {
      BridgeServer s = null;
      IOException e = null;
      try {
        s = BridgeServer.start(socket, config, hooks);
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

  static void deleteTree(Path dir) {
    try (var paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      // leave it; it is empty of secrets
    }
  }
}
