package org.iommufd4j.pci.nvme;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.EmulatedMachine;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.MachineCalls;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A VFIO driver's bring-up of the controller through the device cdev, from this process: bind and
 * attach to an IOAS that maps the driver's memory, then only pread/pwrite of config space and BAR0
 * (region 0), the queues and data in the driver's own memory, completions polled on real time.
 */
class NvmeThroughVfioTest {
  private static final long CONFIG = 7L << 40;
  private static final long IOVA = 0x100000;
  private static final int MEMORY = 1 << 20;
  private static final long SEED = Long.getLong("seed", 1416);

  private final Arena arena = Arena.ofShared();
  private final NvmeNamespace namespace = NvmeNamespace.inMemory(1 << 20);
  private final EmulatedMachine machine =
      EmulatedMachine.withDevices(ports -> new NvmeController(ports, namespace));
  private final MemorySegment memory = arena.allocate(MEMORY, 4096);
  private int device;

  /** BAR0's doorbell page mapped into this process, or null to ring the doorbells with pwrite. */
  private MemorySegment doorbells;

  @AfterEach
  void close() {
    machine.close();
    arena.close();
  }

  private MemorySegment at(long iova, long length) {
    return memory.asSlice(iova - IOVA, length);
  }

  private void write(long offset, int size, long value) {
    MemorySegment v = arena.allocate(8, 8);
    v.set(JAVA_LONG, 0, value);
    machine.pwrite(device, v.asSlice(0, size), offset);
  }

  private long read32(long offset) {
    MemorySegment v = arena.allocate(4, 4);
    machine.pread(device, v, offset);
    return v.get(JAVA_INT, 0) & 0xffff_ffffL;
  }

  private void openAndMap() {
    device = machine.open("/dev/vfio/devices/vfio0");
    int iommufd = machine.open("/dev/iommu");
    MemorySegment bind = arena.allocate(16, 8);
    bind.set(JAVA_INT, 0, 16);
    bind.set(JAVA_INT, 8, iommufd);
    machine.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, bind);
    MemorySegment alloc = arena.allocate(IommuIoasAlloc.SIZE, 8);
    alloc.set(JAVA_INT, 0, IommuIoasAlloc.SIZE);
    machine.ioctl(iommufd, Command.IOMMU_IOAS_ALLOC.request(), alloc);
    int ioas = alloc.get(JAVA_INT, (int) IommuIoasAlloc.OUT_IOAS_ID);
    MemorySegment attach = arena.allocate(12, 8);
    attach.set(JAVA_INT, 0, 12);
    attach.set(JAVA_INT, 8, ioas);
    machine.ioctl(device, Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach);
    MachineCalls.mapFixed(machine, arena, iommufd, ioas, memory, IOVA);
    write(CONFIG + 4, 2, 0x6); // memory decoding and bus mastering
  }

  /** A queue pair in the driver's memory: SQ at {@code sq}, CQ at {@code sq + 0x1000}. */
  private final class Pair {
    final int id;
    final long sq;
    final int size;
    int tail;
    int head;
    boolean phase = true;

    Pair(int id, long sq, int size) {
      this.id = id;
      this.sq = sq;
      this.size = size;
    }

    void put(int opcode, int cid, int nsid, long prp1, int... dw10Up) {
      MemorySegment e = at(sq + 64L * tail, 64);
      e.fill((byte) 0);
      e.set(JAVA_INT, 0, opcode | cid << 16);
      e.set(JAVA_INT, 4, nsid);
      e.set(JAVA_LONG, 24, prp1);
      for (int i = 0; i < dw10Up.length; i++) {
        e.set(JAVA_INT, 40 + 4L * i, dw10Up[i]);
      }
      tail = (tail + 1) % size;
    }

    /** Rings the tail, waits for {@code count} completions and returns their status fields. */
    int[] complete(int count) throws InterruptedException {
      ring(8L * id, tail);
      int[] statuses = new int[count];
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      for (int n = 0; n < count; ) {
        int dw3 = at(sq + 0x1000 + 16L * head, 16).get(JAVA_INT, 12);
        if ((dw3 >>> 16 & 1) == (phase ? 1 : 0)) {
          statuses[n++] = dw3 >>> 17;
          head = (head + 1) % size;
          phase ^= head == 0;
        } else {
          assertThat(System.nanoTime()).as("completion %d of %d", n, count).isLessThan(deadline);
          Thread.sleep(1);
        }
      }
      ring(8L * id + 4, head);
      return statuses;
    }
  }

  private void ring(long doorbell, int value) {
    if (doorbells == null) {
      write(0x1000 + doorbell, 4, value);
    } else {
      doorbells.set(JAVA_INT, doorbell, value); // a plain store: no call, no trap
    }
  }

  @Test
  void aVfioDriverBringsTheControllerUpAndDoesIoInItsOwnMemory()
      throws InterruptedException, IOException {
    openAndMap();
    bringUpAndDoIo();
  }

  @Test
  void doorbellsRungWithPlainStoresIntoTheMappedBarReachTheController()
      throws InterruptedException, IOException {
    openAndMap();
    doorbells = machine.mmap(device, 0x1000, 0x1000, arena);
    bringUpAndDoIo();
  }

  @Test
  void onlyTheDoorbellPageOfBar0IsPlainMemory() {
    openAndMap();
    for (long page : new long[] {0, 0x2000, 0x3000}) { // registers, MSI-X table, PBA
      assertThatThrownBy(() -> machine.mmap(device, page, 0x1000, arena))
          .isInstanceOf(IommufdException.class)
          .extracting(e -> ((IommufdException) e).errno())
          .isEqualTo(Errno.ENODEV);
    }
    assertThatThrownBy(() -> machine.mmap(device, 0x1000, 0x2000, arena))
        .as("the doorbells and the MSI-X table")
        .isInstanceOf(IommufdException.class);
  }

  private void bringUpAndDoIo() throws InterruptedException, IOException {
    assertThat(read32(CONFIG)).isEqualTo(0x0010_1b36L);
    assertThat(read32(0x08)).as("VS").isEqualTo(0x10400);
    Pair admin = new Pair(0, IOVA, 16);
    write(0x24, 4, 15 | 15 << 16);
    write(0x28, 8, admin.sq);
    write(0x30, 8, admin.sq + 0x1000);
    write(0x14, 4, 6 << 16 | 4 << 20 | 1);
    assertThat(read32(0x1c) & 3).as("RDY").isEqualTo(1);

    long identify = IOVA + 0x2000;
    admin.put(0x06, 1, 0, identify, 1);
    assertThat(admin.complete(1)).containsExactly(0);
    assertThat(new String(at(identify + 24, 14).toArray(JAVA_BYTE), StandardCharsets.US_ASCII))
        .isEqualTo("QEMU NVMe Ctrl");

    Pair io = new Pair(1, IOVA + 0x3000, 32);
    admin.put(0x05, 2, 0, io.sq + 0x1000, 1 | 31 << 16, 1);
    admin.put(0x01, 3, 0, io.sq, 1 | 31 << 16, 1 | 1 << 16);
    assertThat(admin.complete(2)).containsExactly(0, 0);

    SplittableRandom random = new SplittableRandom(SEED);
    long data = IOVA + 0x10000;
    byte[] written = new byte[16 * 4096];
    random.nextBytes(written);
    at(data, written.length).copyFrom(MemorySegment.ofArray(written));
    for (int i = 0; i < 16; i++) {
      io.put(0x01, i, 1, data + 4096L * i, 8 * i, 0, 7);
    }
    assertThat(io.complete(16)).containsOnly(0);
    MemorySegment stored = MemorySegment.ofArray(new byte[written.length]);
    namespace.read(0, stored);
    assertThat(stored.toArray(JAVA_BYTE)).isEqualTo(written);

    long back = IOVA + 0x30000;
    for (int i = 0; i < 16; i++) {
      io.put(0x02, 16 + i, 1, back + 4096L * i, 8 * i, 0, 7);
    }
    assertThat(io.complete(16)).containsOnly(0);
    assertThat(at(back, written.length).toArray(JAVA_BYTE)).isEqualTo(written);

    write(0x14, 4, 0);
    assertThat(read32(0x1c) & 1).isZero();
  }
}
