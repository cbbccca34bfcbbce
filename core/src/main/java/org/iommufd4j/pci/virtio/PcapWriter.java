package org.iommufd4j.pci.virtio;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The {@link NetBackend#pcap} writer: the classic pcap format (version 2.4, microsecond timestamps,
 * Ethernet), one record per frame, written through at once so that a reader sees every frame sent
 * so far.
 */
final class PcapWriter implements NetBackend {
  private static final int MAGIC = 0xa1b2c3d4;
  private static final int SNAPLEN = 65535;
  private static final int LINKTYPE_ETHERNET = 1;
  private final FileChannel channel;
  private final ByteBuffer header = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);

  PcapWriter(Path file) {
    try {
      channel =
          FileChannel.open(
              file,
              StandardOpenOption.CREATE,
              StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING);
      header.putInt(MAGIC).putShort((short) 2).putShort((short) 4).putInt(0).putInt(0);
      header.putInt(SNAPLEN).putInt(LINKTYPE_ETHERNET).flip();
      writeFully(header);
    } catch (IOException e) {
      throw new UncheckedIOException("pcap " + file, e);
    }
  }

  @Override
  public void connect(Port port) {}

  @Override
  public synchronized void send(byte[] frame, int queuePair) {
    long micros = System.currentTimeMillis() * 1000;
    int captured = Math.min(frame.length, SNAPLEN);
    header.clear();
    header.putInt((int) (micros / 1_000_000)).putInt((int) (micros % 1_000_000));
    header.putInt(captured).putInt(frame.length).flip();
    try {
      writeFully(header, ByteBuffer.wrap(frame, 0, captured));
    } catch (IOException e) {
      throw new UncheckedIOException("pcap write", e);
    }
  }

  private void writeFully(ByteBuffer... buffers) throws IOException {
    long left = 0;
    for (ByteBuffer b : buffers) {
      left += b.remaining();
    }
    while (left > 0) {
      left -= channel.write(buffers);
    }
  }
}
