package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.iommufd4j.kernel.LibC;
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
    out.set(JAVA_INT, Wire.HELLO_MAGIC, Wire.MAGIC);
    out.set(JAVA_INT, Wire.HELLO_VERSION, Wire.VERSION);
    out.set(JAVA_INT, Wire.HELLO_FLAGS, 0);
    out.set(JAVA_INT, Wire.HELLO_PROBE_LENGTH, 0);
    out.set(JAVA_LONG, Wire.HELLO_PROBE_ADDRESS, 0);
    out.set(JAVA_LONG, Wire.HELLO_TID, 0); // no thread named: the process's main thread
    socket.send(Wire.T_HELLO, out, Wire.HELLO_SIZE, -1);
    UnixSocket.Frame f = socket.receive(in);
    if (f == null || f.type() != Wire.T_HELLO_OK) {
      throw new IOException("no HELLO_OK: " + f);
    }
    return in.get(JAVA_INT, Wire.HELLO_OK_MODE);
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
        return in.get(JAVA_LONG, Wire.RESULT_VALUE);
      }
      answer(f);
    }
  }

  long handleOfLastResult() {
    return in.get(JAVA_LONG, Wire.RESULT_HANDLE);
  }

  private void answer(UnixSocket.Frame f) throws IOException {
    ProcessMemory self = ProcessMemory.self();
    switch (f.type()) {
      case Wire.CB_MEM_READ -> {
        long address = in.get(JAVA_LONG, Wire.MEM_READ_ADDRESS);
        int n = (int) in.get(JAVA_LONG, Wire.MEM_READ_LENGTH);
        boolean ok = self.read(address, out.asSlice(Wire.REPLY_SIZE, n));
        out.set(JAVA_LONG, Wire.REPLY_STATUS, ok ? 0 : -14);
        socket.send(Wire.T_CB_REPLY, out, ok ? Wire.REPLY_SIZE + n : Wire.REPLY_SIZE, -1);
      }
      case Wire.CB_MEM_WRITE -> {
        long address = in.get(JAVA_LONG, Wire.MEM_WRITE_ADDRESS);
        boolean ok =
            self.write(address, in.asSlice(Wire.MEM_WRITE_SIZE, f.length() - Wire.MEM_WRITE_SIZE));
        out.set(JAVA_LONG, Wire.REPLY_STATUS, ok ? 0 : -14);
        socket.send(Wire.T_CB_REPLY, out, Wire.REPLY_SIZE, -1);
      }
      case Wire.CB_PINNABLE -> {
        out.set(JAVA_LONG, Wire.REPLY_STATUS, 0);
        socket.send(Wire.T_CB_REPLY, out, Wire.REPLY_SIZE, -1);
      }
      default -> throw new IOException("unexpected callback " + f.type());
    }
  }

  /** T_OPEN of /dev/iommu: the handle (the descriptor is in {@link #lastFd}). */
  long open() throws IOException {
    out.set(JAVA_INT, Wire.OPEN_FLAGS, 2);
    out.set(JAVA_INT, Wire.OPEN_NODE, Wire.NODE_IOMMU);
    out.set(JAVA_INT, Wire.OPEN_INDEX, 0);
    out.set(JAVA_INT, Wire.OPEN_RESERVED, 0);
    long r = call(Wire.T_OPEN, out, Wire.OPEN_SIZE, -1);
    if (r != 0) {
      throw new IOException("open: " + r);
    }
    openedFd = lastFd;
    return handleOfLastResult();
  }

  /** T_IOCTL with no window: the server reads the argument through callbacks. */
  long ioctl(long handle, long request, MemorySegment arg) throws IOException {
    putIoctl(handle, request, arg.address(), 0);
    return call(Wire.T_IOCTL, out, Wire.IOCTL_SIZE, -1);
  }

  /** The fixed part of a T_IOCTL into {@link #out}, with no flags. */
  void putIoctl(long handle, long request, long arg, int windowLength) {
    out.set(JAVA_LONG, Wire.IOCTL_HANDLE, handle);
    out.set(JAVA_LONG, Wire.IOCTL_REQUEST, request);
    out.set(JAVA_LONG, Wire.IOCTL_ARG, arg);
    out.set(JAVA_INT, Wire.IOCTL_WINDOW_LENGTH, windowLength);
    out.set(JAVA_INT, Wire.IOCTL_FLAGS, 0);
  }

  /** Closes the descriptor of the last open, as a program's close() would. */
  void closeOpened() {
    if (openedFd >= 0) {
      LibC.close(openedFd);
      openedFd = -1;
    }
  }

  @Override
  public void close() {
    closeOpened();
    socket.close();
  }
}
