package org.iommufd4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * A run of anonymous 4 KiB pages from {@code mmap}, whose pages a test can make read-only,
 * inaccessible or unmapped, to place an argument block or array right before memory the kernel
 * could not read or write (EFAULT paths of main.c: iommufd_fops_ioctl(); iommufd_private.h:
 * iommufd_ucmd_respond(); ioas.c: iommufd_ioas_iova_ranges(), iommufd_ioas_allow_iovas()).
 *
 * <p>Tests only touch such memory from Java through {@link #segment} slices of pages that are still
 * readable and writable; the emulator reaches the rest through {@code UserMemory}.
 */
final class NativePages implements AutoCloseable {
  static final long PAGE = 4096;
  static final int PROT_NONE = 0;
  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;

  private static final int MAP_PRIVATE = 0x02;
  private static final int MAP_ANONYMOUS = 0x20;
  private static final MethodHandle MMAP;
  private static final MethodHandle MUNMAP;
  private static final MethodHandle MPROTECT;

  static {
    Linker linker = Linker.nativeLinker();
    var libc = linker.defaultLookup();
    MMAP =
        linker.downcallHandle(
            libc.find("mmap").orElseThrow(),
            FunctionDescriptor.of(
                JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    MUNMAP =
        linker.downcallHandle(
            libc.find("munmap").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
    MPROTECT =
        linker.downcallHandle(
            libc.find("mprotect").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
    assert ADDRESS.byteSize() == 8;
  }

  private final long base;
  private final int count;

  private NativePages(long base, int count) {
    this.base = base;
    this.count = count;
  }

  /** {@code count} fresh zeroed read-write pages. */
  static NativePages map(int count) {
    long base;
    try {
      base =
          (long)
              MMAP.invokeExact(
                  0L, count * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0L);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    if (base == -1L) {
      throw new AssertionError("mmap failed");
    }
    return new NativePages(base, count);
  }

  /** Address of page {@code page}. */
  long page(int page) {
    return base + page * PAGE;
  }

  /** A segment over {@code length} bytes at {@code address}; they must be readable and writable. */
  static MemorySegment segment(long address, long length) {
    return MemorySegment.ofAddress(address).reinterpret(length);
  }

  void protect(int page, int prot) {
    protectAt(page(page), prot);
  }

  /** Sets the protection of the page at {@code address}, which may be any page of this process. */
  static void protectAt(long address, int prot) {
    int rc;
    try {
      rc = (int) MPROTECT.invokeExact(address, PAGE, prot);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    if (rc != 0) {
      throw new AssertionError("mprotect failed");
    }
  }

  /** Unmaps one page, leaving a hole. */
  void unmap(int page) {
    munmap(page(page), PAGE);
  }

  private static void munmap(long address, long length) {
    int rc;
    try {
      rc = (int) MUNMAP.invokeExact(address, length);
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
    if (rc != 0) {
      throw new AssertionError("munmap failed");
    }
  }

  @Override
  public void close() {
    munmap(base, count * PAGE);
  }
}
