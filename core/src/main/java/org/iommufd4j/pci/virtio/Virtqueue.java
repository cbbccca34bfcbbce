package org.iommufd4j.pci.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.pci.DmaFaultException;
import org.iommufd4j.pci.DmaPort;

/**
 * One split virtqueue as the device sees it, read and written through DMA only. The legacy layout
 * from one page frame number: the descriptor table (16 bytes a descriptor), then the available ring
 * (flags, idx, ring[size], used_event), then, at the next 4 KiB boundary, the used ring (flags,
 * idx, ring[size] of {id, len}, avail_event).
 *
 * <p>Each DMA access costs a round trip to the driver's memory, so the queue reads and writes in
 * runs: all the available entries the index announces in one read, descriptors a window at a time
 * (a driver hands out consecutive ones), an indirect table whole, and the used entries of a batch
 * in one write before the one write of the used index. What is read ahead is trusted only while the
 * available index read before it stands: the driver wrote those chains before it published that
 * index and may not touch them until they are used, so a new index read drops the window.
 *
 * <p>A ring the driver got wrong throws {@link BrokenRingException}; the caller stops the queue.
 * The checks bound every walk: at most {@code size} descriptors a chain, indirect tables included,
 * so no descriptor loop or table can keep the device busy.
 */
final class Virtqueue {
  static final int NO_VECTOR = 0xffff;
  static final int LEGACY_ALIGN = 4096;
  static final int PFN_SHIFT = 12;

  static final int DESC_F_NEXT = 1;
  static final int DESC_F_WRITE = 2;
  static final int DESC_F_INDIRECT = 4;
  private static final int DESC_SIZE = 16;
  private static final int USED_ELEM_SIZE = 8;

  /** Descriptors read in one access when the one wanted is not at hand. */
  static final int DESCRIPTOR_WINDOW = 32;

  private static final int AVAIL_F_NO_INTERRUPT = 1;
  private static final int USED_F_NO_NOTIFY = 1;

  /** A descriptor chain taken from the available ring: its head and its buffers in order. */
  static final class Chain {
    int head;
    int count;
    int readableCount;
    final long[] address;
    final int[] length;

    Chain(int capacity) {
      address = new long[capacity];
      length = new int[capacity];
    }

    long readableBytes() {
      long n = 0;
      for (int i = 0; i < readableCount; i++) {
        n += length[i];
      }
      return n;
    }

    long writableBytes() {
      long n = 0;
      for (int i = readableCount; i < count; i++) {
        n += length[i];
      }
      return n;
    }
  }

  /** A ring the driver laid out against the rules; the queue must stop. */
  static final class BrokenRingException extends Exception {
    BrokenRingException(String message) {
      super(message);
    }
  }

  final int size;
  private final DmaPort dma;
  private final MemorySegment word = Arena.ofAuto().allocate(DESC_SIZE, 8);
  private final Chain chain;

  /** Available entries read ahead: the heads at indices [lastAvail, aheadAvail) mod size. */
  private final MemorySegment availAhead;

  /** The descriptor table's entries [windowFrom, windowTo), at their own offsets. */
  private final MemorySegment descriptors;

  /** The indirect table of the chain being walked. */
  private final MemorySegment indirectTable;

  /** Used entries not yet written, at their ring offsets; [writtenUsed, usedIdx) mod size. */
  private final MemorySegment usedAhead;

  private int pfn;
  private long desc;
  private long avail;
  private long used;
  private int lastAvail;
  private int seenAvail;
  private int aheadAvail;
  private int windowFrom;
  private int windowTo;
  private int usedIdx;
  private int writtenUsed;
  private int publishedUsed;
  private int vector = NO_VECTOR;
  private boolean broken;

  Virtqueue(int size, DmaPort dma) {
    this.size = size;
    this.dma = dma;
    this.chain = new Chain(size);
    Arena arena = Arena.ofAuto();
    availAhead = arena.allocate(2L * size, 8);
    descriptors = arena.allocate((long) DESC_SIZE * size, 8);
    indirectTable = arena.allocate((long) DESC_SIZE * size, 8);
    usedAhead = arena.allocate((long) USED_ELEM_SIZE * size, 8);
  }

  void reset() {
    pfn = 0;
    desc = avail = used = 0;
    lastAvail = seenAvail = aheadAvail = usedIdx = writtenUsed = publishedUsed = 0;
    windowFrom = windowTo = 0;
    vector = NO_VECTOR;
    broken = false;
  }

  int pfn() {
    return pfn;
  }

  void setPfn(int pfn) {
    this.pfn = pfn;
    windowFrom = windowTo = 0;
    aheadAvail = lastAvail;
    desc = (pfn & 0xffff_ffffL) << PFN_SHIFT;
    avail = desc + (long) DESC_SIZE * size;
    used = (avail + 6 + 2L * size + LEGACY_ALIGN - 1) & -LEGACY_ALIGN;
  }

  int vector() {
    return vector;
  }

  void setVector(int vector) {
    this.vector = vector;
  }

  boolean ready() {
    return pfn != 0 && !broken;
  }

  void stop() {
    broken = true;
  }

  boolean broken() {
    return broken;
  }

  /** Whether the driver has made chains available since the device last looked. */
  boolean availableGrew() throws BrokenRingException {
    int before = seenAvail;
    pending();
    return seenAvail != before;
  }

  /**
   * The next available chain (reused on the next call), or null if none. Its readable buffers come
   * before its writable ones, as the spec requires.
   */
  Chain pop() throws BrokenRingException {
    if (seenAvail == lastAvail && pending() == 0) { // the index is read again only when needed
      return null;
    }
    if (lastAvail == aheadAvail) {
      readAvailableEntries();
    }
    int head = availAhead.get(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * (lastAvail % size)) & 0xffff;
    if (head >= size) {
      throw new BrokenRingException("head descriptor " + head + " of a ring of " + size);
    }
    chain.head = head;
    chain.count = 0;
    chain.readableCount = 0;
    int tableSize = size;
    int index = head;
    boolean indirect = false;
    while (true) {
      if (chain.count == size) {
        throw new BrokenRingException("a chain longer than the ring (" + size + "): a loop?");
      }
      MemorySegment table = indirect ? indirectTable : descriptors;
      if (!indirect && (index < windowFrom || index >= windowTo)) {
        readDescriptorWindow(index);
      }
      long at = (long) DESC_SIZE * index;
      long address = table.get(ValueLayout.JAVA_LONG_UNALIGNED, at);
      int length = table.get(ValueLayout.JAVA_INT_UNALIGNED, at + 8);
      int flags = table.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12) & 0xffff;
      int next = table.get(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14) & 0xffff;
      if ((flags & DESC_F_INDIRECT) != 0) {
        if (indirect) {
          throw new BrokenRingException("an indirect descriptor inside an indirect table");
        }
        if ((flags & DESC_F_NEXT) != 0) {
          throw new BrokenRingException("an indirect descriptor with NEXT set");
        }
        if (length == 0
            || length % DESC_SIZE != 0
            || Integer.toUnsignedLong(length) > (long) DESC_SIZE * size) {
          throw new BrokenRingException(
              "an indirect table of " + Integer.toUnsignedString(length) + " bytes");
        }
        indirect = true;
        dma.read(address, indirectTable.asSlice(0, length));
        tableSize = length / DESC_SIZE;
        index = 0;
        continue;
      }
      boolean writable = (flags & DESC_F_WRITE) != 0;
      if (!writable && chain.count > chain.readableCount) {
        throw new BrokenRingException("a readable buffer after a writable one");
      }
      chain.address[chain.count] = address;
      chain.length[chain.count] = length;
      chain.count++;
      if (!writable) {
        chain.readableCount++;
      }
      if ((flags & DESC_F_NEXT) == 0) {
        break;
      }
      if (next >= tableSize) {
        throw new BrokenRingException("next descriptor " + next + " of a table of " + tableSize);
      }
      index = next;
    }
    lastAvail = (lastAvail + 1) & 0xffff;
    return chain;
  }

  /** Gives back the last {@code count} chains taken, unused. */
  void rewind(int count) {
    lastAvail = (lastAvail - count) & 0xffff;
  }

  /**
   * Puts {@code head} in the used ring with {@code length} bytes written; unseen until {@link
   * #publish}.
   */
  void push(int head, int length) {
    if (((usedIdx - writtenUsed) & 0xffff) == size) {
      writeUsedEntries(); // only a driver reusing heads it has not got back gets here
    }
    long at = (long) USED_ELEM_SIZE * (usedIdx % size);
    usedAhead.set(ValueLayout.JAVA_INT_UNALIGNED, at, head);
    usedAhead.set(ValueLayout.JAVA_INT_UNALIGNED, at + 4, length);
    usedIdx = (usedIdx + 1) & 0xffff;
  }

  /**
   * Makes the pushed entries visible to the driver; says whether the driver wants an interrupt for
   * them (its used_event with event index, else the NO_INTERRUPT flag).
   */
  boolean publish(boolean eventIndex) {
    if (usedIdx == publishedUsed) {
      return false;
    }
    int old = publishedUsed;
    writeUsedEntries();
    putU16(used + 2, usedIdx);
    publishedUsed = usedIdx;
    if (eventIndex) {
      int usedEvent = u16(avail + 4 + 2L * size);
      return ((usedIdx - usedEvent - 1) & 0xffff) < ((usedIdx - old) & 0xffff);
    }
    return (u16(avail) & AVAIL_F_NO_INTERRUPT) == 0;
  }

  /**
   * Asks the driver to notify on new chains, or not to while the device polls: the avail_event
   * field with event index, else the used ring's NO_NOTIFY flag.
   */
  void notifications(boolean wanted, boolean eventIndex) {
    if (eventIndex) {
      if (wanted) {
        putU16(used + 4 + 8L * size, lastAvail);
      }
    } else {
      putU16(used, wanted ? 0 : USED_F_NO_NOTIFY);
    }
  }

  private int pending() throws BrokenRingException {
    int index = u16(avail + 2);
    if (index != seenAvail) {
      seenAvail = index;
      windowFrom = windowTo = 0; // read before this index: may be of chains not yet available
    }
    int pending = (seenAvail - lastAvail) & 0xffff;
    if (pending > size) {
      throw new BrokenRingException(
          "the available index ran " + pending + " ahead in a ring of " + size);
    }
    return pending;
  }

  /**
   * Reads the entries [lastAvail, seenAvail) of the available ring: one access, two at the wrap.
   */
  private void readAvailableEntries() {
    int from = lastAvail % size;
    int count = (seenAvail - lastAvail) & 0xffff;
    int first = Math.min(count, size - from);
    dma.read(avail + 4 + 2L * from, availAhead.asSlice(2L * from, 2L * first));
    if (count > first) {
      dma.read(avail + 4, availAhead.asSlice(0, 2L * (count - first)));
    }
    aheadAvail = seenAvail;
  }

  /**
   * Reads descriptors from {@code index} on, up to a window's worth; only {@code index} itself if
   * the rest of the window faults (a driver may map no more of its table than it uses).
   */
  private void readDescriptorWindow(int index) {
    int count = Math.min(DESCRIPTOR_WINDOW, size - index);
    long at = (long) DESC_SIZE * index;
    try {
      dma.read(desc + at, descriptors.asSlice(at, (long) DESC_SIZE * count));
    } catch (DmaFaultException e) {
      count = 1;
      dma.read(desc + at, descriptors.asSlice(at, DESC_SIZE));
    }
    windowFrom = index;
    windowTo = index + count;
  }

  /** Writes the used entries [writtenUsed, usedIdx): one access, two at the wrap. */
  private void writeUsedEntries() {
    int from = writtenUsed % size;
    int count = (usedIdx - writtenUsed) & 0xffff;
    if (count == 0) {
      return;
    }
    count = Math.min(count, size);
    int first = Math.min(count, size - from);
    long at = (long) USED_ELEM_SIZE * from;
    dma.write(used + 4 + at, usedAhead.asSlice(at, (long) USED_ELEM_SIZE * first));
    if (count > first) {
      dma.write(used + 4, usedAhead.asSlice(0, (long) USED_ELEM_SIZE * (count - first)));
    }
    writtenUsed = usedIdx;
  }

  private int u16(long at) {
    MemorySegment two = word.asSlice(0, 2);
    dma.read(at, two);
    return two.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0) & 0xffff;
  }

  private void putU16(long at, int value) {
    MemorySegment two = word.asSlice(0, 2);
    two.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) value);
    dma.write(at, two);
  }
}
