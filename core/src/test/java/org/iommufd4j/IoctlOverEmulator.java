package org.iommufd4j;

import java.lang.foreign.MemorySegment;

/**
 * The real-kernel backend's typed code ({@link IoctlIommufd}) over the emulator's byte ABI instead
 * of {@code /dev/iommu}: the conformance tests run through it as a third front door, so the code
 * {@link Iommufd#kernel()} uses is tested on machines without iommufd.
 */
class IoctlOverEmulator extends IoctlIommufd {
  private final EmulatedIommufd target;

  IoctlOverEmulator(Iommufd emulated) {
    super("ioctl-over-emulator");
    this.target = (EmulatedIommufd) emulated;
  }

  @Override
  int rawIoctl(long request, MemorySegment arg) {
    return target.ioctl(request, arg);
  }

  @Override
  boolean isClosed() {
    return target.context().isClosed();
  }

  @Override
  public int closeFd(int fd) {
    return target.closeFd(fd);
  }

  @Override
  public long read(int fd, MemorySegment buffer) {
    return target.read(fd, buffer);
  }

  @Override
  public long write(int fd, MemorySegment buffer) {
    return target.write(fd, buffer);
  }

  @Override
  public void close() {
    target.close();
  }
}
