package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.Dispatcher.U16;
import static org.iommufd4j.uapi.Dispatcher.U32;
import static org.iommufd4j.uapi.Dispatcher.U64;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.Errno;
import org.iommufd4j.IovaRange;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.VfioCompat;

/**
 * The VFIO type-1 compatibility handler (vfio_compat.c: iommufd_vfio_ioctl()), reached from the
 * first check of main.c: iommufd_fops_ioctl() for every request whose {@code nr} lies outside the
 * iommufd table. There is no size word: each command reads its own fixed number of bytes (or takes
 * {@code arg} as an integer), checks {@code argsz} itself, and writes back only what vfio_compat.c
 * writes back. Anything else is ENOTTY, without touching {@code arg}.
 */
final class VfioDispatcher {
  /** {@code _IO(';', 0x7f)}-style requests and VFIO_IOMMU_DIRTY_PAGES end here. */
  private static final int ENOTTY = -Errno.ENOTTY.number();

  /** DMA-available capability at 24 (12 bytes padded to 16), IOVA-range capability at 40. */
  private static final int DMA_AVAIL_AT = VfioIommuType1Info.SIZE;

  private static final int IOVA_RANGE_AT =
      DMA_AVAIL_AT + ((VfioIommuType1InfoDmaAvail.SIZE + 7) & ~7);
  private static final int DMA_AVAIL_ALL = 0xffff_ffff;

  /** Per-thread native buffers, so a call allocates nothing. */
  private static final class Scratch {
    final MemorySegment struct;

    final MemorySegment cap;

    /** This thread's argument block, reused by every call ({@link ArgStruct#begin}). */
    final ArgStruct arg;

    Scratch() {
      Arena arena = Arena.ofAuto();
      struct = arena.allocate(VfioIommuType1DmaMap.SIZE, 8);
      cap = arena.allocate(VfioIommuType1InfoCapIovaRange.SIZE, 8);
      // The start of a native argument segment is fetched into this once per call.
      arg = new ArgStruct(arena.allocate(VfioIommuType1DmaMap.SIZE, 8));
    }
  }

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  private VfioDispatcher() {}

  /** One VFIO compat request; the result of the system call (0, 1, or {@code -errno}). */
  static int ioctl(Context ctx, Caller caller, long request, long arg, MemorySegment direct) {
    VfioCompat vfio = ctx.vfio();
    if (request == Vfio.VFIO_GET_API_VERSION) {
      return vfio.apiVersion();
    }
    if (request == Vfio.VFIO_CHECK_EXTENSION) {
      return vfio.checkExtension(arg); // the argument is the extension number itself
    }
    if (request == Vfio.VFIO_SET_IOMMU) {
      vfio.setIommu(arg); // the argument is the IOMMU type itself
      return 0;
    }
    Scratch scratch = SCRATCH.get();
    Block block = new Block(scratch.arg.begin(caller.memory(), arg, direct), arg, scratch);
    try {
      return run(vfio, caller, request, block);
    } finally {
      scratch.arg.end();
    }
  }

  private static int run(VfioCompat vfio, Caller caller, long request, Block block) {
    if (request == Vfio.VFIO_IOMMU_GET_INFO) {
      return getInfo(vfio, block);
    }
    if (request == Vfio.VFIO_IOMMU_MAP_DMA) {
      return mapDma(vfio, caller, block);
    }
    if (request == Vfio.VFIO_IOMMU_UNMAP_DMA) {
      return unmapDma(vfio, block);
    }
    return ENOTTY;
  }

  /**
   * MAP_DMA: read 32 bytes, argsz, then the engine; nothing is written back (vfio_compat.c:
   * iommufd_vfio_map_dma()).
   */
  private static int mapDma(VfioCompat vfio, Caller caller, Block b) {
    MemorySegment s = b.readStruct(VfioIommuType1DmaMap.SIZE);
    checkArgsz(s, VfioIommuType1DmaMap.MIN_SIZE);
    vfio.mapDma(
        caller,
        s.get(U32, VfioIommuType1DmaMap.FLAGS),
        s.get(U64, VfioIommuType1DmaMap.VADDR),
        s.get(U64, VfioIommuType1DmaMap.IOVA),
        s.get(U64, VfioIommuType1DmaMap.SIZE_FIELD));
    return 0;
  }

  /**
   * UNMAP_DMA: read 24 bytes, argsz, then the engine (vfio_compat.c: iommufd_vfio_unmap_dma()).
   * Once the removal ran, the 24 bytes go back with {@code size} = bytes removed, and the removal's
   * error (or EFAULT) is returned.
   */
  private static int unmapDma(VfioCompat vfio, Block b) {
    MemorySegment s = b.readStruct(VfioIommuType1DmaUnmap.SIZE);
    checkArgsz(s, VfioIommuType1DmaUnmap.MIN_SIZE);
    VfioCompat.UnmapDmaResult result =
        vfio.unmapDma(
            s.get(U32, VfioIommuType1DmaUnmap.FLAGS),
            s.get(U64, VfioIommuType1DmaUnmap.IOVA),
            s.get(U64, VfioIommuType1DmaUnmap.SIZE_FIELD));
    s.set(U64, VfioIommuType1DmaUnmap.SIZE_FIELD, result.unmapped());
    if (!b.write(0, s.asSlice(0, VfioIommuType1DmaUnmap.SIZE))) {
      return -Errno.EFAULT.number();
    }
    return result.error() == null ? 0 : -result.error().number();
  }

  /**
   * GET_INFO: read 16 bytes, argsz, the engine's answer, then the capabilities and the struct, each
   * written only where it fits inside {@code argsz}, in the kernel's order (so a fault leaves the
   * same bytes written) (vfio_compat.c: iommufd_vfio_iommu_get_info()).
   */
  private static int getInfo(VfioCompat vfio, Block b) {
    MemorySegment s = b.readStruct(VfioIommuType1Info.MIN_SIZE);
    checkArgsz(s, VfioIommuType1Info.MIN_SIZE);
    long argsz = Integer.toUnsignedLong(s.get(U32, VfioIommuType1Info.ARGSZ));
    VfioCompat.Type1Info info = vfio.info();
    int n = info.ranges().size();
    long total =
        IOVA_RANGE_AT
            + VfioIommuType1InfoCapIovaRange.SIZE
            + (long) n * VfioIommuType1InfoCapIovaRange.RANGE_SIZE;
    MemorySegment cap = b.scratch.cap;

    if (argsz >= DMA_AVAIL_AT + VfioIommuType1InfoDmaAvail.SIZE) {
      capHeader(
          cap,
          VfioIommuType1InfoDmaAvail.VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
          VfioIommuType1InfoDmaAvail.VERSION);
      cap.set(U32, VfioIommuType1InfoDmaAvail.AVAIL, DMA_AVAIL_ALL);
      b.writeOrFault(DMA_AVAIL_AT, cap.asSlice(0, VfioIommuType1InfoDmaAvail.SIZE));
    }
    long iovaAvail = argsz > IOVA_RANGE_AT ? argsz - IOVA_RANGE_AT : 0;
    long needed = VfioIommuType1InfoCapIovaRange.SIZE;
    for (IovaRange r : info.ranges()) {
      long at = IOVA_RANGE_AT + needed;
      needed += VfioIommuType1InfoCapIovaRange.RANGE_SIZE;
      if (iovaAvail >= needed) {
        cap.set(U64, VfioIommuType1InfoCapIovaRange.RANGE_START, r.start());
        cap.set(U64, VfioIommuType1InfoCapIovaRange.RANGE_END, r.last());
        b.writeOrFault(at, cap.asSlice(0, VfioIommuType1InfoCapIovaRange.RANGE_SIZE));
      }
    }
    if (iovaAvail >= needed) {
      capHeader(
          cap,
          VfioIommuType1InfoCapIovaRange.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
          VfioIommuType1InfoCapIovaRange.VERSION);
      cap.set(U32, VfioIommuType1InfoCapIovaRange.NR_IOVAS, n);
      cap.set(U32, VfioIommuType1InfoCapIovaRange.RESERVED, 0);
      b.writeOrFault(IOVA_RANGE_AT, cap.asSlice(0, VfioIommuType1InfoCapIovaRange.SIZE));
    }
    if (argsz >= IOVA_RANGE_AT) {
      cap.set(U32, 0, IOVA_RANGE_AT);
      b.writeOrFault(DMA_AVAIL_AT + VfioInfoCapHeader.NEXT, cap.asSlice(0, 4));
    }

    MemorySegment out = b.scratch.struct;
    out.set(U32, VfioIommuType1Info.ARGSZ, (int) total);
    out.set(
        U32,
        VfioIommuType1Info.FLAGS,
        VfioIommuType1Info.VFIO_IOMMU_INFO_PGSIZES | VfioIommuType1Info.VFIO_IOMMU_INFO_CAPS);
    out.set(U64, VfioIommuType1Info.IOVA_PGSIZES, info.iovaPgsizes());
    out.set(U32, VfioIommuType1Info.CAP_OFFSET, argsz >= total ? DMA_AVAIL_AT : 0);
    out.set(U32, VfioIommuType1Info.PAD, 0);
    b.writeOrFault(0, out.asSlice(0, Math.min(argsz, VfioIommuType1Info.SIZE)));
    return 0;
  }

  private static void capHeader(MemorySegment cap, int id, int version) {
    cap.set(U16, VfioInfoCapHeader.ID, (short) id);
    cap.set(U16, VfioInfoCapHeader.VERSION, (short) version);
    cap.set(U32, VfioInfoCapHeader.NEXT, 0);
  }

  /** {@code argsz} below the command's minimum → EINVAL (vfio_compat.c: iommufd_vfio_ioctl()). */
  private static void checkArgsz(MemorySegment s, int minSize) {
    int argsz = s.get(U32, 0);
    if (Integer.compareUnsigned(argsz, minSize) < 0) {
      throw ErrnoException.of(Errno.EINVAL, "argsz=" + Integer.toUnsignedString(argsz));
    }
  }

  /** The caller's argument block, at {@code address}. */
  private record Block(ArgStruct struct, long address, Scratch scratch) {
    /** The first {@code length} bytes, in the scratch struct buffer; EFAULT if unreadable. */
    MemorySegment readStruct(int length) {
      MemorySegment into = scratch.struct.asSlice(0, length);
      if (!struct.read(0, into)) {
        throw ErrnoException.of(
            Errno.EFAULT, "argument at 0x" + Long.toHexString(address) + " unreadable");
      }
      return into;
    }

    boolean write(long offset, MemorySegment from) {
      return struct.write(offset, from);
    }

    void writeOrFault(long offset, MemorySegment from) {
      if (!write(offset, from)) {
        throw ErrnoException.of(Errno.EFAULT, "cannot write the reply at offset " + offset);
      }
    }
  }
}
