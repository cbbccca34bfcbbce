package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;

/**
 * An AF_UNIX stream socket made with FFM, speaking {@link Wire} frames, with SCM_RIGHTS and
 * SO_PEERCRED, which the JDK's channels lack. One thread uses a socket at a time; another may only
 * {@link #shutdown()} it to wake that thread, which then closes it, so a descriptor number is never
 * reused under a thread still using it.
 *
 * <p>Native buffers are per socket (msghdr, iovecs, control space, header) and freed by the GC.
 */
final class UnixSocket implements Transport, AutoCloseable {
  /** {@code struct sockaddr_un}: family u16, then 108 path bytes. */
  static final int SOCKADDR_UN_SIZE = 110;

  private static final int PATH_OFFSET = 2;
  private static final int MSGHDR_SIZE = 56;
  private static final int CMSG_HEADER = 16;
  private static final int CONTROL_SIZE = 64; // room for several descriptors; extras are closed

  private final int fd;
  private final MemorySegment msghdr;
  private final MemorySegment iov;
  private final MemorySegment control;
  private final MemorySegment header;
  private volatile boolean closed;

  UnixSocket(int fd) {
    this.fd = fd;
    Arena arena = Arena.ofAuto();
    msghdr = arena.allocate(MSGHDR_SIZE, 8);
    iov = arena.allocate(32, 8);
    control = arena.allocate(CONTROL_SIZE, 8);
    header = arena.allocate(Wire.HEADER, 8);
  }

  int fd() {
    return fd;
  }

  /** A listening socket bound to {@code path} (which must not exist), mode 0600. */
  static UnixSocket listen(Path path, int backlog) throws IOException {
    int fd = check(LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0), "socket");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment address =
          address(arena, path.toString().getBytes(StandardCharsets.UTF_8), false);
      check(LibC.bind(fd, address, (int) address.byteSize()), "bind " + path);
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
      check(LibC.listen(fd, backlog), "listen");
      return new UnixSocket(fd);
    } catch (IOException | RuntimeException e) {
      LibC.close(fd);
      throw e;
    }
  }

  /** A connection to the server at {@code path} (tests and tools). */
  static UnixSocket connect(Path path) throws IOException {
    int fd = check(LibC.socket(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0), "socket");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment address =
          address(arena, path.toString().getBytes(StandardCharsets.UTF_8), false);
      check(LibC.connect(fd, address, (int) address.byteSize()), "connect " + path);
      return new UnixSocket(fd);
    } catch (IOException | RuntimeException e) {
      LibC.close(fd);
      throw e;
    }
  }

  /** A connected pair, both ends close-on-exec: {@code [fd0, fd1]}. */
  static int[] pair() throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment sv = arena.allocate(8, 4);
      check(
          LibC.socketpair(LibC.AF_UNIX, LibC.SOCK_STREAM | LibC.SOCK_CLOEXEC, 0, sv), "socketpair");
      return new int[] {sv.get(JAVA_INT, 0), sv.get(JAVA_INT, 4)};
    }
  }

  /** Binds {@code fd} to the abstract name {@code "\0" + name}: 0 or -errno (EADDRINUSE). */
  static int bindAbstract(int fd, String name) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment address = address(arena, name.getBytes(StandardCharsets.US_ASCII), true);
      return LibC.bind(fd, address, (int) address.byteSize());
    }
  }

  private static MemorySegment address(Arena arena, byte[] path, boolean abstractName) {
    int start = abstractName ? 1 : 0;
    if (path.length + start + 1 > SOCKADDR_UN_SIZE - PATH_OFFSET) {
      throw new IllegalArgumentException("socket path longer than 107 bytes");
    }
    // An abstract address's length counts exactly its bytes; a path's includes the NUL.
    int length = PATH_OFFSET + start + path.length + (abstractName ? 0 : 1);
    MemorySegment a = arena.allocate(length, 2);
    a.set(JAVA_SHORT, 0, (short) LibC.AF_UNIX);
    MemorySegment.copy(MemorySegment.ofArray(path), 0, a, PATH_OFFSET + start, path.length);
    return a;
  }

  /** The inode of the socket {@code fd} names, from /proc/self/fd: -1 if it is not a socket. */
  static long inode(int fd) {
    try {
      String link = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
      if (link.startsWith("socket:[") && link.endsWith("]")) {
        return Long.parseLong(link, 8, link.length() - 1, 10);
      }
    } catch (IOException | NumberFormatException e) {
      // not a socket, or gone
    }
    return -1;
  }

  /** The peer's credentials at connect time, from the kernel (SO_PEERCRED). */
  PeerCredentials peer() throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment cred = arena.allocate(12, 4);
      MemorySegment length = arena.allocate(JAVA_INT);
      length.set(JAVA_INT, 0, 12);
      check(LibC.getsockopt(fd, LibC.SOL_SOCKET, LibC.SO_PEERCRED, cred, length), "SO_PEERCRED");
      return new PeerCredentials(
          cred.get(JAVA_INT, 0), cred.get(JAVA_INT, 4), cred.get(JAVA_INT, 8));
    }
  }

  /** Receive and send timeouts: a blocked call then fails with EAGAIN. */
  void timeouts(long millis) throws IOException {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment tv = arena.allocate(16, 8);
      tv.set(JAVA_LONG, 0, millis / 1000);
      tv.set(JAVA_LONG, 8, (millis % 1000) * 1000);
      check(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVTIMEO, tv), "SO_RCVTIMEO");
      check(LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_SNDTIMEO, tv), "SO_SNDTIMEO");
    }
  }

  /** Accepts a connection: a new socket, or null if none is pending (non-blocking listener). */
  UnixSocket accept() throws IOException {
    int r = LibC.accept4(fd, LibC.SOCK_CLOEXEC);
    if (r == -Errno.EAGAIN.number() || r == -Errno.EINTR.number() || r == -Wire.ECONNABORTED) {
      return null;
    }
    return new UnixSocket(check(r, "accept4"));
  }

  /**
   * Sends one frame: header, then {@code length} bytes of {@code payload}, with {@code sendFd}
   * attached as SCM_RIGHTS when it is not negative.
   */
  @Override
  public void send(int type, MemorySegment payload, long length, int sendFd) throws IOException {
    if (length > Wire.MAX_PAYLOAD) {
      throw new IllegalArgumentException("frame of " + length + " bytes");
    }
    header.set(JAVA_INT, Wire.HEADER_LENGTH, (int) length);
    header.set(JAVA_SHORT, Wire.HEADER_TYPE, (short) type);
    header.set(JAVA_SHORT, Wire.HEADER_FLAGS, (short) 0);
    long total = Wire.HEADER + length;
    long done = 0;
    boolean withFd = sendFd >= 0;
    while (done < total) {
      int count = 0;
      if (done < Wire.HEADER) {
        iov.set(JAVA_LONG, 0, header.address() + done);
        iov.set(JAVA_LONG, 8, Wire.HEADER - done);
        count = 1;
      }
      if (length > 0) {
        long from = Math.max(0, done - Wire.HEADER);
        iov.set(JAVA_LONG, count * 16L, payload.address() + from);
        iov.set(JAVA_LONG, count * 16L + 8, length - from);
        count++;
      }
      prepare(count, withFd ? CMSG_HEADER + 8 : 0);
      if (withFd) {
        control.set(JAVA_LONG, 0, CMSG_HEADER + 4); // cmsg_len = CMSG_LEN(sizeof(int))
        control.set(JAVA_INT, 8, LibC.SOL_SOCKET);
        control.set(JAVA_INT, 12, LibC.SCM_RIGHTS);
        control.set(JAVA_INT, 16, sendFd);
      }
      long n = LibC.sendmsg(fd, msghdr, LibC.MSG_NOSIGNAL);
      if (n == -Errno.EINTR.number()) {
        continue;
      }
      if (n < 0) {
        throw new SocketException("sendmsg", (int) -n);
      }
      withFd = false;
      done += n;
    }
  }

  private void prepare(int iovCount, long controlLength) {
    msghdr.fill((byte) 0);
    msghdr.set(JAVA_LONG, 16, iov.address());
    msghdr.set(JAVA_LONG, 24, iovCount);
    if (controlLength > 0) {
      control.fill((byte) 0);
      msghdr.set(JAVA_LONG, 32, control.address());
      msghdr.set(JAVA_LONG, 40, controlLength);
    }
  }

  /**
   * Receives one frame into {@code payload} (at most its size, else a protocol error).
   *
   * @return the frame, or null at end of stream before a header began
   * @throws SocketException EAGAIN when the receive timeout passed (header not begun: {@link
   *     SocketException#idle()})
   */
  @Override
  public Frame receive(MemorySegment payload) throws IOException {
    int[] fds = {-1};
    long got = receiveExact(header, Wire.HEADER, fds, true);
    if (got == 0) {
      closeFd(fds[0]);
      return null;
    }
    int length = header.get(JAVA_INT, Wire.HEADER_LENGTH);
    int type = Short.toUnsignedInt(header.get(JAVA_SHORT, Wire.HEADER_TYPE));
    if (length < 0 || length > payload.byteSize()) {
      closeFd(fds[0]);
      throw new ProtocolException(
          "frame type " + type + " of " + Integer.toUnsignedString(length) + " bytes");
    }
    if (receiveExact(payload, length, null, false) < length) {
      closeFd(fds[0]);
      throw new ProtocolException("end of stream inside a frame");
    }
    return new Frame(type, length, fds[0]);
  }

  /** Reads {@code length} bytes; 0 only at end of stream before the first byte. */
  private long receiveExact(MemorySegment into, long length, int[] fds, boolean header)
      throws IOException {
    long done = 0;
    boolean first = fds != null;
    while (done < length) {
      iov.set(JAVA_LONG, 0, into.address() + done);
      iov.set(JAVA_LONG, 8, length - done);
      prepare(1, first ? CONTROL_SIZE : 0);
      long n = LibC.recvmsg(fd, msghdr, LibC.MSG_CMSG_CLOEXEC);
      if (n == -Errno.EINTR.number()) {
        continue;
      }
      if (n < 0) {
        if (fds != null) {
          closeFd(fds[0]);
          fds[0] = -1;
        }
        throw new SocketException("recvmsg", (int) -n, header && done == 0);
      }
      if (first) {
        collectFds(fds);
        first = false;
      }
      if (n == 0) {
        if (done == 0 && header) {
          return 0;
        }
        throw new ProtocolException("end of stream inside a frame");
      }
      done += n;
    }
    return done;
  }

  private void collectFds(int[] fds) {
    long controlLength = msghdr.get(JAVA_LONG, 40);
    long offset = 0;
    while (offset + CMSG_HEADER <= controlLength) {
      long cmsgLength = control.get(JAVA_LONG, offset);
      if (cmsgLength < CMSG_HEADER || offset + cmsgLength > controlLength) {
        break;
      }
      if (control.get(JAVA_INT, offset + 8) == LibC.SOL_SOCKET
          && control.get(JAVA_INT, offset + 12) == LibC.SCM_RIGHTS) {
        for (long p = offset + CMSG_HEADER; p + 4 <= offset + cmsgLength; p += 4) {
          int received = control.get(JAVA_INT, p);
          if (fds[0] < 0) {
            fds[0] = received;
          } else {
            LibC.close(received); // one descriptor per frame; more is the peer's mistake
          }
        }
      }
      offset += (cmsgLength + 7) & ~7L;
    }
  }

  private static void closeFd(int fd) {
    if (fd >= 0) {
      LibC.close(fd);
    }
  }

  /** Whether the peer has closed its end (POLLHUP), without waiting. */
  boolean hungUp() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment p = arena.allocate(8, 4);
      p.set(JAVA_INT, 0, fd);
      p.set(JAVA_SHORT, 4, (short) 0);
      int r = LibC.poll(p, 1, 0);
      return r > 0 && (p.get(JAVA_SHORT, 6) & (LibC.POLLHUP | LibC.POLLERR | LibC.POLLNVAL)) != 0;
    }
  }

  /** Wakes the thread blocked on this socket (it sees end of stream). */
  void shutdown() {
    if (!closed) {
      LibC.shutdown(fd, LibC.SHUT_RDWR);
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      LibC.close(fd);
    }
  }

  static int check(int r, String what) throws IOException {
    if (r < 0) {
      throw new SocketException(what, -r);
    }
    return r;
  }

  /** A received frame: its payload is in the buffer given to {@link #receive}. */
  record Frame(int type, int length, int fd) {}

  /** Who connected, as the kernel recorded it at connect time. */
  record PeerCredentials(int pid, int uid, int gid) {}

  /** A failed socket call. */
  static class SocketException extends IOException {
    private final int errno;
    private final boolean idle;

    SocketException(String call, int errno) {
      this(call, errno, false);
    }

    SocketException(String call, int errno, boolean idle) {
      super(call + ": " + LibC.describeErrno(errno));
      this.errno = errno;
      this.idle = idle;
    }

    int errno() {
      return errno;
    }

    /** A receive timed out before any byte of a frame arrived. */
    boolean idle() {
      return idle && errno == Errno.EAGAIN.number();
    }
  }

  /** The peer broke the protocol (bad length, stream ended inside a frame, ...). */
  static final class ProtocolException extends IOException {
    ProtocolException(String message) {
      super(message);
    }
  }
}
