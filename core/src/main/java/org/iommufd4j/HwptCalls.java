package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.function.Consumer;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuFaultAlloc;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptPageResponse;
import org.iommufd4j.uapi.IommuHwptPgfault;
import org.iommufd4j.uapi.IommuHwptSetDirtyTracking;
import org.iommufd4j.uapi.Struct;

/**
 * The typed HWPT calls, built once over {@link Iommufd#ioctl} so both backends share them: they are
 * not on a hot path, and the byte ABI is what both implement exactly. Pointers in the structs
 * (hardware info, dirty bitmap) are addresses in this process, so an emulator configured with a
 * simulated user memory answers those calls EFAULT; use the raw ioctl with simulated addresses
 * there.
 */
final class HwptCalls {
  private HwptCalls() {}

  static HwInfo hwInfo(Iommufd iommufd, int deviceId) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, Command.IOMMU_GET_HW_INFO).u32(IommuHwInfo.DEV_ID, deviceId);
      call(iommufd, s, "device " + deviceId); // how long is the data?
      int length = s.u32(IommuHwInfo.DATA_LEN);
      MemorySegment data = arena.allocate(Math.max(length, 1), 8);
      s.u32(IommuHwInfo.DATA_LEN, length).u64(IommuHwInfo.DATA_UPTR, data.address());
      call(iommufd, s, "device " + deviceId);
      return new HwInfo(
          s.u32(IommuHwInfo.OUT_DATA_TYPE),
          s.u64(IommuHwInfo.OUT_CAPABILITIES),
          s.u8(IommuHwInfo.OUT_MAX_PASID_LOG2),
          data.asSlice(0, Math.min(length, s.u32(IommuHwInfo.DATA_LEN))).toArray(JAVA_BYTE));
    }
  }

  static Hwpt alloc(Iommufd iommufd, int deviceId, int ptId, HwptFlag... flags) {
    int bits = 0;
    for (HwptFlag f : flags) {
      bits |= f.bit;
    }
    try (Arena arena = Arena.ofConfined()) {
      Struct s = IommuHwptAlloc.of(arena, bits, deviceId, ptId);
      call(iommufd, s, "device " + deviceId + " on " + ptId);
      return new Handle(iommufd, s.u32(IommuHwptAlloc.OUT_HWPT_ID));
    }
  }

  static Hwpt allocNested(
      Iommufd iommufd, int deviceId, int parentId, int dataType, byte[] data, FaultQueue faults) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment bytes = arena.allocate(Math.max(data.length, 1), 8);
      MemorySegment.copy(MemorySegment.ofArray(data), 0, bytes, 0, data.length);
      Struct s =
          IommuHwptAlloc.of(
                  arena,
                  faults == null ? 0 : IommuHwptAlloc.IOMMU_HWPT_FAULT_ID_VALID,
                  deviceId,
                  parentId)
              .u32(IommuHwptAlloc.DATA_TYPE, dataType)
              .u32(IommuHwptAlloc.DATA_LEN, data.length)
              .u64(IommuHwptAlloc.DATA_UPTR, bytes.address())
              .u32(IommuHwptAlloc.FAULT_ID, faults == null ? 0 : faults.id());
      call(iommufd, s, "nested, device " + deviceId + " on " + parentId);
      return new Handle(iommufd, s.u32(IommuHwptAlloc.OUT_HWPT_ID));
    }
  }

  static FaultQueue allocFaultQueue(Iommufd iommufd) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, Command.IOMMU_FAULT_QUEUE_ALLOC);
      call(iommufd, s, "");
      return new Faults(
          iommufd, s.u32(IommuFaultAlloc.OUT_FAULT_ID), s.u32(IommuFaultAlloc.OUT_FAULT_FD));
    }
  }

  /** Issues one call; a failure becomes the typed API's exception. */
  private static void call(Iommufd iommufd, Struct s, String what) {
    check(s.ioctl(iommufd), s.command().name() + " " + what);
  }

  /** {@code rc} if it is a result, else the typed API's exception for its errno. */
  private static long check(long rc, String what) {
    if (rc >= 0) {
      return rc;
    }
    Errno errno;
    try {
      errno = Errno.of((int) -rc);
    } catch (IllegalArgumentException e) {
      errno = Errno.EIO;
    }
    throw new IommufdException(errno, what + ": " + errno.name());
  }

  private static void call(Iommufd iommufd, Command cmd, String what, Consumer<Struct> fill) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, cmd);
      fill.accept(s);
      call(iommufd, s, what);
    }
  }

  /** {@link Hwpt} by id, its calls through the owner's ioctl. */
  private record Handle(Iommufd iommufd, int id) implements Hwpt {
    @Override
    public void setDirtyTracking(boolean enabled) {
      call(
          iommufd,
          Command.IOMMU_HWPT_SET_DIRTY_TRACKING,
          "hwpt " + id,
          s -> {
            s.u32(
                IommuHwptSetDirtyTracking.FLAGS,
                enabled ? IommuHwptSetDirtyTracking.IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0);
            s.u32(IommuHwptSetDirtyTracking.HWPT_ID, id);
          });
    }

    @Override
    public BitSet readDirtyBitmap(long iova, long length, long pageSize, boolean clear) {
      long pages = pageSize <= 0 ? 0 : Long.divideUnsigned(length, pageSize);
      long words = Long.divideUnsigned(pages + 63, 64);
      if (words > Integer.MAX_VALUE / 8) {
        throw new IllegalArgumentException("a bitmap of " + pages + " pages is too large");
      }
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment bitmap =
            arena.allocate(Math.max(words, 1) * 8, 8); // zeroed: bits are only set
        call(
            iommufd,
            Command.IOMMU_HWPT_GET_DIRTY_BITMAP,
            "hwpt " + id,
            s -> {
              s.u32(IommuHwptGetDirtyBitmap.HWPT_ID, id);
              s.u32(
                  IommuHwptGetDirtyBitmap.FLAGS,
                  clear ? 0 : IommuHwptGetDirtyBitmap.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
              s.u64(IommuHwptGetDirtyBitmap.IOVA, iova).u64(IommuHwptGetDirtyBitmap.LENGTH, length);
              s.u64(IommuHwptGetDirtyBitmap.PAGE_SIZE, pageSize);
              s.u64(IommuHwptGetDirtyBitmap.DATA, bitmap.address());
            });
        // bit n of the bitmap (byte n / 8, bit n % 8) is page n: a little-endian bit string
        return BitSet.valueOf(bitmap.asSlice(0, words * 8).toArray(JAVA_BYTE));
      }
    }

    @Override
    public void close() {
      call(iommufd, Command.IOMMU_DESTROY, "hwpt " + id, s -> s.u32(IommuDestroy.ID, id));
    }
  }

  /** {@link FaultQueue}: reads and writes on the fault fd through the owner. */
  private record Faults(Iommufd iommufd, int id, int fd) implements FaultQueue {
    @Override
    public List<PageFault> read(int maxFaults) {
      if (maxFaults <= 0 || maxFaults > (1 << 16)) {
        throw new IllegalArgumentException("maxFaults " + maxFaults + " is not in 1..65536");
      }
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment records = arena.allocate((long) maxFaults * IommuHwptPgfault.SIZE, 8);
        long n = check(iommufd.read(fd, records), "read of fault fd " + fd) / IommuHwptPgfault.SIZE;
        List<PageFault> faults = new ArrayList<>((int) n);
        for (long i = 0; i < n; i++) {
          Struct r =
              Struct.over(
                  records.asSlice(i * IommuHwptPgfault.SIZE, IommuHwptPgfault.SIZE),
                  IommuHwptPgfault.LAYOUT);
          faults.add(
              new PageFault(
                  r.u32(IommuHwptPgfault.FLAGS),
                  r.u32(IommuHwptPgfault.DEV_ID),
                  r.u32(IommuHwptPgfault.PASID),
                  r.u32(IommuHwptPgfault.GRPID),
                  r.u32(IommuHwptPgfault.PERM),
                  r.u64(IommuHwptPgfault.ADDR),
                  r.u32(IommuHwptPgfault.COOKIE)));
        }
        return List.copyOf(faults);
      }
    }

    @Override
    public void respond(int cookie, boolean success) {
      try (Arena arena = Arena.ofConfined()) {
        Struct r =
            Struct.of(arena, IommuHwptPageResponse.LAYOUT)
                .u32(IommuHwptPageResponse.COOKIE, cookie)
                .u32(
                    IommuHwptPageResponse.CODE,
                    success
                        ? IommuHwptPageResponse.IOMMUFD_PAGE_RESP_SUCCESS
                        : IommuHwptPageResponse.IOMMUFD_PAGE_RESP_INVALID);
        check(iommufd.write(fd, r.segment()), "response to cookie " + cookie);
      }
    }

    @Override
    public void close() {
      iommufd.closeFd(fd);
      iommufd.destroy(id);
    }
  }
}
