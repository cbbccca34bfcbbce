package org.iommufd4j;

import java.lang.foreign.Arena;
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
import org.iommufd4j.uapi.Struct;

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
      Struct s = IommuIoasMap.of(arena, flags, ioasId, userVa, length, iova);
      owner.issueOrThrow(
          Command.IOMMU_IOAS_MAP,
          ioasId,
          s,
          () ->
              "ioas_id="
                  + ioasId
                  + " flags="
                  + hex(flags)
                  + " user_va="
                  + hex(userVa)
                  + " length="
                  + hex(length)
                  + " iova="
                  + hex(iova));
      return s.u64(IommuIoasMap.IOVA);
    }
  }

  @Override
  public long mapIova(long userVa, long length, Protection protection) {
    return map(protection.mapFlags(), userVa, length, 0);
  }

  @Override
  public void mapAt(long iova, long userVa, long length, Protection protection) {
    map(protection.mapFlags() | IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA, userVa, length, iova);
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
      Struct s = IommuIoasCopy.of(arena, flags, dstId, srcId, length, dstIova, srcIova);
      owner.issueOrThrow(
          Command.IOMMU_IOAS_COPY,
          dstId,
          s,
          () ->
              "dst_ioas_id="
                  + dstId
                  + " src_ioas_id="
                  + srcId
                  + " flags="
                  + hex(flags)
                  + " length="
                  + hex(length)
                  + " dst_iova="
                  + hex(dstIova)
                  + " src_iova="
                  + hex(srcIova));
      return s.u64(IommuIoasCopy.DST_IOVA);
    }
  }

  @Override
  public Mapping copy(Ioas source, long srcIova, long length, Protection protection) {
    return new Mapping(copy(protection.mapFlags(), 0, source, srcIova, length), length);
  }

  @Override
  public Mapping copyFixed(
      long dstIova, Ioas source, long srcIova, long length, Protection protection) {
    copy(
        protection.mapFlags() | IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA,
        dstIova,
        source,
        srcIova,
        length);
    return new Mapping(dstIova, length);
  }

  @Override
  public long unmap(long iova, long length) {
    int ioasId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      Struct s = IommuIoasUnmap.of(arena, ioasId, iova, length);
      owner.issueOrThrow(
          Command.IOMMU_IOAS_UNMAP,
          ioasId,
          s,
          () -> "ioas_id=" + ioasId + " iova=" + hex(iova) + " length=" + hex(length));
      return s.u64(IommuIoasUnmap.LENGTH);
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
      Struct s = IommuIoasIovaRanges.of(arena, ioasId, 0, 0);
      Struct array = null;
      while (true) {
        int rc = owner.issue(Command.IOMMU_IOAS_IOVA_RANGES, ioasId, s);
        int count = s.u32(IommuIoasIovaRanges.NUM_IOVAS);
        if (rc == -Errno.EMSGSIZE.number()) {
          array = IommuIovaRange.array(arena, count);
          // the count is already in num_iovas, the capacity of the next call
          s.u64(IommuIoasIovaRanges.ALLOWED_IOVAS, array.address());
          continue;
        }
        if (rc < 0) {
          throw owner.failure(Command.IOMMU_IOAS_IOVA_RANGES, rc, () -> "ioas_id=" + ioasId);
        }
        List<IovaRange> ranges = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          long base = (long) i * IommuIovaRange.SIZE;
          ranges.add(
              new IovaRange(
                  array.u64(base + IommuIovaRange.START), array.u64(base + IommuIovaRange.LAST)));
        }
        return new IovaRanges(ranges, s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT));
      }
    }
  }

  @Override
  public void allowIovas(List<IovaRange> ranges) {
    List<IovaRange> copy = List.copyOf(ranges);
    int ioasId = liveId();
    try (Arena arena = Arena.ofConfined()) {
      long address = 0;
      if (!copy.isEmpty()) {
        Struct array = IommuIovaRange.array(arena, copy.size());
        for (int i = 0; i < copy.size(); i++) {
          long base = (long) i * IommuIovaRange.SIZE;
          array.u64(base + IommuIovaRange.START, copy.get(i).start());
          array.u64(base + IommuIovaRange.LAST, copy.get(i).last());
        }
        address = array.address();
      }
      Struct s = IommuIoasAllowIovas.of(arena, ioasId, copy.size(), address);
      owner.issueOrThrow(
          Command.IOMMU_IOAS_ALLOW_IOVAS,
          ioasId,
          s,
          () -> "ioas_id=" + ioasId + " allowed_iovas=" + copy);
    }
  }

  @Override
  public boolean hugePages() {
    return owner.option(
            IommuOption.IOMMU_OPTION_HUGE_PAGES, IommuOption.IOMMU_OPTION_OP_GET, liveId(), 0)
        == 1;
  }

  @Override
  public void setHugePages(boolean enabled) {
    owner.option(
        IommuOption.IOMMU_OPTION_HUGE_PAGES,
        IommuOption.IOMMU_OPTION_OP_SET,
        liveId(),
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
    return o instanceof IoctlIoas other
        && other.owner == owner
        && other.id == id
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
