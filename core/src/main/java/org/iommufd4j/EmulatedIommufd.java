package org.iommufd4j;

import java.lang.foreign.MemorySegment;

/** PLACEHOLDER while the engine is written. */
final class EmulatedIommufd implements Iommufd {
  EmulatedIommufd(Configuration configuration) {}

  @Override
  public int ioctl(long request, MemorySegment arg) {
    throw new UnsupportedOperationException();
  }

  @Override
  public Ioas createIoas() {
    throw new UnsupportedOperationException();
  }

  @Override
  public Ioas ioas(int ioasId) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void destroy(int id) {
    throw new UnsupportedOperationException();
  }

  @Override
  public RlimitMode rlimitMode() {
    throw new UnsupportedOperationException();
  }

  @Override
  public void setRlimitMode(RlimitMode mode) {
    throw new UnsupportedOperationException();
  }

  @Override
  public void close() {}
}
