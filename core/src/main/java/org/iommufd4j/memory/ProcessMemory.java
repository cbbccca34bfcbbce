package org.iommufd4j.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Objects;
import org.iommufd4j.Errno;
import org.iommufd4j.kernel.LibC;

/**
 * The memory of a live process, by pid: this process ({@link #self()}) or another one ({@link
 * #of(int)}).
 *
 * <p>{@link #read} and {@link #write} use {@code process_vm_readv}/{@code process_vm_writev}, which
 * report a bad address as EFAULT instead of faulting: an unmapped, PROT_NONE, kernel or
 * non-canonical address returns false and never crashes the JVM. On this process the address is
 * copied as a system call copies its caller's memory ({@link LibC#copyFromUser}, {@link
 * LibC#copyToUser}); on another it is pinned first, as only that is possible across processes. A
 * range whose end passes 2^64 returns false. An empty range always succeeds, at any address.
 * Another process's memory needs ptrace access to it ({@code PTRACE_MODE_ATTACH_REALCREDS}: same
 * user and, under Yama, a descendant or a {@code PR_SET_PTRACER} grant); without it every call
 * returns false.
 *
 * <p>{@link #isPinnable} models pin_user_pages without FOLL_FORCE on the 4 KiB pages the range
 * touches by reading the permissions of the VMAs that cover it ({@code PROCMAP_QUERY}, Linux 6.11+;
 * see {@link ProcessMaps} for what that misses). For this process on older kernels it asks the
 * kernel to fault the pages in instead ({@code MADV_POPULATE_READ} or {@code MADV_POPULATE_WRITE},
 * Linux 5.14+): contents never change, but, as pinning would, this allocates memory for untouched
 * anonymous pages and breaks copy-on-write sharing.
 *
 * <p>A pid names a process only while it lives: once it exits and the pid is reused, calls reach
 * the new process. Instances are immutable and thread-safe. Per-thread native scratch memory keeps
 * transfers free of allocation; a heap segment is copied through it, one syscall per 64 KiB.
 */
public final class ProcessMemory implements UserMemory {
  /** Below the kernel's per-call cap (MAX_RW_COUNT, 2 GiB - 4 KiB): one syscall per chunk. */
  private static final long DEFAULT_CHUNK = 1L << 30;

  /** Heap segments have no native address: they are copied through this much native memory. */
  private static final int BOUNCE_SIZE = 64 * 1024;

  private static final long PINNING_PAGE_SIZE = 4096;

  private static final ThreadLocal<MemorySegment> BOUNCE =
      ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(BOUNCE_SIZE, 64));

  private static final ProcessMemory SELF = new ProcessMemory(LibC.getpid(), true, DEFAULT_CHUNK);

  private final int pid;
  private final boolean self;
  private final long chunk;

  ProcessMemory(int pid, boolean self, long chunk) {
    this.pid = pid;
    this.self = self;
    this.chunk = chunk;
  }

  /** This process. */
  public static ProcessMemory self() {
    return SELF;
  }

  /**
   * The process {@code pid}. Always treated as another process, even when {@code pid} is this
   * process's own: {@link #isPinnable} then reads VMA permissions instead of faulting pages in.
   *
   * @throws IllegalArgumentException if {@code pid <= 0}
   */
  public static ProcessMemory of(int pid) {
    if (pid <= 0) {
      throw new IllegalArgumentException("pid=" + pid);
    }
    return new ProcessMemory(pid, false, DEFAULT_CHUNK);
  }

  /** The process id this memory belongs to. */
  public int pid() {
    return pid;
  }

  /**
   * {@inheritDoc}
   *
   * @throws IllegalArgumentException if {@code dst} is read-only
   */
  @Override
  public boolean read(long address, MemorySegment dst) {
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("dst is read-only");
    }
    return transfer(false, address, dst);
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    return transfer(true, address, Objects.requireNonNull(src));
  }

  private boolean transfer(boolean write, long address, MemorySegment segment) {
    long length = segment.byteSize();
    if (length == 0) {
      return true;
    }
    if (!UnsignedRange.fits(address, length)) {
      return false;
    }
    if (segment.isNative()) {
      return transferNative(write, address, segment, 0, length);
    }
    MemorySegment bounce = BOUNCE.get();
    for (long done = 0; done < length; ) {
      long n = Math.min(length - done, BOUNCE_SIZE);
      if (write) {
        MemorySegment.copy(segment, done, bounce, 0, n);
      }
      if (!transferNative(write, address + done, bounce, 0, n)) {
        return false;
      }
      if (!write) {
        MemorySegment.copy(bounce, 0, segment, done, n);
      }
      done += n;
    }
    return true;
  }

  /**
   * One syscall per chunk. A short count is either a fault or the kernel capping a transfer, so the
   * rest is retried from where it stopped: a fault then fails at once with EFAULT.
   */
  private boolean transferNative(
      boolean write, long address, MemorySegment local, long offset, long length) {
    while (length > 0) {
      long n = Math.min(length, chunk);
      long r;
      if (self) {
        r =
            write
                ? LibC.copyToUser(address, local, offset, n)
                : LibC.copyFromUser(local, offset, address, n);
      } else {
        r =
            write
                ? LibC.processVmWritev(pid, local, offset, n, address)
                : LibC.processVmReadv(pid, local, offset, n, address);
      }
      if (r == -Errno.EINTR.number()) {
        continue;
      }
      if (r <= 0) {
        return false;
      }
      address += r;
      offset += r;
      length -= r;
    }
    return true;
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    if (length == 0) {
      return true;
    }
    if (!UnsignedRange.fits(address, length)) {
      return false;
    }
    long last = address + length - 1;
    // madvise needs system-page alignment; a system page covers whole 4 KiB pages.
    long alignment = self ? Math.max(LibC.PAGE_SIZE, PINNING_PAGE_SIZE) : PINNING_PAGE_SIZE;
    long start = address & -alignment;
    long end = (last & -alignment) + alignment;
    if (end == 0) {
      return false; // the top page of the 64-bit space is never user memory
    }
    if (!self) {
      return ProcessMaps.covers(pid, start, end, write);
    }
    // VMA permissions answer what pinning would in all but exotic cases (a page beyond the end of
    // a mapped file); asking them costs an ioctl per VMA, where populating costs per page.
    int byVma = ProcessMaps.coversSelf(start, end, write);
    if (byVma >= 0) {
      return byVma == 1;
    }
    int advice = write ? LibC.MADV_POPULATE_WRITE : LibC.MADV_POPULATE_READ;
    int r;
    do {
      // EFAULT (would SIGBUS/SIGSEGV), EINVAL (no permission, VM_IO/VM_PFNMAP), ENOMEM (hole)
      r = LibC.madvise(start, end - start, advice);
    } while (r == -Errno.EINTR.number());
    return r == 0;
  }

  @Override
  public String toString() {
    return "ProcessMemory[pid=" + pid + (self ? ", self" : "") + "]";
  }
}
