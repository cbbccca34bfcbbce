package org.iommufd4j;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link Door} over the typed API. IOAS handles are cached by id and never dropped, so that a test
 * using the id of a destroyed IOAS goes through a stale handle into the engine, where the IOAS
 * lookup happens at the point of the kernel's check order (a fresh {@link Iommufd#ioas} would fail
 * with ENOENT before any other check).
 */
final class TypedDoor implements Door {
  private final Iommufd iommufd;
  private final Iommufd inspected;
  private final Map<Integer, Ioas> handles = new HashMap<>();

  TypedDoor(Iommufd iommufd) {
    this(iommufd, iommufd);
  }

  /** Typed calls go to {@code iommufd}; {@link #iommufd()}, for raw calls, is {@code inspected}. */
  TypedDoor(Iommufd iommufd, Iommufd inspected) {
    this.iommufd = iommufd;
    this.inspected = inspected;
  }

  private Ioas handle(int id) {
    Ioas ioas = handles.get(id);
    if (ioas == null) {
      ioas = iommufd.ioas(id);
      handles.put(id, ioas);
    }
    return ioas;
  }

  @Override
  public Iommufd iommufd() {
    return inspected;
  }

  @Override
  public int createIoas() {
    Ioas ioas = iommufd.createIoas();
    handles.put(ioas.id(), ioas);
    return ioas.id();
  }

  @Override
  public void destroy(int id) {
    iommufd.destroy(id);
  }

  @Override
  public long map(int ioasId, long userVa, long length, Protection protection) {
    Mapping m = handle(ioasId).map(userVa, length, protection);
    return m.iova();
  }

  @Override
  public long mapFixed(int ioasId, long iova, long userVa, long length, Protection protection) {
    return handle(ioasId).mapFixed(iova, userVa, length, protection).iova();
  }

  @Override
  public long copy(int dstIoasId, int srcIoasId, long srcIova, long length, Protection protection) {
    return handle(dstIoasId).copy(handle(srcIoasId), srcIova, length, protection).iova();
  }

  @Override
  public long copyFixed(
      int dstIoasId,
      long dstIova,
      int srcIoasId,
      long srcIova,
      long length,
      Protection protection) {
    return handle(dstIoasId)
        .copyFixed(dstIova, handle(srcIoasId), srcIova, length, protection)
        .iova();
  }

  @Override
  public long unmap(int ioasId, long iova, long length) {
    return handle(ioasId).unmap(iova, length);
  }

  @Override
  public long unmapAll(int ioasId) {
    return handle(ioasId).unmapAll();
  }

  @Override
  public IovaRanges iovaRanges(int ioasId) {
    return handle(ioasId).iovaRanges();
  }

  @Override
  public void allowIovas(int ioasId, List<IovaRange> ranges) {
    handle(ioasId).allowIovas(ranges);
  }

  @Override
  public boolean hugePages(int ioasId) {
    return handle(ioasId).hugePages();
  }

  @Override
  public void setHugePages(int ioasId, boolean enabled) {
    handle(ioasId).setHugePages(enabled);
  }

  @Override
  public RlimitMode rlimitMode() {
    return iommufd.rlimitMode();
  }

  @Override
  public void setRlimitMode(RlimitMode mode) {
    iommufd.setRlimitMode(mode);
  }

  @Override
  public String toString() {
    return "TYPED";
  }
}
