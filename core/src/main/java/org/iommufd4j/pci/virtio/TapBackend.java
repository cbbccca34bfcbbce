package org.iommufd4j.pci.virtio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.iommufd4j.kernel.LibC;

/**
 * A Linux TAP interface as the wire: frames the port sends are written to the tap's file
 * descriptor, and a reader thread, asleep in {@code poll(2)} while nothing comes, hands the frames
 * the kernel sends out of the interface to the port. Opened with {@code IFF_TAP | IFF_NO_PI}, so a
 * read or write is exactly one Ethernet frame. The interface lives in the network namespace of the
 * thread that made the backend and goes away when the backend is closed.
 */
final class TapBackend implements NetBackend {
  static final String CLONE_DEVICE = "/dev/net/tun";

  // <linux/if_tun.h>, <linux/if.h>
  private static final long TUNSETIFF = 0x400454caL; // _IOW('T', 202, int)
  private static final short IFF_TAP = 0x0002;
  private static final short IFF_NO_PI = 0x1000;
  private static final int IFNAMSIZ = 16;
  private static final int IFREQ_SIZE = 40;
  private static final int IFREQ_FLAGS = 16;
  private static final int EPERM = 1;

  /** The largest frame the reader takes: 64 KiB and an Ethernet and VLAN header. */
  private static final int MAX_FRAME = VirtioNetDevice.MAX_FRAME;

  private static final System.Logger LOG = System.getLogger(TapBackend.class.getName());

  private final Arena arena = Arena.ofShared();
  private final int fd;
  private final int wakeup;
  private final String name;
  private final MemorySegment sendBuffer = arena.allocate(MAX_FRAME);
  private final AtomicLong droppedOnSend = new AtomicLong();
  private final Thread reader;
  private volatile Port port;
  private boolean closed;

  /**
   * Opens {@code cloneDevice} and attaches it to the tap {@code name} (made if missing; empty: the
   * kernel's next {@code tapN}).
   *
   * @throws IllegalArgumentException if {@code name} cannot name an interface
   * @throws UncheckedIOException if the device cannot be opened or the kernel refuses the tap
   */
  TapBackend(String cloneDevice, String name) {
    byte[] wanted = checkedName(name);
    int tap = LibC.open(cloneDevice, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
    if (tap < 0) {
      arena.close();
      throw unavailable("cannot open " + cloneDevice + ": " + LibC.describeErrno(-tap));
    }
    MemorySegment ifreq = arena.allocate(IFREQ_SIZE);
    MemorySegment.copy(wanted, 0, ifreq, ValueLayout.JAVA_BYTE, 0, wanted.length);
    ifreq.set(ValueLayout.JAVA_SHORT, IFREQ_FLAGS, (short) (IFF_TAP | IFF_NO_PI));
    int r = LibC.ioctl(tap, TUNSETIFF, ifreq);
    int event = r < 0 ? -1 : LibC.eventfd(0, LibC.EFD_CLOEXEC);
    if (r < 0 || event < 0) {
      LibC.close(tap);
      arena.close();
      throw unavailable(
          r < 0
              ? "the kernel refused tap '"
                  + name
                  + "' (TUNSETIFF): "
                  + LibC.describeErrno(-r)
                  + (-r == EPERM ? "; making a tap needs CAP_NET_ADMIN" : "")
              : "eventfd: " + LibC.describeErrno(-event));
    }
    this.fd = tap;
    this.wakeup = event;
    this.name = ifreq.getString(0, StandardCharsets.US_ASCII);
    this.reader =
        Thread.ofPlatform().daemon().name("virtio-net tap " + this.name).unstarted(this::read);
    reader.start();
  }

  /** The interface's name, as the kernel gave it. */
  String name() {
    return name;
  }

  /** Frames the kernel refused on write (the interface down, say). */
  long droppedOnSend() {
    return droppedOnSend.get();
  }

  @Override
  public void connect(Port port) {
    this.port = Objects.requireNonNull(port);
  }

  @Override
  public synchronized void send(byte[] frame, int queuePair) {
    if (closed || frame.length > MAX_FRAME) {
      droppedOnSend.incrementAndGet();
      return;
    }
    MemorySegment.copy(frame, 0, sendBuffer, ValueLayout.JAVA_BYTE, 0, frame.length);
    if (LibC.write(fd, sendBuffer, frame.length) != frame.length) {
      droppedOnSend.incrementAndGet(); // EIO while the interface is down, as for a cable out
    }
  }

  /** Stops the reader and closes the tap; the kernel removes a tap it made for it. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    MemorySegment one = arena.allocate(8);
    one.set(ValueLayout.JAVA_LONG, 0, 1);
    LibC.write(wakeup, one);
    try {
      reader.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    LibC.close(fd);
    LibC.close(wakeup);
    arena.close();
  }

  /** The reader thread: one frame a read, until {@link #close} writes the eventfd. */
  private void read() {
    MemorySegment pollfds = arena.allocate(16, 8);
    pollfds.set(ValueLayout.JAVA_INT, 0, fd);
    pollfds.set(ValueLayout.JAVA_SHORT, 4, LibC.POLLIN);
    pollfds.set(ValueLayout.JAVA_INT, 8, wakeup);
    pollfds.set(ValueLayout.JAVA_SHORT, 12, LibC.POLLIN);
    MemorySegment buffer = arena.allocate(MAX_FRAME);
    while (true) {
      pollfds.set(ValueLayout.JAVA_SHORT, 6, (short) 0);
      pollfds.set(ValueLayout.JAVA_SHORT, 14, (short) 0);
      int ready = LibC.poll(pollfds, 2, -1);
      if (ready < 0) {
        continue; // EINTR
      }
      if (pollfds.get(ValueLayout.JAVA_SHORT, 14) != 0) {
        return;
      }
      short events = pollfds.get(ValueLayout.JAVA_SHORT, 6);
      if ((events & (LibC.POLLERR | LibC.POLLHUP | LibC.POLLNVAL)) != 0) {
        LOG.log(System.Logger.Level.WARNING, () -> "virtio-net: tap " + name + " went away");
        return;
      }
      long n = LibC.read(fd, buffer, buffer.byteSize());
      Port p = port;
      if (n > 0 && p != null) {
        p.receive(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), 0);
      }
    }
  }

  private static UncheckedIOException unavailable(String why) {
    String message = "backend=tap: " + why;
    return new UncheckedIOException(message, new IOException(message));
  }

  private static byte[] checkedName(String name) {
    byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
    boolean valid = bytes.length < IFNAMSIZ && !name.equals(".") && !name.equals("..");
    for (byte b : bytes) {
      valid &= b > ' ' && b < 0x7f && b != '/' && b != ':';
    }
    if (!valid || !new String(bytes, StandardCharsets.US_ASCII).equals(name)) {
      throw new IllegalArgumentException(
          "ifname="
              + name
              + " is not an interface name (up to 15 printable characters, no / or :)");
    }
    return bytes;
  }
}
