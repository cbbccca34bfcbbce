package org.iommufd4j;

import static org.iommufd4j.TypedCalls.runLong;

import java.lang.foreign.MemorySegment;

/** {@link EmulatedDevice} on the embedded engine. */
final class DeviceHandle implements EmulatedDevice {
  private final EmulatedIommufd owner;
  private final int id;
  private volatile boolean closed;

  DeviceHandle(EmulatedIommufd owner, int id) {
    this.owner = owner;
    this.id = id;
  }

  @Override
  public int id() {
    return id;
  }

  private void checkOpen() {
    owner.checkOpen();
    if (closed) {
      throw new IllegalStateException("device " + id + " is closed");
    }
  }

  @Override
  public void attach(Ioas ioas) {
    checkOpen();
    runLong(() -> owner.context().devices().attach(id, ioas.id()));
  }

  @Override
  public void attach(Hwpt hwpt) {
    checkOpen();
    runLong(() -> owner.context().devices().attach(id, hwpt.id()));
  }

  @Override
  public void detach() {
    checkOpen();
    runLong(
        () -> {
          owner.context().devices().detach(id);
          return 0;
        });
  }

  @Override
  public int hwptId() {
    checkOpen();
    return (int) runLong(() -> owner.context().devices().attachedHwpt(id));
  }

  private void dma(long iova, MemorySegment buffer, boolean write) {
    checkOpen();
    owner.context().devices().dma(id, iova, buffer, write);
  }

  @Override
  public void dmaRead(long iova, MemorySegment dst) {
    dma(iova, dst, false);
  }

  @Override
  public void dmaWrite(long iova, MemorySegment src) {
    dma(iova, src, true);
  }

  @Override
  public long translate(long iova) {
    checkOpen();
    return runLong(() -> owner.context().devices().translate(id, iova));
  }

  @Override
  public void close() {
    if (closed || owner.context().isClosed()) {
      return;
    }
    closed = true;
    runLong(
        () -> {
          owner.context().devices().unbind(id);
          return 0;
        });
  }

  @Override
  public String toString() {
    return "EmulatedDevice[id=" + id + "]";
  }
}
