package org.iommufd4j.trace;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuFaultAlloc;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptInvalidate;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIovaRange;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.iommufd4j.uapi.VfioIommuType1DmaUnmap;
import org.iommufd4j.uapi.VfioIommuType1Info;

/**
 * What one ioctl on the real kernel may do to the caller's memory, worked out from the request and
 * the bytes at its argument before the call: the regions it may read, the ones among them it may
 * write, the user pages it pins, the descriptor it may hand back and the descriptor it names.
 *
 * <p>A kernel recording ({@code exec --record --kernel}) cannot watch what the kernel touches; it
 * asks this, the ABI's word for it, and records the bytes of every region before the call (a replay
 * seeds its memory with them) and of every written region after it (a replay must leave the same
 * bytes there). It over-approximates: a region is the whole struct or array a call may touch,
 * whether it touches all of it or not.
 *
 * @param regions in the order of their pointers; a written region is read first too
 * @param pins user ranges the call pins (MAP, the test ops that compare pages)
 * @param newFdOffset where in the struct a descriptor the call made is returned, or -1
 * @param namedFdOffset where in the struct a descriptor the call names is, or -1 (the access test
 *     ops name the access by its descriptor)
 */
public record Footprint(
    List<Region> regions, List<Pin> pins, long newFdOffset, long namedFdOffset) {

  /** {@code length} bytes at {@code address}, read before the call and maybe {@code written}. */
  public record Region(long address, long length, boolean written) {}

  /** User pages the call pins, for writing when {@code write}. */
  public record Pin(long address, long length, boolean write) {}

  /**
   * Largest region recorded: a struct or array longer than this (a bogus size or count, which the
   * kernel refuses or fails on long before) is recorded up to here.
   */
  public static final long MAX_REGION = 1 << 20;

  public Footprint {
    regions = List.copyOf(regions);
    pins = List.copyOf(pins);
  }

  /**
   * The footprint of {@code request} with argument {@code arg}, whose first bytes before the call
   * were {@code before} (shorter than the struct where the caller could not read it all, empty for
   * a bad pointer).
   */
  public static Footprint of(long request, long arg, MemorySegment before) {
    Builder b = new Builder(arg, before);
    long cmd = request & 0xffff_ffffL; // the kernel's ioctl number is an unsigned int
    int slot = (int) (cmd & 0xff) - Command.CMD_BASE;
    if (slot >= 0 && slot < Command.TEST_TABLE_LENGTH) {
      Command c = Command.of(cmd);
      if (c != null) {
        iommufd(b, c);
      } else {
        // the size is read before the number is checked (main.c: iommufd_fops_ioctl())
        b.region(arg, 4, false);
      }
    } else {
      vfio(b, cmd); // below the table: the VFIO compat numbers, or ENOTTY untouched
    }
    return b.build();
  }

  /** An iommufd command: the size word, the struct it says, and what its members point at. */
  private static void iommufd(Builder b, Command c) {
    if (!b.has(0, 4)) {
      b.region(b.arg, 4, false); // get_user(size) fails: EFAULT
      return;
    }
    long size = Integer.toUnsignedLong(b.u32(0));
    if (size < c.minSize()) {
      b.region(b.arg, 4, false); // EINVAL after reading the size alone
      return;
    }
    long written = Math.min(size, c.ksize());
    b.region(b.arg, written, true);
    if (size > written) {
      b.region(b.arg + written, size - written, false); // must be zero (E2BIG otherwise)
    }
    switch (c) {
      case IOMMU_IOAS_ALLOW_IOVAS ->
          b.array(
              IommuIoasAllowIovas.ALLOWED_IOVAS,
              IommuIoasAllowIovas.NUM_IOVAS,
              IommuIovaRange.SIZE,
              false);
      case IOMMU_IOAS_IOVA_RANGES ->
          b.array(
              IommuIoasIovaRanges.ALLOWED_IOVAS,
              IommuIoasIovaRanges.NUM_IOVAS,
              IommuIovaRange.SIZE,
              true);
      case IOMMU_IOAS_MAP -> {
        if (b.has(IommuIoasMap.LENGTH, 8)) {
          b.pin(
              b.u64(IommuIoasMap.USER_VA),
              b.u64(IommuIoasMap.LENGTH),
              (b.u32(IommuIoasMap.FLAGS) & IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE) != 0);
        }
      }
      case IOMMU_HWPT_ALLOC -> {
        if (size >= IommuHwptAlloc.DATA_UPTR + 8) {
          b.buffer(IommuHwptAlloc.DATA_UPTR, IommuHwptAlloc.DATA_LEN, false);
        }
      }
      case IOMMU_GET_HW_INFO -> b.buffer(IommuHwInfo.DATA_UPTR, IommuHwInfo.DATA_LEN, true);
      case IOMMU_HWPT_GET_DIRTY_BITMAP ->
          b.bitmap(
              IommuHwptGetDirtyBitmap.DATA,
              IommuHwptGetDirtyBitmap.LENGTH,
              IommuHwptGetDirtyBitmap.PAGE_SIZE,
              true);
      case IOMMU_HWPT_INVALIDATE -> {
        if (b.has(IommuHwptInvalidate.ENTRY_NUM, 4)) {
          b.region(
              b.u64(IommuHwptInvalidate.DATA_UPTR),
              Integer.toUnsignedLong(b.u32(IommuHwptInvalidate.ENTRY_LEN))
                  * Integer.toUnsignedLong(b.u32(IommuHwptInvalidate.ENTRY_NUM)),
              false);
        }
      }
      case IOMMU_FAULT_QUEUE_ALLOC -> b.newFd = IommuFaultAlloc.OUT_FAULT_FD;
      case IOMMU_TEST_CMD -> testCmd(b);
      default -> {
        // the struct is all it touches
      }
    }
  }

  /** {@code IOMMU_TEST_CMD}: what each op's union member points at (selftest.c: iommufd_test()). */
  private static void testCmd(Builder b) {
    if (!b.has(IommuTestCmd.OP, 4)) {
      return;
    }
    switch (b.u32(IommuTestCmd.OP)) {
      case IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP -> {
        if (b.has(IommuTestCmd.CHECK_MAP_UPTR, 8)) {
          b.pin(b.u64(IommuTestCmd.CHECK_MAP_UPTR), b.u64(IommuTestCmd.CHECK_MAP_LENGTH), false);
        }
      }
      case IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS -> {
        if (b.has(IommuTestCmd.CHECK_REFS_UPTR, 8)) {
          b.pin(b.u64(IommuTestCmd.CHECK_REFS_UPTR), b.u64(IommuTestCmd.CHECK_REFS_LENGTH), false);
        }
      }
      case IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS ->
          b.newFd = IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD;
      case IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES -> {
        b.namedFd = IommuTestCmd.ID;
        if (b.has(IommuTestCmd.ACCESS_PAGES_UPTR, 8)) {
          b.pin(
              b.u64(IommuTestCmd.ACCESS_PAGES_UPTR),
              b.u64(IommuTestCmd.ACCESS_PAGES_LENGTH),
              (b.u32(IommuTestCmd.ACCESS_PAGES_FLAGS) & IommuTestCmd.MOCK_FLAGS_ACCESS_WRITE) != 0);
        }
      }
      case IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW -> {
        b.namedFd = IommuTestCmd.ID;
        if (b.has(IommuTestCmd.ACCESS_RW_FLAGS, 4)) {
          // writing to the IOVA reads the user buffer; reading from it fills the buffer
          b.region(
              b.u64(IommuTestCmd.ACCESS_RW_UPTR),
              b.u64(IommuTestCmd.ACCESS_RW_LENGTH),
              (b.u32(IommuTestCmd.ACCESS_RW_FLAGS) & IommuTestCmd.MOCK_ACCESS_RW_WRITE) == 0);
        }
      }
      case IommuTestCmd.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
          IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS ->
          b.namedFd = IommuTestCmd.ID;
      case IommuTestCmd.IOMMU_TEST_OP_DIRTY ->
          b.bitmap(
              IommuTestCmd.DIRTY_UPTR,
              IommuTestCmd.DIRTY_LENGTH,
              IommuTestCmd.DIRTY_PAGE_SIZE,
              false);
      default -> {
        // the struct is all it touches
      }
    }
  }

  /** The VFIO type-1 container ioctls: {@code argsz}-sized structs (vfio_compat.c). */
  private static void vfio(Builder b, long request) {
    long minSize;
    boolean written;
    if (request == Vfio.VFIO_IOMMU_GET_INFO) {
      minSize = VfioIommuType1Info.MIN_SIZE;
      written = true;
    } else if (request == Vfio.VFIO_IOMMU_MAP_DMA) {
      minSize = VfioIommuType1DmaMap.MIN_SIZE;
      written = false;
      if (b.has(VfioIommuType1DmaMap.SIZE_FIELD, 8)) {
        b.pin(
            b.u64(VfioIommuType1DmaMap.VADDR),
            b.u64(VfioIommuType1DmaMap.SIZE_FIELD),
            (b.u32(VfioIommuType1DmaMap.FLAGS) & VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE)
                != 0);
      }
    } else if (request == Vfio.VFIO_IOMMU_UNMAP_DMA) {
      minSize = VfioIommuType1DmaUnmap.MIN_SIZE;
      written = true;
    } else if (request == Vfio.VFIO_IOMMU_DIRTY_PAGES) {
      minSize = 8;
      written = true;
    } else {
      return; // GET_API_VERSION, CHECK_EXTENSION, SET_IOMMU take a number, not a pointer
    }
    long argsz = b.has(0, 4) ? Integer.toUnsignedLong(b.u32(0)) : 0;
    b.regions.add(0, new Region(b.arg, Math.min(Math.max(argsz, minSize), MAX_REGION), written));
  }

  private static final class Builder {
    final long arg;
    final MemorySegment before;
    final List<Region> regions = new ArrayList<>();
    final List<Pin> pins = new ArrayList<>();
    long newFd = -1;
    long namedFd = -1;

    Builder(long arg, MemorySegment before) {
      this.arg = arg;
      this.before = before;
    }

    boolean has(long offset, int bytes) {
      return before.byteSize() >= offset + bytes;
    }

    int u32(long offset) {
      return before.get(JAVA_INT_UNALIGNED, offset);
    }

    long u64(long offset) {
      return before.get(JAVA_LONG_UNALIGNED, offset);
    }

    void region(long address, long length, boolean written) {
      if (length != 0) {
        regions.add(
            new Region(
                address,
                Long.compareUnsigned(length, MAX_REGION) > 0 ? MAX_REGION : length,
                written));
      }
    }

    /** An array of {@code count} (u32 at {@code countOffset}) elements at the u64 pointer. */
    void array(long pointerOffset, long countOffset, long elementSize, boolean written) {
      if (has(pointerOffset, 8) && has(countOffset, 4)) {
        region(u64(pointerOffset), Integer.toUnsignedLong(u32(countOffset)) * elementSize, written);
      }
    }

    /** A buffer of u32 {@code lengthOffset} bytes at the u64 pointer. */
    void buffer(long pointerOffset, long lengthOffset, boolean written) {
      array(pointerOffset, lengthOffset, 1, written);
    }

    /** A dirty bitmap: one bit per page of the range, in whole u64 words. */
    void bitmap(long pointerOffset, long lengthOffset, long pageSizeOffset, boolean written) {
      if (!has(pointerOffset, 8) || !has(lengthOffset, 8) || !has(pageSizeOffset, 8)) {
        return;
      }
      long pageSize = u64(pageSizeOffset);
      if (pageSize == 0 || Long.bitCount(pageSize) != 1) {
        return; // EINVAL before the bitmap is looked at
      }
      long pages = Long.divideUnsigned(u64(lengthOffset), pageSize);
      region(u64(pointerOffset), Long.divideUnsigned(pages + 63, 64) * 8, written);
    }

    void pin(long address, long length, boolean write) {
      if (length != 0) {
        pins.add(new Pin(address, length, write));
      }
    }

    Footprint build() {
      return new Footprint(regions, pins, newFd, namedFd);
    }
  }
}
