package org.iommufd4j;

import static org.iommufd4j.IoctlIommufd.U32;
import static org.iommufd4j.IoctlIommufd.U64;
import static org.iommufd4j.IoctlIommufd.struct;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuIovaRange;
import org.iommufd4j.uapi.IommuOption;

/** A typed IOAS handle of an {@link IoctlIommufd}: every method is one ioctl (two for ranges). */
final class IoctlIoas implements Ioas {
  private final IoctlIommufd owner;
  private final int id;
  private final Object token;

  IoctlIoas(IoctlIommufd owner, int id, Object token) {
    this.owner = owner;
    this.id = id;
    this.token = token;
  }

  @Override
  public int id() {
    return id;
  }

  /** 0 (never valid: ENOENT where the kernel looks the IOAS up) once this IOAS is gone. */
  private int liveId() {
    return owner.isLive(id, token) ? id : 0;
  }

  private String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  private long map(int flags, long userVa, long length, long iova) {
    int ioasId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = struct(arena, Command.IOMMU_IOAS_MAP);
      s.set(U32, IommuIoasMap.FLAGS, flags);
      s.set(U32, IommuIoasMap.IOAS_ID, ioasId);
      s.set(U64, IommuIoasMap.USER_VA, userVa);
      s.set(U64, IommuIoasMap.LENGTH, length);
      s.set(U64, IommuIoasMap.IOVA, iova);
      owner.issueOrThrow(Command.IOMMU_IOAS_MAP, ioasId, s, () -> "ioas_id=" + ioasId
          + " flags=" + hex(flags) + " user_va=" + hex(userVa) + " length=" + hex(length)
          + " iova=" + hex(iova));
      return s.get(U64, IommuIoasMap.IOVA);
    }
  }

  @Override
  public Mapping map(long userVa, long length, Protection protection) {
    return new Mapping(map(protection.mapFlags(), userVa, length, 0), length);
  }

  @Override
  public Mapping mapFixed(long iova, long userVa, long length, Protection protection) {
    map(protection.mapFlags() | IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA, userVa, length, iova);
    return new Mapping(iova, length);
  }

  private int sourceId(Ioas source) {
    if (!(source instanceof IoctlIoas other) || other.owner != owner) {
      throw new IllegalArgumentException("source IOAS belongs to another Iommufd: " + source);
    }
    return other.liveId();
  }

  private long copy(int flags, long dstIova, Ioas source, long srcIova, long length) {
    int srcId = sourceId(source);
    int dstId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = struct(arena, Command.IOMMU_IOAS_COPY);
      s.set(U32, IommuIoasCopy.FLAGS, flags);
      s.set(U32, IommuIoasCopy.DST_IOAS_ID, dstId);
      s.set(U32, IommuIoasCopy.SRC_IOAS_ID, srcId);
      s.set(U64, IommuIoasCopy.LENGTH, length);
      s.set(U64, IommuIoasCopy.DST_IOVA, dstIova);
      s.set(U64, IommuIoasCopy.SRC_IOVA, srcIova);
      owner.issueOrThrow(Command.IOMMU_IOAS_COPY, dstId, s, () -> "dst_ioas_id=" + dstId
          + " src_ioas_id=" + srcId + " flags=" + hex(flags) + " length=" + hex(length)
          + " dst_iova=" + hex(dstIova) + " src_iova=" + hex(srcIova));
      return s.get(U64, IommuIoasCopy.DST_IOVA);
    }
  }

  @Override
  public Mapping copy(Ioas source, long srcIova, long length, Protection protection) {
    return new Mapping(copy(protection.mapFlags(), 0, source, srcIova, length), length);
  }

  @Override
  public Mapping copyFixed(long dstIova, Ioas source, long srcIova, long length,
      Protection protection) {
    copy(protection.mapFlags() | IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA, dstIova, source,
        srcIova, length);
    return new Mapping(dstIova, length);
  }

  @Override
  public long unmap(long iova, long length) {
    int ioasId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = struct(arena, Command.IOMMU_IOAS_UNMAP);
      s.set(U32, IommuIoasUnmap.IOAS_ID, ioasId);
      s.set(U64, IommuIoasUnmap.IOVA, iova);
      s.set(U64, IommuIoasUnmap.LENGTH, length);
      owner.issueOrThrow(Command.IOMMU_IOAS_UNMAP, ioasId, s, () -> "ioas_id=" + ioasId
          + " iova=" + hex(iova) + " length=" + hex(length));
      return s.get(U64, IommuIoasUnmap.LENGTH);
    }
  }

  @Override
  public long unmapAll() {
    return unmap(0, -1L);
  }

  /** Asks with no room first, as QEMU and libvfn do, then with exactly the room reported. */
  @Override
  public IovaRanges iovaRanges() {
    int ioasId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = struct(arena, Command.IOMMU_IOAS_IOVA_RANGES);
      s.set(U32, IommuIoasIovaRanges.IOAS_ID, ioasId);
      MemorySegment array = MemorySegment.NULL;
      while (true) {
        s.set(U64, IommuIoasIovaRanges.ALLOWED_IOVAS, array.address());
        int rc = owner.issue(Command.IOMMU_IOAS_IOVA_RANGES, ioasId, s);
        int count = s.get(U32, IommuIoasIovaRanges.NUM_IOVAS);
        if (rc == -Errno.EMSGSIZE.number()) {
          array = arena.allocate((long) count * IommuIovaRange.SIZE, 8);
          continue; // the count is already in num_iovas, the capacity of the next call
        }
        if (rc < 0) {
          throw owner.failure(Command.IOMMU_IOAS_IOVA_RANGES, rc, () -> "ioas_id=" + ioasId);
        }
        List<IovaRange> ranges = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          long base = (long) i * IommuIovaRange.SIZE;
          ranges.add(new IovaRange(array.get(U64, base + IommuIovaRange.START),
              array.get(U64, base + IommuIovaRange.LAST)));
        }
        return new IovaRanges(ranges, s.get(U64, IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT));
      }
    }
  }

  @Override
  public void allowIovas(List<IovaRange> ranges) {
    List<IovaRange> copy = List.copyOf(ranges);
    int ioasId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment array = copy.isEmpty() ? MemorySegment.NULL
          : arena.allocate((long) copy.size() * IommuIovaRange.SIZE, 8);
      for (int i = 0; i < copy.size(); i++) {
        long base = (long) i * IommuIovaRange.SIZE;
        array.set(U64, base + IommuIovaRange.START, copy.get(i).start());
        array.set(U64, base + IommuIovaRange.LAST, copy.get(i).last());
      }
      MemorySegment s = struct(arena, Command.IOMMU_IOAS_ALLOW_IOVAS);
      s.set(U32, IommuIoasAllowIovas.IOAS_ID, ioasId);
      s.set(U32, IommuIoasAllowIovas.NUM_IOVAS, copy.size());
      s.set(U64, IommuIoasAllowIovas.ALLOWED_IOVAS, array.address());
      owner.issueOrThrow(Command.IOMMU_IOAS_ALLOW_IOVAS, ioasId, s,
          () -> "ioas_id=" + ioasId + " allowed_iovas=" + copy);
    }
  }

  @Override
  public boolean hugePages() {
    return owner.option(IommuOption.IOMMU_OPTION_HUGE_PAGES, IommuOption.IOMMU_OPTION_OP_GET,
        liveId(), 0) == 1;
  }

  @Override
  public void setHugePages(boolean enabled) {
    owner.option(IommuOption.IOMMU_OPTION_HUGE_PAGES, IommuOption.IOMMU_OPTION_OP_SET, liveId(),
        enabled ? 1 : 0);
  }

  /** DESTROY unless already gone (ENOENT is ignored, EBUSY thrown) or the owner is closed. */
  @Override
  public void close() {
    if (owner.isClosed() || !owner.isLive(id, token)) {
      return;
    }
    try {
      owner.destroy(id);
    } catch (IommufdException e) {
      if (e.errno() != Errno.ENOENT) {
        throw e;
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof IoctlIoas other && other.owner == owner && other.id == id
        && other.token == token;
  }

  @Override
  public int hashCode() {
    return System.identityHashCode(token);
  }

  @Override
  public String toString() {
    return "Ioas[id=" + id + ", " + owner.backend() + "]";
  }
}
