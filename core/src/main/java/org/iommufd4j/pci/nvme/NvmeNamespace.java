package org.iommufd4j.pci.nvme;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The storage behind one namespace: 512-byte logical blocks in memory or in a file. A file is
 * created if missing and grown sparsely to the namespace's size; it is never shrunk.
 */
public final class NvmeNamespace implements AutoCloseable {
  /** Bytes per logical block (LBA format 0, as QEMU's default). */
  public static final int BLOCK_SIZE = 512;

  /** The size of a namespace nobody gave a size: 64 MiB. */
  public static final long DEFAULT_SIZE = 64L << 20;

  private static final int ZERO_CHUNK = 64 << 10;

  private final long blocks;
  private final MemorySegment memory;
  private final FileChannel file;

  private NvmeNamespace(long bytes, MemorySegment memory, FileChannel file) {
    this.blocks = bytes / BLOCK_SIZE;
    this.memory = memory;
    this.file = file;
  }

  /** A namespace of {@code bytes} (rounded down to whole blocks) of zeroed memory. */
  public static NvmeNamespace inMemory(long bytes) {
    requireSize(bytes);
    return new NvmeNamespace(
        bytes, Arena.ofAuto().allocate(bytes / BLOCK_SIZE * BLOCK_SIZE, 4096), null);
  }

  /**
   * A namespace backed by {@code path}: {@code bytes} long if positive (the file grown sparsely if
   * shorter), else as long as the file, or {@link #DEFAULT_SIZE} for a new or empty file.
   */
  public static NvmeNamespace file(Path path, long bytes) {
    try {
      FileChannel channel =
          FileChannel.open(
              path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      try {
        long size = bytes > 0 ? bytes : channel.size() > 0 ? channel.size() : DEFAULT_SIZE;
        requireSize(size);
        if (channel.size() < size) {
          // one byte at the end makes the file as long as the namespace without allocating it
          channel.write(ByteBuffer.allocate(1), size - 1);
        }
        return new NvmeNamespace(size, null, channel);
      } catch (RuntimeException | IOException e) {
        channel.close();
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open " + path, e);
    }
  }

  private static void requireSize(long bytes) {
    if (bytes < BLOCK_SIZE) {
      throw new IllegalArgumentException("a namespace needs at least one 512-byte block: " + bytes);
    }
  }

  /** The namespace's size in logical blocks. */
  public long blocks() {
    return blocks;
  }

  void read(long offset, MemorySegment dst) throws IOException {
    if (memory != null) {
      MemorySegment.copy(memory, offset, dst, 0, dst.byteSize());
      return;
    }
    ByteBuffer buffer = dst.asByteBuffer();
    while (buffer.hasRemaining()) {
      int n = file.read(buffer, offset + buffer.position());
      if (n < 0) { // past the end of a file someone truncated: reads as zeroes
        dst.asSlice(buffer.position()).fill((byte) 0);
        return;
      }
    }
  }

  void write(long offset, MemorySegment src) throws IOException {
    if (memory != null) {
      MemorySegment.copy(src, 0, memory, offset, src.byteSize());
      return;
    }
    ByteBuffer buffer = src.asByteBuffer();
    while (buffer.hasRemaining()) {
      file.write(buffer, offset + buffer.position());
    }
  }

  void zero(long offset, long length) throws IOException {
    if (memory != null) {
      memory.asSlice(offset, length).fill((byte) 0);
      return;
    }
    ByteBuffer zeroes = ByteBuffer.allocate((int) Math.min(length, ZERO_CHUNK));
    for (long done = 0; done < length; ) {
      zeroes.clear().limit((int) Math.min(zeroes.capacity(), length - done));
      done += file.write(zeroes, offset + done);
    }
  }

  void flush() throws IOException {
    if (file != null) {
      file.force(false);
    }
  }

  /** Closes the backing file, if any. */
  @Override
  public void close() {
    if (file != null) {
      try {
        file.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
