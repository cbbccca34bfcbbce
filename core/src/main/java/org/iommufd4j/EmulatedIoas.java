package org.iommufd4j;

import static org.iommufd4j.TypedCalls.call;
import static org.iommufd4j.TypedCalls.callLong;
import static org.iommufd4j.uapi.Command.IOMMU_DESTROY;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_ALLOW_IOVAS;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_COPY;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_IOVA_RANGES;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_MAP;
import static org.iommufd4j.uapi.Command.IOMMU_IOAS_UNMAP;
import static org.iommufd4j.uapi.Command.IOMMU_OPTION;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_HUGE_PAGES;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_GET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_SET;

import java.util.List;
import java.util.Objects;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.CopyRequest;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.IoasObject;
import org.iommufd4j.uapi.IoctlEvent;

/** A typed handle on one IOAS of an {@link EmulatedIommufd}. */
final class EmulatedIoas implements Ioas {

  private final EmulatedIommufd owner;
  private final Context context;
  private final IoasObject object;
  private final int id;

  EmulatedIoas(EmulatedIommufd owner, IoasObject object) {
    this.owner = owner;
    this.context = owner.context();
    this.object = object;
    this.id = object.id();
  }

  @Override
  public int id() {
    return id;
  }

  /**
   * The id to name this IOAS by in an engine call: 0 (never valid, so ENOENT at exactly the point
   * where the kernel looks the IOAS up) once it is destroyed, so that a stale handle never reaches
   * a new IOAS that reused its id.
   */
  private int liveId() {
    return object.isDestroyed() ? 0 : id;
  }

  @Override
  public long mapIova(long userVa, long length, Protection protection) {
    return map(protection.mapFlags(), userVa, length, 0);
  }

  @Override
  public void mapAt(long iova, long userVa, long length, Protection protection) {
    map(protection.mapFlags() | IOMMU_IOAS_MAP_FIXED_IOVA, userVa, length, iova);
  }

  /** MAP without a lambda or a request record: nothing allocated but the engine's own state. */
  private long map(int flags, long userVa, long length, long iova) {
    owner.checkOpen();
    IoctlEvent event = TypedCalls.begin();
    long used;
    try {
      used = context.ioas().map(owner.caller(), flags, liveId(), 0, userVa, length, iova);
    } catch (ErrnoException e) {
      throw TypedCalls.failed(event, IOMMU_IOAS_MAP, id, e);
    }
    TypedCalls.succeeded(event, IOMMU_IOAS_MAP, id);
    return used;
  }

  private int sourceId(Ioas source) {
    if (!(source instanceof EmulatedIoas e) || e.owner != owner) {
      throw new IllegalArgumentException("source IOAS belongs to another Iommufd: " + source);
    }
    return e.liveId();
  }

  @Override
  public Mapping copy(Ioas source, long srcIova, long length, Protection protection) {
    owner.checkOpen();
    int srcId = sourceId(source);
    long iova =
        callLong(
            IOMMU_IOAS_COPY,
            id,
            () ->
                context
                    .ioas()
                    .copy(
                        owner.caller(),
                        new CopyRequest(
                            protection.mapFlags(), liveId(), srcId, length, 0, srcIova)));
    return new Mapping(iova, length);
  }

  @Override
  public Mapping copyFixed(
      long dstIova, Ioas source, long srcIova, long length, Protection protection) {
    owner.checkOpen();
    int srcId = sourceId(source);
    callLong(
        IOMMU_IOAS_COPY,
        id,
        () ->
            context
                .ioas()
                .copy(
                    owner.caller(),
                    new CopyRequest(
                        protection.mapFlags() | IOMMU_IOAS_MAP_FIXED_IOVA,
                        liveId(),
                        srcId,
                        length,
                        dstIova,
                        srcIova)));
    return new Mapping(dstIova, length);
  }

  @Override
  public long unmap(long iova, long length) {
    owner.checkOpen();
    IoctlEvent event = TypedCalls.begin();
    long unmapped;
    try {
      unmapped = context.ioas().unmap(liveId(), iova, length);
    } catch (ErrnoException e) {
      throw TypedCalls.failed(event, IOMMU_IOAS_UNMAP, id, e);
    }
    TypedCalls.succeeded(event, IOMMU_IOAS_UNMAP, id);
    return unmapped;
  }

  @Override
  public long unmapAll() {
    owner.checkOpen();
    return callLong(IOMMU_IOAS_UNMAP, id, () -> context.ioas().unmap(liveId(), 0, -1L));
  }

  @Override
  public IovaRanges iovaRanges() {
    owner.checkOpen();
    return call(IOMMU_IOAS_IOVA_RANGES, id, () -> context.ioas().iovaRanges(liveId(), 0));
  }

  @Override
  public void allowIovas(List<IovaRange> ranges) {
    owner.checkOpen();
    List<IovaRange> copy = List.copyOf(ranges);
    call(
        IOMMU_IOAS_ALLOW_IOVAS,
        id,
        () -> {
          context
              .ioas()
              .allowIovas(
                  liveId(),
                  0,
                  copy.size(),
                  (i, startLast) -> {
                    startLast[0] = copy.get(i).start();
                    startLast[1] = copy.get(i).last();
                  });
          return null;
        });
  }

  @Override
  public boolean hugePages() {
    owner.checkOpen();
    return callLong(
            IOMMU_OPTION,
            id,
            () ->
                context.option(
                    owner.caller(), IOMMU_OPTION_HUGE_PAGES, IOMMU_OPTION_OP_GET, 0, liveId(), 0))
        == 1;
  }

  @Override
  public void setHugePages(boolean enabled) {
    owner.checkOpen();
    callLong(
        IOMMU_OPTION,
        id,
        () ->
            context.option(
                owner.caller(),
                IOMMU_OPTION_HUGE_PAGES,
                IOMMU_OPTION_OP_SET,
                0,
                liveId(),
                enabled ? 1 : 0));
  }

  @Override
  public void close() {
    if (context.isClosed()) {
      return;
    }
    try {
      call(
          IOMMU_DESTROY,
          id,
          () -> {
            context.destroy(id, object);
            return null;
          });
    } catch (IommufdException e) {
      if (e.errno() != Errno.ENOENT) {
        throw e; // EBUSY: still in use; ENOENT: already destroyed, closing twice is fine
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof EmulatedIoas other && other.object == object;
  }

  @Override
  public int hashCode() {
    return Objects.hashCode(object);
  }

  @Override
  public String toString() {
    return "Ioas[id=" + id + "]";
  }
}
