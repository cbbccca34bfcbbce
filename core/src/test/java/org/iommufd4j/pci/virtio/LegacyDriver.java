package org.iommufd4j.pci.virtio;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.iommufd4j.pci.PciFunction;

/**
 * A small legacy virtio-net driver for the tests: the init sequence of the legacy interface,
 * feature negotiation, split rings in memory the device reaches through its IOMMU, and frames in
 * and out. It writes rings as a driver does, and lets tests write them as no driver should.
 */
final class LegacyDriver {
  static final int ACKNOWLEDGE = 1;
  static final int DRIVER = 2;
  static final int DRIVER_OK = 4;
  static final int FEATURES_OK = 8;
  static final int NEEDS_RESET = 0x40;
  static final int RING_BYTES = 16 << 10;
  static final int BUFFERS = 256 << 10;

  /** How the driver reaches the device: BAR and config space accesses. */
  interface Access {
    long read(int bar, long offset, int size);

    void write(int bar, long offset, int size, long value);

    int configRead(int offset, int size);

    void configWrite(int offset, int size, int value);

    /** Straight to the PCI function, as the VFIO layer would after its checks. */
    static Access of(PciFunction function) {
      return new Access() {
        @Override
        public long read(int bar, long offset, int size) {
          return function.barRead(bar, offset, size);
        }

        @Override
        public void write(int bar, long offset, int size, long value) {
          function.barWrite(bar, offset, size, value);
        }

        @Override
        public int configRead(int offset, int size) {
          return function.config().read(offset, size);
        }

        @Override
        public void configWrite(int offset, int size, int value) {
          function.config().write(offset, size, value);
        }
      };
    }
  }

  final Access access;
  final MemorySegment memory;
  final long iova;
  final List<Queue> queues = new ArrayList<>();
  int features;
  boolean msix;
  private long nextBuffer = BUFFERS;

  /** {@code memory} is mapped at {@code iova} in the device's IOAS. */
  LegacyDriver(Access access, MemorySegment memory, long iova) {
    this.access = access;
    this.memory = memory;
    this.iova = iova;
    access.configWrite(0x04, 2, 0x7); // I/O and memory decoding, bus mastering
  }

  long read(int offset, int size) {
    return access.read(0, offset, size);
  }

  void write(int offset, int size, long value) {
    access.write(0, offset, size, value);
  }

  int status() {
    return (int) read(VirtioNetDevice.STATUS, 1);
  }

  int configOffset() {
    return msix ? VirtioNetDevice.CONFIG_MSIX : VirtioNetDevice.CONFIG;
  }

  /** Turns MSI-X on with every vector unmasked; the layout of BAR0 shifts. */
  void enableMsix() {
    int pos = access.configRead(0x34, 1);
    while (access.configRead(pos, 1) != 0x11) {
      pos = access.configRead(pos + 1, 1);
    }
    int vectors = (access.configRead(pos + 2, 2) & 0x7ff) + 1;
    access.configWrite(pos + 2, 2, 0x8000);
    for (int v = 0; v < vectors; v++) {
      access.write(1, 16L * v + 12, 4, 0);
    }
    msix = true;
  }

  /**
   * The legacy init sequence: reset, ACKNOWLEDGE, DRIVER, features (the host's masked with {@code
   * wanted}), then {@code queueCount} queues each with vector = its index + 1 under MSI-X (config
   * vector 0), then DRIVER_OK.
   */
  void init(int wanted, int queueCount) {
    write(VirtioNetDevice.STATUS, 1, 0);
    queues.clear();
    nextBuffer = BUFFERS;
    write(VirtioNetDevice.STATUS, 1, ACKNOWLEDGE);
    write(VirtioNetDevice.STATUS, 1, ACKNOWLEDGE | DRIVER);
    features = (int) read(VirtioNetDevice.HOST_FEATURES, 4) & wanted;
    write(VirtioNetDevice.GUEST_FEATURES, 4, features);
    if (msix) {
      write(VirtioNetDevice.CONFIG_VECTOR, 2, 0);
    }
    for (int q = 0; q < queueCount; q++) {
      write(VirtioNetDevice.QUEUE_SELECT, 2, q);
      int size = (int) read(VirtioNetDevice.QUEUE_SIZE, 2);
      Queue queue = new Queue(q, size, (long) q * RING_BYTES);
      queues.add(queue);
      write(VirtioNetDevice.QUEUE_PFN, 4, (iova + queue.base) >>> 12);
      if (msix) {
        write(VirtioNetDevice.QUEUE_VECTOR, 2, q + 1);
      }
    }
    write(VirtioNetDevice.STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK);
  }

  boolean has(int feature) {
    return (features & (1 << feature)) != 0;
  }

  int headerLength() {
    return has(VirtioNetDevice.F_MRG_RXBUF) ? 12 : 10;
  }

  /** {@code length} bytes of buffer memory; its offset in {@link #memory}. */
  long allocate(int length) {
    long at = (nextBuffer + 15) & ~15L;
    if (at + length > memory.byteSize()) {
      nextBuffer = BUFFERS; // the tests reuse buffers only after the device is done with them
      at = BUFFERS;
    }
    nextBuffer = at + length;
    return at;
  }

  /** A frame (with a zero header) in one readable buffer on transmit queue {@code tx}. */
  int send(int tx, byte[] frame) {
    long at = allocate(headerLength() + frame.length);
    memory.asSlice(at, headerLength()).fill((byte) 0);
    MemorySegment.copy(frame, 0, memory, ValueLayout.JAVA_BYTE, at + headerLength(), frame.length);
    return queues.get(tx).add(new long[] {at}, new int[] {headerLength() + frame.length}, 0);
  }

  /** One writable receive buffer of {@code length} bytes on queue {@code rx}. */
  int giveBuffer(int rx, int length) {
    long at = allocate(length);
    return queues.get(rx).add(new long[] {at}, new int[] {length}, 1);
  }

  void notify(int queue) {
    write(VirtioNetDevice.QUEUE_NOTIFY, 2, queue);
  }

  /** A used element. */
  record Used(int id, int length) {}

  /**
   * A split ring the driver owns, at {@code base} in memory, its descriptors handed out in order.
   */
  final class Queue {
    final int index;
    final int size;
    final long base;
    final long avail;
    final long used;
    int nextDescriptor;
    int availIdx;
    int lastUsed;
    final List<long[]> chains = new ArrayList<>();

    Queue(int index, int size, long base) {
      this.index = index;
      this.size = size;
      this.base = base;
      this.avail = base + 16L * size;
      this.used = (avail + 6 + 2L * size + 4095) & ~4095L;
      memory.asSlice(base, RING_BYTES).fill((byte) 0);
      for (int i = 0; i < size; i++) {
        chains.add(null);
      }
    }

    /**
     * A chain of buffers (offsets in memory), the last {@code writable} of them device-writable;
     * made available at once. Returns its head.
     */
    int add(long[] offsets, int[] lengths, int writable) {
      int head = nextDescriptor;
      for (int i = 0; i < offsets.length; i++) {
        int d = (head + i) % size;
        int flags = (i >= offsets.length - writable ? 2 : 0) | (i + 1 < offsets.length ? 1 : 0);
        descriptor(d, iova + offsets[i], lengths[i], flags, (d + 1) % size);
      }
      nextDescriptor = (head + offsets.length) % size;
      chains.set(head, offsets);
      publish(head);
      return head;
    }

    void descriptor(int d, long address, int length, int flags, int next) {
      long at = base + 16L * d;
      memory.set(ValueLayout.JAVA_LONG_UNALIGNED, at, address);
      memory.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, length);
      memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12, (short) flags);
      memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14, (short) next);
    }

    int descriptorFlags(int d) {
      return memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 16L * d + 12) & 0xffff;
    }

    int descriptorNext(int d) {
      return memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, base + 16L * d + 14) & 0xffff;
    }

    /** Puts {@code head} in the next available slot and moves the index. */
    void publish(int head) {
      memory.set(
          ValueLayout.JAVA_SHORT_UNALIGNED, avail + 4 + 2L * (availIdx % size), (short) head);
      availIdx = (availIdx + 1) & 0xffff;
      setAvailIdx(availIdx);
    }

    void setAvailIdx(int value) {
      memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 2, (short) value);
    }

    void setAvailFlags(int flags) {
      memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail, (short) flags);
    }

    void setUsedEvent(int value) {
      memory.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 4 + 2L * size, (short) value);
    }

    int usedIdx() {
      return memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, used + 2) & 0xffff;
    }

    int usedFlags() {
      return memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, used) & 0xffff;
    }

    int availEvent() {
      return memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, used + 4 + 8L * size) & 0xffff;
    }

    /** The elements the device used since the last call. */
    List<Used> takeUsed() {
      List<Used> out = new ArrayList<>();
      int idx = usedIdx();
      while (lastUsed != idx) {
        long at = used + 4 + 8L * (lastUsed % size);
        out.add(
            new Used(
                memory.get(ValueLayout.JAVA_INT_UNALIGNED, at),
                memory.get(ValueLayout.JAVA_INT_UNALIGNED, at + 4)));
        lastUsed = (lastUsed + 1) & 0xffff;
      }
      return out;
    }
  }

  /**
   * The frames received on {@code rx} since the last call, each from its used buffers (one, or
   * num_buffers with mergeable buffers), header removed.
   */
  List<byte[]> receive(int rx) {
    Queue q = queues.get(rx);
    List<byte[]> frames = new ArrayList<>();
    List<Used> used = q.takeUsed();
    for (int i = 0; i < used.size(); ) {
      long first = q.chains.get(used.get(i).id())[0];
      int buffers =
          has(VirtioNetDevice.F_MRG_RXBUF)
              ? memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, first + 10) & 0xffff
              : 1;
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      for (int b = 0; b < buffers; b++, i++) {
        Used u = used.get(i);
        long[] offsets = q.chains.get(u.id());
        int left = u.length();
        for (int d = 0; d < offsets.length && left > 0; d++) {
          long descriptor = q.base + 16L * ((u.id() + d) % q.size);
          int n = Math.min(left, memory.get(ValueLayout.JAVA_INT_UNALIGNED, descriptor + 8));
          bytes.writeBytes(memory.asSlice(offsets[d], n).toArray(ValueLayout.JAVA_BYTE));
          left -= n;
        }
      }
      byte[] all = bytes.toByteArray();
      frames.add(Arrays.copyOfRange(all, headerLength(), all.length));
    }
    return frames;
  }
}
