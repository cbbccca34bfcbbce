package org.iommufd4j;

import static org.iommufd4j.uapi.Command.IOMMU_DESTROY;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_ALLOC;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_ALLOW_IOVAS;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_COPY;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_IOVA_RANGES;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_MAP;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_UNMAP;
import static org.iommufd4j.uapi.Command.IOMMU_OPTION;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuIovaRange;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.Struct;

/**
 * {@link Door} over the byte ABI: each call fills a struct in native memory, issues {@link
 * Iommufd#ioctl} and decodes the result as a C client would (IOVA_RANGES probes with capacity 0 and
 * a NULL array first, as QEMU and libvfn do).
 */
final class RawDoor implements Door {
  private static final int FIXED_IOVA = IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;

  private final Iommufd iommufd;

  RawDoor(Iommufd iommufd) {
    this.iommufd = iommufd;
  }

  @Override
  public Iommufd iommufd() {
    return iommufd;
  }

  private void check(int rc, Struct s) {
    if (rc < 0) {
      throw new IommufdException(Errno.of(-rc), "raw " + s.command());
    }
  }

  @Override
  public int createIoas() {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, IOMMU_IOAS_ALLOC);
      check(s.ioctl(iommufd), s);
      return s.u32(IommuIoasAlloc.OUT_IOAS_ID);
    }
  }

  @Override
  public void destroy(int id) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, IOMMU_DESTROY).u32(IommuDestroy.ID, id);
      check(s.ioctl(iommufd), s);
    }
  }

  private long map(int flags, int ioasId, long userVa, long length, long iova) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s =
          Struct.of(arena, IOMMU_IOAS_MAP)
              .u32(IommuIoasMap.FLAGS, flags)
              .u32(IommuIoasMap.IOAS_ID, ioasId)
              .u64(IommuIoasMap.USER_VA, userVa)
              .u64(IommuIoasMap.LENGTH, length)
              .u64(IommuIoasMap.IOVA, iova);
      check(s.ioctl(iommufd), s);
      return s.u64(IommuIoasMap.IOVA);
    }
  }

  @Override
  public long map(int ioasId, long userVa, long length, Protection protection) {
    return map(protection.mapFlags(), ioasId, userVa, length, 0);
  }

  @Override
  public long mapFixed(int ioasId, long iova, long userVa, long length, Protection protection) {
    return map(protection.mapFlags() | FIXED_IOVA, ioasId, userVa, length, iova);
  }

  private long copy(
      int flags, int dstIoasId, long dstIova, int srcIoasId, long srcIova, long length) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s =
          Struct.of(arena, IOMMU_IOAS_COPY)
              .u32(IommuIoasCopy.FLAGS, flags)
              .u32(IommuIoasCopy.DST_IOAS_ID, dstIoasId)
              .u32(IommuIoasCopy.SRC_IOAS_ID, srcIoasId)
              .u64(IommuIoasCopy.LENGTH, length)
              .u64(IommuIoasCopy.DST_IOVA, dstIova)
              .u64(IommuIoasCopy.SRC_IOVA, srcIova);
      check(s.ioctl(iommufd), s);
      return s.u64(IommuIoasCopy.DST_IOVA);
    }
  }

  @Override
  public long copy(int dstIoasId, int srcIoasId, long srcIova, long length, Protection protection) {
    return copy(protection.mapFlags(), dstIoasId, 0, srcIoasId, srcIova, length);
  }

  @Override
  public long copyFixed(
      int dstIoasId,
      long dstIova,
      int srcIoasId,
      long srcIova,
      long length,
      Protection protection) {
    return copy(protection.mapFlags() | FIXED_IOVA, dstIoasId, dstIova, srcIoasId, srcIova, length);
  }

  @Override
  public long unmap(int ioasId, long iova, long length) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s =
          Struct.of(arena, IOMMU_IOAS_UNMAP)
              .u32(IommuIoasUnmap.IOAS_ID, ioasId)
              .u64(IommuIoasUnmap.IOVA, iova)
              .u64(IommuIoasUnmap.LENGTH, length);
      check(s.ioctl(iommufd), s);
      return s.u64(IommuIoasUnmap.LENGTH);
    }
  }

  @Override
  public long unmapAll(int ioasId) {
    return unmap(ioasId, 0, -1L);
  }

  @Override
  public IovaRanges iovaRanges(int ioasId) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s = Struct.of(arena, IOMMU_IOAS_IOVA_RANGES).u32(IommuIoasIovaRanges.IOAS_ID, ioasId);
      int capacity = 0;
      MemorySegment array = MemorySegment.NULL;
      while (true) {
        s.u32(IommuIoasIovaRanges.NUM_IOVAS, capacity)
            .u64(IommuIoasIovaRanges.ALLOWED_IOVAS, array.address());
        int rc = s.ioctl(iommufd);
        int count = s.u32(IommuIoasIovaRanges.NUM_IOVAS);
        if (rc == -Errno.EMSGSIZE.number()) {
          capacity = count;
          array = arena.allocate((long) capacity * IommuIovaRange.SIZE, 8);
          continue;
        }
        check(rc, s);
        List<IovaRange> ranges = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          ranges.add(RangeArray.get(array, i));
        }
        return new IovaRanges(ranges, s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT));
      }
    }
  }

  @Override
  public void allowIovas(int ioasId, List<IovaRange> ranges) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment array =
          ranges.isEmpty()
              ? MemorySegment.NULL
              : arena.allocate((long) ranges.size() * IommuIovaRange.SIZE, 8);
      for (int i = 0; i < ranges.size(); i++) {
        RangeArray.set(array, i, ranges.get(i));
      }
      Struct s =
          Struct.of(arena, IOMMU_IOAS_ALLOW_IOVAS)
              .u32(IommuIoasAllowIovas.IOAS_ID, ioasId)
              .u32(IommuIoasAllowIovas.NUM_IOVAS, ranges.size())
              .u64(IommuIoasAllowIovas.ALLOWED_IOVAS, array.address());
      check(s.ioctl(iommufd), s);
    }
  }

  private long option(int optionId, int op, int objectId, long val64) {
    try (Arena arena = Arena.ofConfined()) {
      Struct s =
          Struct.of(arena, IOMMU_OPTION)
              .u32(IommuOption.OPTION_ID, optionId)
              .u16(IommuOption.OP, op)
              .u32(IommuOption.OBJECT_ID, objectId)
              .u64(IommuOption.VAL64, val64);
      check(s.ioctl(iommufd), s);
      return s.u64(IommuOption.VAL64);
    }
  }

  @Override
  public boolean hugePages(int ioasId) {
    return option(IommuOption.IOMMU_OPTION_HUGE_PAGES, IommuOption.IOMMU_OPTION_OP_GET, ioasId, 0)
        == 1;
  }

  @Override
  public void setHugePages(int ioasId, boolean enabled) {
    option(
        IommuOption.IOMMU_OPTION_HUGE_PAGES,
        IommuOption.IOMMU_OPTION_OP_SET,
        ioasId,
        enabled ? 1 : 0);
  }

  @Override
  public RlimitMode rlimitMode() {
    return option(IommuOption.IOMMU_OPTION_RLIMIT_MODE, IommuOption.IOMMU_OPTION_OP_GET, 0, 0) == 1
        ? RlimitMode.PROCESS
        : RlimitMode.USER;
  }

  @Override
  public void setRlimitMode(RlimitMode mode) {
    option(
        IommuOption.IOMMU_OPTION_RLIMIT_MODE,
        IommuOption.IOMMU_OPTION_OP_SET,
        0,
        mode == RlimitMode.PROCESS ? 1 : 0);
  }

  @Override
  public String toString() {
    return "RAW";
  }
}
