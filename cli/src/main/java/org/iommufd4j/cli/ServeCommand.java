package org.iommufd4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.iommufd4j.bridge.BridgeServer;
import org.iommufd4j.bridge.Shim;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code serve --socket PATH}: a long-lived server for any number of programs. */
@Command(
    name = "serve",
    sortOptions = false,
    description = {
      "Serve an emulated /dev/iommu on a Unix socket until stopped (Ctrl-C, SIGTERM).",
      "Programs use it when run with LD_PRELOAD=<shim> IOMMUFD4J_SOCKET=PATH."
    })
final class ServeCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Option(
      names = "--socket",
      required = true,
      paramLabel = "PATH",
      description = "Where to listen (at most 107 bytes; a stale socket there is replaced).")
  Path socket;

  @Mixin EmulatorOptions emulator;

  @Mixin DeviceOptions deviceOptions;

  @Option(names = "--verbose", description = "Log every connection and file to stderr.")
  boolean verbose;

  @Override
  public Integer call() throws Exception {
    Logging.configure(verbose);
    PrintWriter err = spec.commandLine().getErr();
    InspectSocket.checkLength(socket);
    if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
      boolean isSocket = isSocket(socket);
      if (!isSocket || Liveness.answers(socket)) {
        err.println(
            "iommufd4j serve: "
                + socket
                + " exists"
                + (isSocket ? " and a server answers there" : " and is not a socket"));
        return 1;
      }
      Files.delete(socket); // a stale socket of a server that died
    }
    Devices devices = deviceOptions.create();
    // the models live as long as the server; their tree goes when serve does
    Path testbed =
        devices == null
            ? null
            : devices.writeTestbed(Files.createTempDirectory("iommufd4j-testbed-"));
    CountDownLatch stopped = new CountDownLatch(1);
    BridgeServer server;
    try {
      server =
          BridgeServer.start(
              socket,
              devices == null
                  ? emulator.config()
                  : emulator.config().withVfioContainer(true).withVfioNodes(devices.vfio()));
    } catch (IOException e) {
      closeDevices(devices, testbed);
      err.println("iommufd4j serve: " + e.getMessage());
      return 1;
    }
    InspectSocket inspect;
    try {
      inspect =
          InspectSocket.open(
              socket,
              () ->
                  new ContextStates(
                      server.snapshots().stream()
                          .map(
                              c ->
                                  new ContextStates.Entry(
                                      c.file(), c.pid(), c.closing(), c.snapshot()))
                          .toList()));
    } catch (IOException e) {
      server.close();
      closeDevices(devices, testbed);
      err.println("iommufd4j serve: inspect socket: " + e.getMessage());
      return 1;
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  inspect.close();
                  server.close();
                  closeDevices(devices, testbed);
                  stopped.countDown();
                }));
    String shim;
    try {
      shim = Shim.locate(null, Files.createTempDirectory("iommufd4j-shim-")).toString();
    } catch (IOException e) {
      shim = "<" + Shim.FILE_NAME + ">";
    }
    String presented =
        testbed == null ? "" : Shim.ENV_VFIO + "=1 " + Shim.ENV_TESTBED + "=" + testbed + " ";
    err.printf(
        "iommufd4j: serving /dev/iommu on %s%n  run programs with: LD_PRELOAD=%s %s=%s %sPROGRAM%n"
            + "  see its state with: ./run.sh inspect --socket %s%n",
        socket.toAbsolutePath(),
        shim,
        Shim.ENV_SOCKET,
        socket.toAbsolutePath(),
        presented,
        socket.toAbsolutePath());
    err.flush();
    stopped.await();
    return 0;
  }

  private static void closeDevices(Devices devices, Path testbed) {
    if (devices != null) {
      devices.close();
      ExecCommand.deleteTree(testbed);
    }
  }

  private static boolean isSocket(Path p) throws IOException {
    return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther();
  }

  /** Whether something accepts connections on a socket path. */
  static final class Liveness {
    static boolean answers(Path socket) {
      try (var ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        return true;
      } catch (IOException e) {
        return false;
      }
    }
  }
}
