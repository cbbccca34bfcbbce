package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.iommufd4j.memory.ProcessMemory;

/**
 * A client of the wire protocol written in Java, for tests that need to send what the shim never
 * would. It serves memory callbacks from this process's memory (like the shim's fallback mode).
 */
final class WireClient implements AutoCloseable {
  final UnixSocket socket;
  final MemorySegment in = Arena.ofAuto().allocate(Wire.CHUNK + 64, 8);
  final MemorySegment out = Arena.ofAuto().allocate(Wire.CHUNK + 64, 8);
  /** The descriptor that came with the last result, or -1. */
  int lastFd = -1;
  /** The descriptor of the last {@link #open()}, closed by {@link #close()} unless already. */
  int openedFd = -1;

  WireClient(Path socketPath) throws IOException {
    socket = UnixSocket.connect(socketPath);
  }

  /** HELLO without a probe: the server serves this client's memory through callbacks. */
  int hello() throws IOException {
    out.set(JAVA_INT, 0, Wire.MAGIC);
    out.set(JAVA_INT, 4, Wire.VERSION);
    out.set(JAVA_INT, 8, 0);
    out.set(JAVA_INT, 12, 0);
    out.set(JAVA_LONG, 16, 0);
    socket.send(Wire.T_HELLO, out, Wire.HELLO_SIZE, -1);
    UnixSocket.Frame f = socket.receive(in);
    if (f == null || f.type() != Wire.T_HELLO_OK) {
      throw new IOException("no HELLO_OK: " + f);
    }
    return in.get(JAVA_INT, 4);
  }

  void sendRaw(int type, MemorySegment payload, long length) throws IOException {
    socket.send(type, payload, length, -1);
  }

  /** Sends a request and answers callbacks until the result: its result word. */
  long call(int type, MemorySegment payload, long length, int fd) throws IOException {
    socket.send(type, payload, length, fd);
    return awaitResult();
  }

  long awaitResult() throws IOException {
    while (true) {
      UnixSocket.Frame f = socket.receive(in);
      if (f == null) {
        throw new IOException("server closed the channel");
      }
      if (f.type() == Wire.T_RESULT) {
        lastFd = f.fd();
        return in.get(JAVA_LONG, 0);
      }
      answer(f);
    }
  }

  long handleOfLastResult() {
    return in.get(JAVA_LONG, 8);
  }

  private void answer(UnixSocket.Frame f) throws IOException {
    ProcessMemory self = ProcessMemory.self();
    switch (f.type()) {
      case Wire.CB_MEM_READ -> {
        long address = in.get(JAVA_LONG, 0);
        int n = (int) in.get(JAVA_LONG, 8);
        boolean ok = self.read(address, out.asSlice(8, n));
        out.set(JAVA_LONG, 0, ok ? 0 : -14);
        socket.send(Wire.T_CB_REPLY, out, ok ? 8 + n : 8, -1);
      }
      case Wire.CB_MEM_WRITE -> {
        long address = in.get(JAVA_LONG, 0);
        boolean ok = self.write(address, in.asSlice(8, f.length() - 8));
        out.set(JAVA_LONG, 0, ok ? 0 : -14);
        socket.send(Wire.T_CB_REPLY, out, 8, -1);
      }
      case Wire.CB_PINNABLE -> {
        out.set(JAVA_LONG, 0, 0);
        socket.send(Wire.T_CB_REPLY, out, 8, -1);
      }
      default -> throw new IOException("unexpected callback " + f.type());
    }
  }

  /** T_OPEN of /dev/iommu: the handle (the descriptor is in {@link #lastFd}). */
  long open() throws IOException {
    out.set(JAVA_INT, 0, 2);
    out.set(JAVA_INT, 4, Wire.NODE_IOMMU);
    long r = call(Wire.T_OPEN, out, Wire.OPEN_SIZE, -1);
    if (r != 0) {
      throw new IOException("open: " + r);
    }
    openedFd = lastFd;
    return handleOfLastResult();
  }

  /** T_IOCTL with no window: the server reads the argument through callbacks. */
  long ioctl(long handle, long request, MemorySegment arg) throws IOException {
    out.set(JAVA_LONG, 0, handle);
    out.set(JAVA_LONG, 8, request);
    out.set(JAVA_LONG, 16, arg.address());
    out.set(JAVA_INT, 24, 0);
    out.set(JAVA_INT, 28, 0);
    return call(Wire.T_IOCTL, out, Wire.IOCTL_SIZE, -1);
  }

  /** Closes the descriptor of the last open, as a program's close() would. */
  void closeOpened() {
    if (openedFd >= 0) {
      org.iommufd4j.kernel.LibC.close(openedFd);
      openedFd = -1;
    }
  }

  @Override
  public void close() {
    closeOpened();
    socket.close();
  }
}
