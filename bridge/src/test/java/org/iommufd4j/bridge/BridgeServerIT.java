package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a hostile or broken client can do to the server: nothing beyond its own channel. Every test
 * ends with the server serving a well-behaved client and holding no context.
 */
class BridgeServerIT {
  private static final long IOMMU_IOAS_ALLOC = 0x3b81;
  private static final long SEED = Long.getLong("seed", 1234L);

  /** Hostile clients are logged at WARNING by design; the tests need not show it. */
  private static final Logger QUIET = Logger.getLogger("org.iommufd4j.bridge");

  static {
    QUIET.setLevel(Level.SEVERE);
  }

  private Path dir;
  private BridgeServer server;
  private final List<WireClient> clients = new ArrayList<>();
  private final Arena arena = Arena.ofShared();

  @BeforeEach
  void start() throws IOException {
    dir = Files.createTempDirectory("iommufd4j-srv-");
    server =
        BridgeServer.start(
            dir.resolve("sock"),
            BridgeConfig.defaults().withTimeoutMillis(500).withMaxChannels(16));
  }

  @AfterEach
  void serverStillServesAndLeaksNothing() throws Exception {
    try (WireClient good = client()) {
      good.hello();
      long h = good.open();
      assertThat(ioasAlloc(good, h)).isEqualTo(1);
    }
    for (WireClient c : clients) {
      c.close();
    }
    assertThat(server.awaitNoContexts(Duration.ofSeconds(10))).as("contexts left").isTrue();
    assertThat(server.awaitChannels(0, Duration.ofSeconds(10))).as("channels left").isTrue();
    server.close();
    arena.close();
    Files.deleteIfExists(dir);
  }

  private WireClient client() throws IOException {
    return new WireClient(server.socketPath());
  }

  private WireClient kept() throws IOException {
    WireClient c = client();
    clients.add(c);
    return c;
  }

  private int ioasAlloc(WireClient c, long handle) throws IOException {
    MemorySegment arg = arena.allocate(12, 8);
    arg.set(JAVA_INT, 0, 12);
    long r = c.ioctl(handle, IOMMU_IOAS_ALLOC, arg);
    assertThat(r).as("IOAS_ALLOC result").isZero();
    return arg.get(JAVA_INT, 8);
  }

  /** The server closed this client's channel: reading gives end of stream. */
  private static void assertClosedByServer(WireClient c) {
    assertThatThrownByOrEnd(c);
  }

  private static void assertThatThrownByOrEnd(WireClient c) {
    try {
      UnixSocket.Frame f;
      do {
        f = c.socket.receive(c.in);
      } while (f != null && f.type() == Wire.T_HELLO_OK);
      assertThat(f).as("frame after a protocol error").isNull();
    } catch (IOException e) {
      // ECONNRESET and the like: closed as well
    }
  }

  @Test
  void ioctlThroughTheProtocolUsesItsOwnContext() throws Exception {
    WireClient c = kept();
    assertThat(c.hello()).isEqualTo(Wire.MODE_SHIM); // no probe: memory through callbacks
    long h = c.open();
    assertThat(ioasAlloc(c, h)).isEqualTo(1);
    assertThat(ioasAlloc(c, h)).isEqualTo(2);
    assertThat(c.ioctl(h, IOMMU_IOAS_ALLOC, MemorySegment.ofAddress(8)))
        .isEqualTo(-Errno.EFAULT.number());
  }

  @Test
  void garbageClosesOnlyThatChannel() throws Exception {
    WireClient good = kept();
    good.hello();
    long h = good.open();
    assertThat(ioasAlloc(good, h)).isEqualTo(1);
    WireClient bad = kept();
    MemorySegment junk = arena.allocate(100);
    SplittableRandom random = new SplittableRandom(SEED);
    for (int i = 0; i < 100; i++) {
      junk.set(ValueLayout.JAVA_BYTE, i, (byte) random.nextInt(256));
    }
    bad.sendRaw(0x7777, junk, 100);
    assertClosedByServer(bad);
    assertThat(ioasAlloc(good, h)).isEqualTo(2);
  }

  @Test
  void framesLongerThanTheLimitAreRefused() throws Exception {
    WireClient c = kept();
    c.hello();
    MemorySegment header = arena.allocate(8, 8);
    header.set(JAVA_INT, Wire.HEADER_LENGTH, Integer.MAX_VALUE);
    header.set(JAVA_INT, Wire.HEADER_TYPE, Wire.T_IOCTL);
    assertThat(LibC.write(c.socket.fd(), header, 8)).isEqualTo(8);
    assertClosedByServer(c);
  }

  @Test
  void anotherProtocolVersionIsRefused() throws Exception {
    WireClient c = kept();
    c.out.fill((byte) 0);
    c.out.set(JAVA_INT, Wire.HELLO_MAGIC, Wire.MAGIC);
    c.out.set(JAVA_INT, Wire.HELLO_VERSION, 99);
    c.sendRaw(Wire.T_HELLO, c.out, Wire.HELLO_SIZE);
    UnixSocket.Frame f = c.socket.receive(c.in);
    assertThat(f.type()).isEqualTo(Wire.T_HELLO_OK);
    assertThat(c.in.get(JAVA_INT, Wire.HELLO_OK_VERSION)).isEqualTo(Wire.VERSION);
    assertClosedByServer(c);
  }

  @Test
  void requestsBeforeHelloAreAProtocolError() throws Exception {
    WireClient c = kept();
    c.out.fill((byte) 0);
    c.sendRaw(Wire.T_IOCTL, c.out, Wire.IOCTL_SIZE);
    assertClosedByServer(c);
  }

  @Test
  void unknownHandlesAreEbadf() throws Exception {
    WireClient c = kept();
    c.hello();
    assertThat(c.ioctl(12345, IOMMU_IOAS_ALLOC, arena.allocate(12, 8)))
        .isEqualTo(-Errno.EBADF.number());
    c.out.set(JAVA_LONG, Wire.RW_HANDLE, 777);
    assertThat(c.call(Wire.T_READ, c.out, Wire.RW_SIZE, -1)).isEqualTo(-Errno.EBADF.number());
  }

  @Test
  void anUnaskedCallbackReplyIsAProtocolError() throws Exception {
    WireClient c = kept();
    c.hello();
    c.out.set(JAVA_LONG, Wire.REPLY_STATUS, 0);
    c.sendRaw(Wire.T_CB_REPLY, c.out, Wire.REPLY_SIZE);
    assertClosedByServer(c);
  }

  @Test
  void aWindowLongerThanAllowedIsAProtocolError() throws Exception {
    WireClient c = kept();
    c.hello();
    long h = c.open();
    c.putIoctl(h, IOMMU_IOAS_ALLOC, 0, Wire.WINDOW + 1);
    c.sendRaw(Wire.T_IOCTL, c.out, Wire.IOCTL_SIZE + Wire.WINDOW + 1);
    assertClosedByServer(c);
  }

  @Test
  void aStalledFrameTimesOut() throws Exception {
    WireClient c = kept();
    c.hello();
    MemorySegment part = arena.allocate(3);
    assertThat(LibC.write(c.socket.fd(), part, 3)).isEqualTo(3);
    assertClosedByServer(c); // after the 500 ms timeout
  }

  @Test
  void aClientThatNeverAnswersACallbackIsDropped() throws Exception {
    WireClient c = kept();
    c.hello();
    long h = c.open();
    c.putIoctl(h, IOMMU_IOAS_ALLOC, arena.allocate(12, 8).address(), 0);
    c.sendRaw(Wire.T_IOCTL, c.out, Wire.IOCTL_SIZE);
    UnixSocket.Frame f = c.socket.receive(c.in);
    assertThat(f.type()).isEqualTo(Wire.CB_MEM_READ);
    assertClosedByServer(c); // no answer within the timeout
    // the context lives while this client holds the descriptor; it goes when that is closed
    assertThat(server.liveContexts()).isEqualTo(1);
    c.closeOpened();
    assertThat(server.awaitNoContexts(Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void attachRecognisesOnlyTheServersFiles() throws Exception {
    WireClient a = kept();
    a.hello();
    long h = a.open();
    assertThat(ioasAlloc(a, h)).isEqualTo(1);
    int fd = a.openedFd;
    WireClient b = kept();
    b.hello();
    assertThat(b.call(Wire.T_ATTACH, b.out, 0, fd)).isEqualTo(Wire.KIND_IOMMUFD);
    long hb = b.handleOfLastResult();
    assertThat(ioasAlloc(b, hb)).isEqualTo(2); // the same context
    int[] other = UnixSocket.pair();
    assertThat(b.call(Wire.T_ATTACH, b.out, 0, other[0])).isEqualTo(-Errno.ENOENT.number());
    LibC.close(other[0]);
    LibC.close(other[1]);
    assertThat(b.call(Wire.T_ATTACH, b.out, 0, -1)).isEqualTo(-Errno.EBADF.number());
  }

  @Test
  void connectionsBeyondTheLimitAreRefusedAndTheRestServed() throws Exception {
    List<WireClient> many = new ArrayList<>();
    int served = 0;
    for (int i = 0; i < 40; i++) {
      WireClient c = kept();
      many.add(c);
      try {
        c.hello();
        served++;
      } catch (IOException e) {
        // refused: closed at once
      }
    }
    assertThat(served).isBetween(1, 16);
    for (WireClient c : many) {
      c.close();
    }
    assertThat(server.awaitChannels(0, Duration.ofSeconds(10))).isTrue();
  }

  @Test
  void vfioFramesOnAServerWithoutDevicesOrOnTheWrongFileGetTheKernelsErrno() throws Exception {
    WireClient c = kept();
    c.hello();
    for (int node : new int[] {Wire.NODE_VFIO_GROUP, Wire.NODE_VFIO_DEVICE}) {
      c.out.set(JAVA_INT, Wire.OPEN_FLAGS, 2);
      c.out.set(JAVA_INT, Wire.OPEN_NODE, node);
      c.out.set(JAVA_INT, Wire.OPEN_INDEX, 0);
      c.out.set(JAVA_INT, Wire.OPEN_RESERVED, 0);
      assertThat(c.call(Wire.T_OPEN, c.out, Wire.OPEN_SIZE, -1)).isEqualTo(-Errno.ENOENT.number());
    }
    long iommufd = c.open();
    MemorySegment buffer = arena.allocate(8);
    for (int type : new int[] {Wire.T_PREAD, Wire.T_PWRITE}) {
      assertThat(positioned(c, type, iommufd, buffer)).isEqualTo(-Errno.EINVAL.number());
      assertThat(positioned(c, type, 999, buffer)).isEqualTo(-Errno.EBADF.number());
    }
    assertThat(mmap(c, iommufd)).isEqualTo(-Errno.ENODEV.number());
    assertThat(mmap(c, 999)).isEqualTo(-Errno.EBADF.number());
  }

  private static long positioned(WireClient c, int type, long handle, MemorySegment buffer)
      throws IOException {
    c.out.set(JAVA_LONG, Wire.PRW_HANDLE, handle);
    c.out.set(JAVA_LONG, Wire.PRW_BUFFER, buffer.address());
    c.out.set(JAVA_LONG, Wire.PRW_COUNT, buffer.byteSize());
    c.out.set(JAVA_LONG, Wire.PRW_OFFSET, 0);
    c.out.set(JAVA_LONG, Wire.PRW_FLAGS, 0); // flags and reserved
    return c.call(type, c.out, Wire.PRW_SIZE, -1);
  }

  private static long mmap(WireClient c, long handle) throws IOException {
    c.out.set(JAVA_LONG, Wire.MMAP_HANDLE, handle);
    c.out.set(JAVA_LONG, Wire.MMAP_OFFSET, 0);
    c.out.set(JAVA_LONG, Wire.MMAP_LENGTH, 4096);
    c.out.set(JAVA_INT, Wire.MMAP_PROT, 3);
    c.out.set(JAVA_INT, Wire.MMAP_FLAGS, 1);
    return c.call(Wire.T_MMAP, c.out, Wire.MMAP_SIZE, -1);
  }

  @Test
  void randomFramesGetAnAnswerOrACloseNeverMore() throws Exception {
    SplittableRandom random = new SplittableRandom(SEED);
    int[] types = {
      Wire.T_OPEN,
      Wire.T_ATTACH,
      Wire.T_IOCTL,
      Wire.T_READ,
      Wire.T_WRITE,
      Wire.T_PREAD,
      Wire.T_PWRITE,
      Wire.T_MMAP,
      Wire.T_CLOSED,
      Wire.T_CB_REPLY,
      Wire.T_HELLO,
      0,
      9999
    };
    for (int round = 0; round < 60; round++) {
      try (WireClient c = client()) {
        c.hello();
        for (int i = 0; i < 5; i++) {
          int length = random.nextInt(64);
          for (int b = 0; b < length; b++) {
            c.out.set(ValueLayout.JAVA_BYTE, b, (byte) random.nextInt(256));
          }
          int type = types[random.nextInt(types.length)];
          try {
            c.sendRaw(type, c.out, length);
            c.awaitResult();
          } catch (IOException e) {
            break; // closed by the server: that is one of the two allowed outcomes
          }
          if (c.lastFd >= 0) {
            LibC.close(c.lastFd);
            c.lastFd = -1;
          }
          c.closeOpened();
        }
      } catch (IOException e) {
        throw new AssertionError("seed " + SEED + " round " + round, e);
      }
    }
  }
}
