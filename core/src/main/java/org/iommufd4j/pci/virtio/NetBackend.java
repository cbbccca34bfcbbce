package org.iommufd4j.pci.virtio;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The wire behind a NIC's port: where the frames it sends go and where the frames it receives come
 * from. A frame is an Ethernet frame without the virtio header and without the FCS.
 */
public interface NetBackend extends AutoCloseable {

  /** What receives frames from the wire: the NIC's port. */
  interface Port {
    /**
     * Takes a frame arriving on the wire, sent from queue pair {@code queuePair} of the far end.
     * Called on the far end's thread: an implementation queues it and returns.
     */
    void receive(byte[] frame, int queuePair);
  }

  /** Connects the NIC's port; called once, when the NIC is made. */
  void connect(Port port);

  /** Sends {@code frame} from queue pair {@code queuePair}; the backend may keep the array. */
  void send(byte[] frame, int queuePair);

  /** Lets go of what the backend holds (a tap's descriptor and reader thread); idempotent. */
  @Override
  default void close() {}

  /** What a port sends comes back to it. */
  static NetBackend loopback() {
    return new NetBackend() {
      private volatile Port port;

      @Override
      public void connect(Port port) {
        this.port = Objects.requireNonNull(port);
      }

      @Override
      public void send(byte[] frame, int queuePair) {
        Port p = port;
        if (p != null) {
          p.receive(frame, queuePair);
        }
      }
    };
  }

  /** Two ends wired back to back: what one sends, the other receives. */
  record Pair(NetBackend left, NetBackend right) {}

  /** A new pair of ends wired back to back. */
  static Pair pair() {
    return PairEnd.wire();
  }

  /**
   * Writes every frame sent to {@code file} (created or truncated) in the classic pcap format
   * (Ethernet link type, microsecond timestamps); nothing is ever received.
   *
   * @throws UncheckedIOException if the file cannot be written
   */
  static NetBackend pcap(Path file) {
    return new PcapWriter(Objects.requireNonNull(file));
  }

  /**
   * The Linux TAP interface {@code name} (made if missing; empty: the kernel's next {@code tapN})
   * in the calling thread's network namespace, opened through {@code /dev/net/tun} with {@code
   * IFF_TAP | IFF_NO_PI}: frames sent are written to it, frames the kernel sends out of it are
   * received, by a reader thread that sleeps while none come. {@link #close} removes a tap it made.
   *
   * @throws IllegalArgumentException if {@code name} cannot name an interface
   * @throws UncheckedIOException if {@code /dev/net/tun} is missing or the kernel refuses the tap
   *     (making one needs CAP_NET_ADMIN)
   */
  static NetBackend tap(String name) {
    return new TapBackend(TapBackend.CLONE_DEVICE, Objects.requireNonNull(name));
  }
}
