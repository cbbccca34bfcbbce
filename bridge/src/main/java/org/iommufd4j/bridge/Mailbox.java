package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import org.iommufd4j.kernel.LibC;

/**
 * The fast channel: frames pass through a shared-memory box instead of the socket, and whoever
 * waits spins a while before sleeping, so back-to-back calls need no scheduler wake-up (a socket
 * round trip costs about 8 µs on one core and 40 µs across cores on these machines); how long is
 * learned per channel ({@link SpinBudget}). A reader that does sleep, sleeps in recv on the socket
 * and is woken by a doorbell frame, which the scheduler treats as the synchronous wake-up of a
 * socket ping-pong: it measured three times faster than a FUTEX_WAKE on the box on a loaded machine
 * (BENCHMARKS.md). The socket also carries every frame with a descriptor (announced by {@link
 * Wire#T_VIA_SOCKET} in the box), the peer's credentials, and the end of the peer. Layout and
 * protocol: {@code native/proto.h}.
 *
 * <p>The server makes the box: a memfd sealed against shrinking and growing, so no client can turn
 * an access to it into SIGBUS. Everything read from it is copied out before use and bounds-checked,
 * since the client may write it at any time; a client that does only confuses its own channel.
 */
final class Mailbox implements Transport, AutoCloseable {
  private static final VarHandle INT = JAVA_INT.varHandle();

  private final UnixSocket socket;
  private final Arena arena;
  private final MemorySegment box;
  private final SpinBudget spinBudget;
  private final MemorySegment doorbell = Arena.ofAuto().allocate(8, 8);

  private Mailbox(UnixSocket socket, Arena arena, MemorySegment box, long spinNanos) {
    this.socket = socket;
    this.arena = arena;
    this.box = box;
    this.spinBudget = new SpinBudget(spinNanos);
  }

  /**
   * A new box for {@code socket}'s channel; {@code fd[0]} receives the memfd to send to the client
   * (the caller closes it after sending).
   */
  static Mailbox create(UnixSocket socket, long spinNanos, int[] fd) throws IOException {
    int memfd =
        UnixSocket.check(
            LibC.memfdCreate("iommufd4j-mailbox", LibC.MFD_CLOEXEC | LibC.MFD_ALLOW_SEALING),
            "memfd_create");
    try {
      UnixSocket.check(LibC.ftruncate(memfd, Wire.MBOX_SIZE), "ftruncate");
      UnixSocket.check(
          LibC.fcntl(
              memfd, LibC.F_ADD_SEALS, LibC.F_SEAL_SHRINK | LibC.F_SEAL_GROW | LibC.F_SEAL_SEAL),
          "F_ADD_SEALS");
      long address =
          LibC.mmap(0, Wire.MBOX_SIZE, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, memfd, 0);
      if (address < 0) {
        throw new UnixSocket.SocketException("mmap", (int) -address);
      }
      Arena arena = Arena.ofShared();
      MemorySegment box =
          MemorySegment.ofAddress(address)
              .reinterpret(Wire.MBOX_SIZE, arena, s -> LibC.munmap(s.address(), Wire.MBOX_SIZE));
      fd[0] = memfd;
      return new Mailbox(socket, arena, box, spinNanos);
    } catch (IOException | RuntimeException e) {
      LibC.close(memfd);
      throw e;
    }
  }

  private int turn() {
    return (int) INT.getAcquire(box, (long) Wire.MBOX_TURN);
  }

  private void setTurn(int value) {
    INT.setRelease(box, (long) Wire.MBOX_TURN, value);
  }

  @Override
  public UnixSocket.Frame receive(MemorySegment into) throws IOException {
    if (!awaitBySpinning()) {
      UnixSocket.Frame viaSocket = sleep(into);
      if (viaSocket != null) {
        return viaSocket.type() == -1 ? null : viaSocket;
      }
    }
    int length = box.get(JAVA_INT, Wire.MBOX_LENGTH);
    int type = Short.toUnsignedInt(box.get(JAVA_SHORT, Wire.MBOX_TYPE));
    if (type == Wire.T_VIA_SOCKET) {
      setTurn(Wire.TURN_NONE);
      return receiveRealFrame(into);
    }
    if (length < 0 || length > into.byteSize() || length > Wire.MBOX_SIZE - Wire.MBOX_DATA) {
      throw new UnixSocket.ProtocolException(
          "mailbox frame type " + type + " of " + Integer.toUnsignedString(length) + " bytes");
    }
    MemorySegment.copy(box, Wire.MBOX_DATA, into, 0, length);
    setTurn(Wire.TURN_NONE);
    return new UnixSocket.Frame(type, length, -1);
  }

  /** Whether the box holds a frame already or within the learned spin budget. */
  private boolean awaitBySpinning() {
    if (turn() == Wire.TURN_SERVER) {
      return true;
    }
    long budget = spinBudget.nanos();
    if (budget == 0) {
      return false;
    }
    long start = System.nanoTime();
    if (spin(start, budget)) {
      spinBudget.caught(System.nanoTime() - start);
      return true;
    }
    spinBudget.missed();
    return false;
  }

  /** Spins for a frame in the box: true if one came within {@code nanos} of {@code start}. */
  private boolean spin(long start, long nanos) {
    for (int i = 1; ; i++) {
      if (turn() == Wire.TURN_SERVER) {
        return true;
      }
      Thread.onSpinWait();
      if ((i & 63) == 0 && System.nanoTime() - start >= nanos) {
        return false;
      }
    }
  }

  /**
   * Sleeps on the socket until the box holds a frame (null) or a frame with a descriptor came on
   * the socket (that frame, its announcement in the box consumed). End of stream: a frame of type
   * -1. The socket's receive timeout applies.
   */
  private UnixSocket.Frame sleep(MemorySegment into) throws IOException {
    while (true) {
      INT.setVolatile(box, (long) Wire.MBOX_SERVER_WAITING, 1);
      if ((int) INT.getVolatile(box, (long) Wire.MBOX_TURN) == Wire.TURN_SERVER) {
        INT.setVolatile(box, (long) Wire.MBOX_SERVER_WAITING, 0);
        return null;
      }
      UnixSocket.Frame f;
      try {
        f = socket.receive(into);
      } finally {
        INT.setVolatile(box, (long) Wire.MBOX_SERVER_WAITING, 0);
      }
      if (f == null) {
        return new UnixSocket.Frame(-1, 0, -1);
      }
      if (f.type() == Wire.T_DOORBELL) {
        continue;
      }
      // its T_VIA_SOCKET is being put into the box right now
      while (!spin(System.nanoTime(), 1_000_000)) {
        if (socket.hungUp()) {
          if (f.fd() >= 0) {
            LibC.close(f.fd());
          }
          return new UnixSocket.Frame(-1, 0, -1);
        }
        Thread.yield();
      }
      setTurn(Wire.TURN_NONE);
      return f;
    }
  }

  private UnixSocket.Frame receiveRealFrame(MemorySegment into) throws IOException {
    while (true) {
      UnixSocket.Frame f = socket.receive(into);
      if (f == null) {
        throw new UnixSocket.ProtocolException("end of stream before an announced frame");
      }
      if (f.type() != Wire.T_DOORBELL) {
        return f;
      }
    }
  }

  @Override
  public void send(int type, MemorySegment payload, long length, int fd) throws IOException {
    if (fd >= 0) {
      socket.send(type, payload, length, fd);
      post(Wire.T_VIA_SOCKET, payload, 0);
      return;
    }
    if (length > Wire.MBOX_SIZE - Wire.MBOX_DATA) {
      throw new IllegalArgumentException("mailbox frame of " + length + " bytes");
    }
    post(type, payload, length);
  }

  private void post(int type, MemorySegment payload, long length) throws IOException {
    MemorySegment.copy(payload, 0, box, Wire.MBOX_DATA, length);
    box.set(JAVA_INT, Wire.MBOX_LENGTH, (int) length);
    box.set(JAVA_SHORT, Wire.MBOX_TYPE, (short) type);
    setTurn(Wire.TURN_CLIENT);
    VarHandle.fullFence();
    if ((int) INT.getVolatile(box, (long) Wire.MBOX_CLIENT_WAITING) != 0) {
      socket.send(Wire.T_DOORBELL, doorbell, 0, -1);
    }
  }

  /** Unmaps the box; only the channel's own thread calls this, after its last use. */
  @Override
  public void close() {
    arena.close();
  }
}
