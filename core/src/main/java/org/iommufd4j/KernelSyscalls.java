package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.kernel.LibC;

/** {@link Syscalls} of the real kernel: each one {@link LibC} downcall. */
final class KernelSyscalls implements Syscalls {
  @Override
  public String name() {
    return "kernel";
  }

  @Override
  public int open(String path) {
    return LibC.open(path, LibC.O_RDWR | LibC.O_CLOEXEC, 0);
  }

  @Override
  public int ioctl(int fd, long request, MemorySegment arg) {
    return LibC.ioctl(fd, request, arg);
  }

  @Override
  public long read(int fd, MemorySegment buffer) {
    return LibC.read(fd, buffer);
  }

  @Override
  public long write(int fd, MemorySegment buffer) {
    return LibC.write(fd, buffer);
  }

  @Override
  public long pread(int fd, MemorySegment buffer, long offset) {
    return LibC.pread(fd, buffer, offset);
  }

  @Override
  public long pwrite(int fd, MemorySegment buffer, long offset) {
    return LibC.pwrite(fd, buffer, offset);
  }

  @Override
  public long mmap(int fd, long offset, long length, int prot) {
    return LibC.mmap(0, length, prot, LibC.MAP_SHARED, fd, offset);
  }

  @Override
  public void munmap(long address, long length) {
    LibC.munmap(address, length);
  }

  @Override
  public int close(int fd) {
    return LibC.close(fd);
  }
}
