package org.iommufd4j.pci.virtio;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The wire behind a NIC's port: where the frames it sends go and where the frames it receives come
 * from. A frame is an Ethernet frame without the virtio header and without the FCS.
 */
public interface NetBackend {

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
}
