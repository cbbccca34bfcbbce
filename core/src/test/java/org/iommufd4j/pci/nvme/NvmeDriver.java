package org.iommufd4j.pci.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Configuration;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Protection;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.RecordingSink;
import org.iommufd4j.pci.VirtualClock;

/**
 * A small NVMe driver for the tests: an NVMe controller whose DMA goes through an emulated VT-d
 * attached to one IOAS that maps {@link #HOST_SIZE} bytes of this process's memory at {@link
 * #HOST_IOVA}, on virtual time, its interrupts recorded. Everything goes through BAR0 and config
 * space as a driver's would; {@link #settle} lets the controller's clock run.
 */
final class NvmeDriver implements AutoCloseable {
  static final long HOST_IOVA = 0x100_0000L;
  static final int HOST_SIZE = 16 << 20;
  static final int PAGE = 4096;
  static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  final Arena arena = Arena.ofShared();
  final Iommufd iommufd =
      Iommufd.emulated(
          Configuration.builder().privateHost(true).memlockLimit(Configuration.UNLIMITED).build());
  final Ioas ioas = iommufd.createIoas();
  final EmulatedDevice iommuPort = iommufd.createDevice(PciFunction.QEMU_INTEL_IOMMU);
  final VirtualClock clock = new VirtualClock();
  final RecordingSink sink = new RecordingSink();
  final MemorySegment host = arena.allocate(HOST_SIZE, PAGE);
  final NvmeNamespace namespace;
  final PciFunction function;
  final NvmeController controller;
  private long nextPage = HOST_IOVA;
  private int nextCid;
  private static final int LIST_PAGES = 64;
  private long listPool;
  private int listNext;

  Queue admin;

  NvmeDriver(NvmeNamespace namespace) {
    this.namespace = namespace;
    iommuPort.attach(ioas);
    ioas.mapFixed(HOST_IOVA, host, Protection.READ_WRITE);
    function =
        PciFunction.create(
            ports -> new NvmeController(ports, namespace), DmaPort.of(iommuPort), clock, sink);
    controller = (NvmeController) function.model();
    function.config().write(0x04, 2, 0x6); // memory decode and bus mastering
  }

  NvmeDriver() {
    this(NvmeNamespace.inMemory(1 << 20));
  }

  @Override
  public void close() {
    iommuPort.close();
    iommufd.close();
    arena.close();
    namespace.close();
  }

  // ---- memory

  /** {@code pages} zeroed, contiguous pages of host memory; their bus address. */
  long allocate(int pages) {
    long iova = nextPage;
    nextPage += (long) pages * PAGE;
    assertThat(nextPage).isLessThanOrEqualTo(HOST_IOVA + HOST_SIZE);
    memory(iova, (long) pages * PAGE).fill((byte) 0);
    return iova;
  }

  MemorySegment memory(long iova, long length) {
    return host.asSlice(iova - HOST_IOVA, length);
  }

  // ---- registers

  long reg(int offset, int size) {
    return function.barRead(0, offset, size);
  }

  void reg(int offset, int size, long value) {
    function.barWrite(0, offset, size, value);
  }

  int csts() {
    return (int) reg(0x1c, 4);
  }

  /** Sets up the admin queues of {@code entries} entries and enables the controller. */
  void enable(int entries) {
    admin = new Queue(0, allocate(pages(entries * 64)), allocate(pages(entries * 16)), entries);
    reg(0x24, 4, (entries - 1) | (entries - 1) << 16);
    reg(0x28, 8, admin.sq);
    reg(0x30, 8, admin.cq);
    reg(0x14, 4, 6 << 16 | 4 << 20 | 1);
    assertThat(csts() & 3).isEqualTo(1);
  }

  void disable() {
    reg(0x14, 4, 0);
  }

  private static int pages(int bytes) {
    return (bytes + PAGE - 1) / PAGE;
  }

  // ---- queues

  /** A queue pair as the driver tracks it. */
  final class Queue {
    final int id;
    final long sq;
    final long cq;
    final int size;
    final int cqSize;
    int tail;
    int head;
    boolean phase = true;

    Queue(int id, long sq, long cq, int size) {
      this(id, sq, cq, size, size);
    }

    Queue(int id, long sq, long cq, int size, int cqSize) {
      this.id = id;
      this.sq = sq;
      this.cq = cq;
      this.size = size;
      this.cqSize = cqSize;
    }

    /** Writes {@code command} at the tail (with a fresh CID) without ringing; its CID. */
    int put(Sqe command) {
      int cid = nextCid++ & 0xffff;
      command.cid(cid);
      MemorySegment.copy(command.bytes, 0, memory(sq + (long) tail * 64, 64), 0, 64);
      tail = (tail + 1) % size;
      return cid;
    }

    void ring() {
      reg(0x1000 + 8 * id, 4, tail);
    }

    int submit(Sqe command) {
      int cid = put(command);
      ring();
      return cid;
    }

    /** The completions posted so far (consumed; the head doorbell rung if any). */
    List<Cqe> reap() {
      List<Cqe> done = new ArrayList<>();
      while (true) {
        MemorySegment e = memory(cq + (long) head * 16, 16);
        int dw3 = e.get(U32, 12);
        if (((dw3 >>> 16) & 1) != (phase ? 1 : 0)) {
          break;
        }
        done.add(
            new Cqe(
                e.get(U32, 0),
                e.get(U32, 8) & 0xffff,
                e.get(U32, 8) >>> 16,
                dw3 & 0xffff,
                dw3 >>> 17));
        head = (head + 1) % cqSize;
        if (head == 0) {
          phase = !phase;
        }
      }
      if (!done.isEmpty()) {
        reg(0x1000 + 8 * id + 4, 4, head);
      }
      return done;
    }

    /** Submits, lets the controller run, and returns the one completion. */
    Cqe run(Sqe command) {
      int cid = submit(command);
      settle();
      List<Cqe> done = reap();
      assertThat(done).hasSize(1);
      assertThat(done.get(0).cid()).isEqualTo(cid);
      return done.get(0);
    }
  }

  Cqe admin(Sqe command) {
    return admin.run(command);
  }

  /** Lets the controller process what the doorbells announced. */
  void settle() {
    clock.runPending();
  }

  /**
   * Creates I/O queue pair {@code id} of {@code size} entries on MSI-X/INTx vector {@code vector}.
   */
  Queue createQueuePair(int id, int size, int vector) {
    Queue q = new Queue(id, allocate(pages(size * 64)), allocate(pages(size * 16)), size);
    assertThat(admin(Sqe.createCq(id, size, q.cq, vector)).status()).isZero();
    assertThat(admin(Sqe.createSq(id, size, q.sq, id)).status()).isZero();
    return q;
  }

  /** Enables MSI-X in config space and unmasks every vector. */
  void enableMsix() {
    int cap = function.config().findCapability(0x11);
    function.config().write(cap + 2, 2, 0x8000);
    for (int v = 0; v < NvmeController.MSIX_VECTORS; v++) {
      function.barWrite(0, NvmeController.MSIX_TABLE + 16L * v + 12, 4, 0);
    }
  }

  /** A completion queue entry. */
  record Cqe(int dw0, int sqHead, int sqId, int cid, int status) {
    int type() {
      return (status >>> 8) & 7;
    }

    int code() {
      return status & 0xff;
    }

    /** Type and code as the tests name them: 0x0SS generic, 0x1SS command specific, ... */
    int statusCode() {
      return status & 0x7ff;
    }
  }

  /** A submission queue entry being built. */
  static final class Sqe {
    final MemorySegment bytes = MemorySegment.ofArray(new byte[64]);

    Sqe(int opcode) {
      dw(0, opcode);
    }

    Sqe dw(int index, int value) {
      bytes.set(U32, index * 4L, value);
      return this;
    }

    int dw(int index) {
      return bytes.get(U32, index * 4L);
    }

    void cid(int cid) {
      dw(0, dw(0) & 0xffff | cid << 16);
    }

    Sqe nsid(int nsid) {
      return dw(1, nsid);
    }

    Sqe prp1(long iova) {
      bytes.set(U64, 24, iova);
      return this;
    }

    Sqe prp2(long iova) {
      bytes.set(U64, 32, iova);
      return this;
    }

    static Sqe identify(int cns, int nsid, long buffer) {
      return new Sqe(0x06).nsid(nsid).prp1(buffer).dw(10, cns);
    }

    static Sqe createCq(int id, int size, long base, int vector) {
      return new Sqe(0x05).prp1(base).dw(10, id | (size - 1) << 16).dw(11, 0x3 | vector << 16);
    }

    static Sqe createSq(int id, int size, long base, int cqid) {
      return new Sqe(0x01).prp1(base).dw(10, id | (size - 1) << 16).dw(11, 0x1 | cqid << 16);
    }

    static Sqe getFeatures(int fid, int select) {
      return new Sqe(0x0a).dw(10, fid | select << 8);
    }

    static Sqe setFeatures(int fid, int value) {
      return new Sqe(0x09).dw(10, fid).dw(11, value);
    }

    static Sqe getLog(int lid, int bytes, long buffer) {
      return new Sqe(0x02).prp1(buffer).dw(10, lid | (bytes / 4 - 1) << 16);
    }

    /** Read (0x02) or write (0x01) of {@code blocks} at {@code lba}, data at PRP1/PRP2. */
    static Sqe rw(int opcode, long lba, int blocks, long prp1, long prp2) {
      return new Sqe(opcode)
          .nsid(1)
          .prp1(prp1)
          .prp2(prp2)
          .dw(10, (int) lba)
          .dw(11, (int) (lba >>> 32))
          .dw(12, blocks - 1);
    }
  }

  /**
   * A read or write of {@code blocks} at {@code lba} whose data is {@code buffer} (contiguous in
   * bus addresses, any dword-aligned start): PRP1, then PRP2 or a PRP list as a driver builds them.
   */
  Sqe io(int opcode, long lba, int blocks, long buffer) {
    long length = (long) blocks * 512;
    long first = Math.min(length, PAGE - (buffer & (PAGE - 1)));
    long rest = length - first;
    long prp2 = 0;
    if (rest > 0 && rest <= PAGE) {
      prp2 = buffer + first;
    } else if (rest > PAGE) {
      int entries = (int) ((rest + PAGE - 1) / PAGE);
      if (listPool == 0) {
        listPool = allocate(LIST_PAGES);
      }
      prp2 = listPool + (long) (listNext++ % LIST_PAGES) * PAGE;
      for (int i = 0; i < entries; i++) {
        memory(prp2 + 8L * i, 8).set(U64, 0, buffer + first + (long) i * PAGE);
      }
    }
    return Sqe.rw(opcode, lba, blocks, buffer, prp2);
  }
}
