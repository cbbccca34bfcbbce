package org.iommufd4j;

import java.lang.foreign.MemorySegment;

/**
 * The system calls the typed API makes on a descriptor: the real kernel's ({@link #KERNEL}), or an
 * {@link EmulatedMachine}'s, so one typed layer ({@link DescriptorIommufd}, {@link VfioDevice})
 * serves both and the emulated machine exercises the code the kernel backend runs. Each returns
 * what the system call returns, or {@code -errno}; buffers are native.
 */
interface Syscalls {
  /** The real kernel, through {@link org.iommufd4j.kernel.LibC}. */
  Syscalls KERNEL = new KernelSyscalls();

  /** The backend's name, in messages and events ({@code kernel}, {@code machine}). */
  String name();

  /** {@code open(path, O_RDWR | O_CLOEXEC)}. */
  int open(String path);

  int ioctl(int fd, long request, MemorySegment arg);

  long read(int fd, MemorySegment buffer);

  long write(int fd, MemorySegment buffer);

  long pread(int fd, MemorySegment buffer, long offset);

  long pwrite(int fd, MemorySegment buffer, long offset);

  /**
   * {@code mmap(NULL, length, prot, MAP_SHARED, fd, offset)}: the mapping's address; or 0 where the
   * mapping is allowed but has no memory behind it (the emulated machine: an access through it is
   * the {@link #pread}/{@link #pwrite} of its width at the same file offset, as the bridge's trap
   * makes it for a C program).
   */
  long mmap(int fd, long offset, long length, int prot);

  /** {@code munmap(2)} of what {@link #mmap} returned (nothing for 0). */
  void munmap(long address, long length);

  int close(int fd);
}
