package org.iommufd4j.cli;

import java.io.IOException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Supplier;

/**
 * The inspect control socket of {@code serve --socket PATH}: {@code PATH.inspect}, a Unix stream
 * socket (mode 0600) beside the bridge's. A client writes the line {@code inspect}, the server
 * answers with the {@link ContextStates} JSON of every live context and closes the connection.
 */
final class InspectSocket implements AutoCloseable {
  static final String SUFFIX = ".inspect";

  /** What {@code sun_path} holds, less its NUL. */
  private static final int MAX_SOCKET_PATH = 107;

  /**
   * Refuses a socket path the kernel cannot bind (with the inspect socket's suffix), before
   * anything starts.
   */
  static void checkLength(Path socket) {
    int length = socket.toString().getBytes(StandardCharsets.UTF_8).length;
    if (length + SUFFIX.length() > MAX_SOCKET_PATH) {
      throw new CliErrors.UserError(
          "--socket "
              + socket
              + " is "
              + length
              + " bytes; with the "
              + "inspect socket's \""
              + SUFFIX
              + "\" it must fit the "
              + MAX_SOCKET_PATH
              + " bytes of a "
              + "Unix socket address (ENAMETOOLONG): use a shorter path, e.g. under /tmp",
          CliErrors.FAILED);
    }
  }

  private static final System.Logger LOG = System.getLogger("org.iommufd4j.cli");

  private final Path path;
  private final ServerSocketChannel listener;
  private final Thread thread;

  private InspectSocket(Path path, ServerSocketChannel listener, Supplier<ContextStates> states) {
    this.path = path;
    this.listener = listener;
    this.thread =
        Thread.ofPlatform()
            .daemon()
            .name("iommufd4j-inspect")
            .start(
                () -> {
                  while (listener.isOpen()) {
                    try (SocketChannel client = listener.accept()) {
                      answer(client, states);
                    } catch (IOException | RuntimeException e) {
                      if (listener.isOpen()) {
                        LOG.log(
                            System.Logger.Level.WARNING,
                            "inspect request failed: {0}",
                            e.toString());
                      }
                    }
                  }
                });
  }

  static Path pathFor(Path socket) {
    return socket.resolveSibling(socket.getFileName() + SUFFIX);
  }

  static InspectSocket open(Path socket, Supplier<ContextStates> states) throws IOException {
    Path path = pathFor(socket);
    Files.deleteIfExists(path);
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    listener.bind(UnixDomainSocketAddress.of(path));
    Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
    return new InspectSocket(path, listener, states);
  }

  private static void answer(SocketChannel client, Supplier<ContextStates> states)
      throws IOException {
    ByteBuffer in = ByteBuffer.allocate(64);
    while (in.hasRemaining() && client.read(in) > 0) {
      if (new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII).contains("\n")) {
        break;
      }
    }
    String request = new String(in.array(), 0, in.position(), StandardCharsets.US_ASCII).strip();
    String reply =
        request.equals("inspect")
            ? states.get().toJson()
            : "{\"error\": \"unknown request; send the line 'inspect'\"}\n";
    ByteBuffer out = ByteBuffer.wrap(reply.getBytes(StandardCharsets.UTF_8));
    while (out.hasRemaining()) {
      client.write(out);
    }
  }

  /** Asks a server's inspect socket (given the bridge socket PATH) for its contexts. */
  static ContextStates ask(Path socket) throws IOException {
    Path path = pathFor(socket);
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(path))) {
      ch.write(ByteBuffer.wrap("inspect\n".getBytes(StandardCharsets.US_ASCII)));
      ch.shutdownOutput();
      byte[] all = Channels.newInputStream(ch).readAllBytes();
      return ContextStates.fromJson(new String(all, StandardCharsets.UTF_8));
    } catch (SocketException | NoSuchFileException e) {
      throw new CliErrors.UserError(
          "cannot connect to "
              + path
              + ": "
              + CliErrors.errno(e)
              + "; is `serve "
              + "--socket "
              + socket
              + "` running?",
          CliErrors.FAILED);
    }
  }

  @Override
  public void close() {
    try {
      listener.close();
      thread.join(2_000);
      Files.deleteIfExists(path);
    } catch (IOException | InterruptedException e) {
      LOG.log(System.Logger.Level.WARNING, "closing {0}: {1}", path, e.toString());
    }
  }
}
