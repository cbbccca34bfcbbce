package org.iommufd4j.pci.virtio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
    PairEnd left = new PairEnd();
    PairEnd right = new PairEnd();
    left.far = right;
    right.far = left;
    return new Pair(left, right);
  }

  /**
   * Writes every frame sent to {@code file} (created or truncated) in the classic pcap format
   * (Ethernet link type, microsecond timestamps); nothing is ever received.
   *
   * @throws UncheckedIOException if the file cannot be written
   */
  static NetBackend pcap(Path file) {
    return new PcapWriter(file);
  }

  /** One end of a {@link #pair()}. */
  final class PairEnd implements NetBackend {
    private PairEnd far;
    private volatile Port port;

    private PairEnd() {}

    @Override
    public void connect(Port port) {
      this.port = Objects.requireNonNull(port);
    }

    @Override
    public void send(byte[] frame, int queuePair) {
      Port p = far.port;
      if (p != null) {
        p.receive(frame, queuePair);
      }
    }
  }

  /** The pcap file writer behind {@link #pcap}. */
  final class PcapWriter implements NetBackend {
    private static final int MAGIC = 0xa1b2c3d4;
    private static final int SNAPLEN = 65535;
    private static final int LINKTYPE_ETHERNET = 1;
    private final FileChannel channel;
    private final ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);

    private PcapWriter(Path file) {
      try {
        channel =
            FileChannel.open(
                file,
                StandardOpenOption.CREATE,
                StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        header.putInt(MAGIC).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0);
        header.putInt(SNAPLEN).putInt(LINKTYPE_ETHERNET).flip();
        channel.write(header);
      } catch (IOException e) {
        throw new UncheckedIOException("pcap " + file, e);
      }
    }

    @Override
    public void connect(Port port) {}

    @Override
    public synchronized void send(byte[] frame, int queuePair) {
      long micros = System.currentTimeMillis() * 1000 + (System.nanoTime() / 1000) % 1000;
      int captured = Math.min(frame.length, SNAPLEN);
      header.clear();
      header.putInt((int) (micros / 1_000_000)).putInt((int) (micros % 1_000_000));
      header.putInt(captured).putInt(frame.length).flip();
      try {
        channel.write(new ByteBuffer[] {header.slice(0, 16), ByteBuffer.wrap(frame, 0, captured)});
      } catch (IOException e) {
        throw new UncheckedIOException("pcap write", e);
      }
    }
  }
}
