package org.iommufd4j.kernel;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * Every FFM downcall of the project: thin typed wrappers over libc and system calls.
 *
 * <p>Internal: this package has no compatibility promise. Each method returns what the C function
 * returns on success (never negative) or {@code -errno} on failure, with errno captured in the same
 * call into a per-thread capture segment (a shared static one would race between threads).
 *
 * <p>Addresses of memory this JVM does not own (another process's, or a raw address that may be
 * unmapped) travel as {@code long}: on LP64 a pointer and a {@code long} are passed the same way,
 * and no {@link MemorySegment} is ever made for them. Symbols come from {@link
 * Linker#defaultLookup()}, which an {@code LD_PRELOAD} shim does not intercept.
 */
public final class LibC {
  public static final int PROT_NONE = 0;
  public static final int PROT_READ = 1;
  public static final int PROT_WRITE = 2;
  public static final int MAP_SHARED = 0x01;
  public static final int MAP_PRIVATE = 0x02;
  public static final int MAP_FIXED = 0x10;
  public static final int MAP_ANONYMOUS = 0x20;
  public static final int MAP_NORESERVE = 0x4000;
  public static final int MADV_POPULATE_READ = 22;
  public static final int MADV_POPULATE_WRITE = 23;
  public static final int O_RDONLY = 0;
  public static final int O_RDWR = 2;
  public static final int O_CLOEXEC = 0x80000;

  private static final int SC_PAGESIZE = 30;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  private static final MethodHandle GETPID = plain("getpid", FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle STRERRORNAME_NP =
      plain("strerrorname_np", FunctionDescriptor.of(ADDRESS, JAVA_INT));
  // the GNU variant: returns the text, in buf or static
  private static final MethodHandle STRERROR_R =
      plain("strerror_r", FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle GETPPID = plain("getppid", FunctionDescriptor.of(JAVA_INT));
  private static final MethodHandle SYSCONF =
      plain("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT));
  private static final MethodHandle MADVISE =
      withErrno("madvise", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
  private static final MethodHandle MMAP =
      withErrno(
          "mmap",
          FunctionDescriptor.of(
              JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
  private static final MethodHandle MUNMAP =
      withErrno("munmap", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG));
  private static final MethodHandle MPROTECT =
      withErrno("mprotect", FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT));
  private static final MethodHandle OPEN =
      withErrno(
          "open",
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
          Linker.Option.firstVariadicArg(2));
  private static final MethodHandle IOCTL =
      withErrno(
          "ioctl",
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
          Linker.Option.firstVariadicArg(2));
  private static final MethodHandle READ =
      withErrno("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle WRITE =
      withErrno("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle CLOSE =
      withErrno("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
  private static final MethodHandle PREAD =
      withErrno("pread", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));
  private static final MethodHandle PWRITE =
      withErrno(
          "pwrite", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG));

  /**
   * process_vm_readv/writev through {@code syscall(2)}, with one extra variadic argument that
   * {@code syscall} ignores: the local segment. Passing it as an argument makes the linker check
   * that it is alive and accessible from this thread and keep it alive during the call; the glibc
   * wrappers would only see its raw address inside an iovec.
   */
  private static final MethodHandle SYSCALL6_KEEPING =
      withErrno(
          "syscall",
          FunctionDescriptor.of(
              JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG,
              ADDRESS),
          Linker.Option.firstVariadicArg(1));

  /**
   * As {@link #SYSCALL6_KEEPING} with two segments kept: a user struct and the buffer it is copied
   * from or into ({@link #copyFromUser}, {@link #copyToUser}).
   */
  private static final MethodHandle SYSCALL6_KEEPING_TWO =
      withErrno(
          "syscall",
          FunctionDescriptor.of(
              JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG,
              ADDRESS, ADDRESS),
          Linker.Option.firstVariadicArg(1));

  private static final long SYS_PROCESS_VM_READV;
  private static final long SYS_PROCESS_VM_WRITEV;

  static {
    switch (System.getProperty("os.arch")) {
      case "amd64", "x86_64" -> {
        SYS_PROCESS_VM_READV = 310;
        SYS_PROCESS_VM_WRITEV = 311;
      }
      case "aarch64" -> {
        SYS_PROCESS_VM_READV = 270;
        SYS_PROCESS_VM_WRITEV = 271;
      }
      default -> {
        SYS_PROCESS_VM_READV = -1;
        SYS_PROCESS_VM_WRITEV = -1;
      }
    }
  }

  /** The system page size (4096 on x86-64). */
  public static final long PAGE_SIZE = sysconf(SC_PAGESIZE);

  /** This process; a JVM never continues in a forked child. */
  private static final long SELF = getpid();

  private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

  /** Per-thread native memory reused by every call: the errno capture and two iovecs. */
  private static final class Scratch {
    final MemorySegment capture;
    final MemorySegment localIov;
    final MemorySegment remoteIov;

    /** capget's header and two data words, or prlimit's old value. */
    final MemorySegment credentials;

    Scratch() {
      // ofAuto: freed once the thread (and so its ThreadLocal value) is gone.
      Arena arena = Arena.ofAuto();
      capture = arena.allocate(CAPTURE_LAYOUT);
      localIov = arena.allocate(16, 8);
      remoteIov = arena.allocate(16, 8);
      credentials = arena.allocate(32, 8);
    }
  }

  private LibC() {}

  /** {@code getpid(2)}; cannot fail. */
  public static int getpid() {
    try {
      return (int) GETPID.invokeExact();
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code getppid(2)}: the cheapest real system call, the benchmarks' baseline. */
  /**
   * The errno's symbolic name and text as glibc gives them, e.g. {@code "ENOENT (No such file or
   * directory)"}; {@code "errno N"} for a number glibc does not name.
   */
  public static String describeErrno(int errno) {
    try {
      MemorySegment name = (MemorySegment) STRERRORNAME_NP.invokeExact(errno);
      if (name.equals(MemorySegment.NULL)) {
        return "errno " + errno;
      }
      return name.reinterpret(64).getString(0) + " (" + strerror(errno) + ")";
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** glibc's text for an errno ({@code strerror}); thread safe, unlike the C function's buffer. */
  public static String strerror(int errno) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(256);
      MemorySegment text = (MemorySegment) STRERROR_R.invokeExact(errno, buf, 256L);
      return text.reinterpret(256).getString(0);
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * The errno whose {@code strerror} text is {@code text} (how Java's file exceptions report a
   * failure), or 0 if none is.
   */
  public static int errnoOfText(String text) {
    for (int errno = 1; errno < 134; errno++) {
      if (strerror(errno).equals(text)) {
        return errno;
      }
    }
    return 0;
  }

  public static int getppid() {
    try {
      return (int) GETPPID.invokeExact();
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code process_vm_readv(2)} with one iovec on each side: copies {@code length} bytes at {@code
   * remoteAddress} of process {@code pid} into {@code local} at {@code offset}.
   *
   * @return bytes copied (less than {@code length} when a fault stopped the copy, or when the
   *     kernel capped the transfer near 2 GiB), or -errno (EFAULT, ESRCH, EPERM, ...)
   * @throws IllegalArgumentException if {@code local} is not native or is read-only
   * @throws IndexOutOfBoundsException if {@code [offset, offset + length)} is outside {@code local}
   * @throws UnsupportedOperationException on an architecture whose syscall numbers are not known
   */
  public static long processVmReadv(
      int pid, MemorySegment local, long offset, long length, long remoteAddress) {
    if (local.isReadOnly()) {
      throw new IllegalArgumentException("local segment is read-only");
    }
    return processVm(SYS_PROCESS_VM_READV, pid, local, offset, length, remoteAddress);
  }

  /**
   * {@code process_vm_writev(2)} with one iovec on each side: copies {@code length} bytes of {@code
   * local} at {@code offset} to {@code remoteAddress} of process {@code pid}.
   *
   * @return bytes copied (see {@link #processVmReadv}), or -errno
   * @throws IllegalArgumentException if {@code local} is not native
   * @throws IndexOutOfBoundsException if {@code [offset, offset + length)} is outside {@code local}
   */
  public static long processVmWritev(
      int pid, MemorySegment local, long offset, long length, long remoteAddress) {
    return processVm(SYS_PROCESS_VM_WRITEV, pid, local, offset, length, remoteAddress);
  }

  private static long processVm(
      long number, int pid, MemorySegment local, long offset, long length, long remoteAddress) {
    if (!local.isNative()) {
      // A heap segment's address() is an array offset, not a pointer.
      throw new IllegalArgumentException("local segment is not native");
    }
    Objects.checkFromIndexSize(offset, length, local.byteSize());
    if (number < 0) {
      throw new UnsupportedOperationException(
          "process_vm_readv/writev: unknown syscall numbers for " + System.getProperty("os.arch"));
    }
    Scratch s = SCRATCH.get();
    s.localIov.set(JAVA_LONG, 0, local.address() + offset);
    s.localIov.set(JAVA_LONG, 8, length);
    s.remoteIov.set(JAVA_LONG, 0, remoteAddress);
    s.remoteIov.set(JAVA_LONG, 8, length);
    try {
      long r =
          (long)
              SYSCALL6_KEEPING.invokeExact(
                  s.capture, number, (long) pid, s.localIov, 1L, s.remoteIov, 1L, 0L, local);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * Copies {@code length} bytes of {@code user} at {@code userOffset} into {@code into} at {@code
   * intoOffset}, both memory of this process, reading {@code user} as the kernel reads a system
   * call's argument ({@code copy_from_user}): an unreadable byte ({@code PROT_NONE}, unmapped, a
   * guard page) stops the copy instead of raising SIGSEGV.
   *
   * <p>It is {@code process_vm_writev} on this process with {@code user} on the local side, which
   * the kernel reads with {@code copy_from_user}, and {@code into} on the remote side, which it
   * pins. Both segments are checked alive and accessible from this thread, and kept alive for the
   * call.
   *
   * @return bytes copied (fewer when a fault stopped the copy), or -errno (EFAULT when the first
   *     byte is unreadable)
   * @throws IllegalArgumentException if a segment is not native, or {@code into} is read-only
   * @throws IndexOutOfBoundsException if a range is outside its segment
   */
  public static long copyFromUser(
      MemorySegment into, long intoOffset, MemorySegment user, long userOffset, long length) {
    if (into.isReadOnly()) {
      throw new IllegalArgumentException("destination segment is read-only");
    }
    return copyWithinSelf(SYS_PROCESS_VM_WRITEV, user, userOffset, into, intoOffset, length);
  }

  /**
   * As {@link #copyFromUser(MemorySegment, long, MemorySegment, long, long)} from a raw address of
   * this process, which may be unmapped or anything else: only {@code into} is checked and kept.
   */
  public static long copyFromUser(
      MemorySegment into, long intoOffset, long userAddress, long length) {
    if (into.isReadOnly()) {
      throw new IllegalArgumentException("destination segment is read-only");
    }
    return copyWithinSelf(SYS_PROCESS_VM_WRITEV, userAddress, null, into, intoOffset, length);
  }

  /**
   * Copies {@code length} bytes of {@code from} at {@code fromOffset} into {@code user} at {@code
   * userOffset}, as the kernel writes a system call's reply ({@code copy_to_user}): an unwritable
   * byte (read-only, {@code PROT_NONE}, unmapped) stops the copy instead of raising SIGSEGV.
   *
   * <p>It is {@code process_vm_readv} on this process with {@code user} on the local side, written
   * with {@code copy_to_user}, and {@code from} on the remote side. Both segments are checked alive
   * and accessible from this thread, and kept alive for the call.
   *
   * @return bytes copied (fewer when a fault stopped the copy), or -errno
   * @throws IllegalArgumentException if a segment is not native, or {@code user} is read-only
   * @throws IndexOutOfBoundsException if a range is outside its segment
   */
  public static long copyToUser(
      MemorySegment user, long userOffset, MemorySegment from, long fromOffset, long length) {
    if (user.isReadOnly()) {
      throw new IllegalArgumentException("user segment is read-only");
    }
    return copyWithinSelf(SYS_PROCESS_VM_READV, user, userOffset, from, fromOffset, length);
  }

  /**
   * As {@link #copyToUser(MemorySegment, long, MemorySegment, long, long)} to a raw address of this
   * process, which may be unmapped or anything else: only {@code from} is checked and kept.
   */
  public static long copyToUser(
      long userAddress, MemorySegment from, long fromOffset, long length) {
    return copyWithinSelf(SYS_PROCESS_VM_READV, userAddress, null, from, fromOffset, length);
  }

  private static long copyWithinSelf(
      long number,
      MemorySegment user,
      long userOffset,
      MemorySegment other,
      long otherOffset,
      long length) {
    if (!user.isNative()) {
      throw new IllegalArgumentException("user segment is not native");
    }
    Objects.checkFromIndexSize(userOffset, length, user.byteSize());
    return copyWithinSelf(number, user.address() + userOffset, user, other, otherOffset, length);
  }

  /**
   * {@code process_vm_readv} or {@code writev} on this process, {@code userAddress} on the local
   * side; {@code user} (null for a raw address) and {@code other} are kept alive for the call.
   */
  private static long copyWithinSelf(
      long number,
      long userAddress,
      MemorySegment user,
      MemorySegment other,
      long otherOffset,
      long length) {
    if (!other.isNative()) {
      // A heap segment's address() is an array offset, not a pointer.
      throw new IllegalArgumentException("segment is not native");
    }
    Objects.checkFromIndexSize(otherOffset, length, other.byteSize());
    if (number < 0) {
      throw new UnsupportedOperationException(
          "process_vm_readv/writev: unknown syscall numbers for " + System.getProperty("os.arch"));
    }
    Scratch s = SCRATCH.get();
    s.localIov.set(JAVA_LONG, 0, userAddress);
    s.localIov.set(JAVA_LONG, 8, length);
    s.remoteIov.set(JAVA_LONG, 0, other.address() + otherOffset);
    s.remoteIov.set(JAVA_LONG, 8, length);
    try {
      long r =
          user == null
              ? (long)
                  SYSCALL6_KEEPING.invokeExact(
                      s.capture, number, SELF, s.localIov, 1L, s.remoteIov, 1L, 0L, other)
              : (long)
                  SYSCALL6_KEEPING_TWO.invokeExact(
                      s.capture, number, SELF, s.localIov, 1L, s.remoteIov, 1L, 0L, user, other);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code madvise(2)}. @return 0 or -errno */
  public static int madvise(long address, long length, int advice) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) MADVISE.invokeExact(s.capture, address, length, advice);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code mmap(2)}. @return the mapping's address, or -errno (MAP_FAILED) */
  public static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) MMAP.invokeExact(s.capture, address, length, prot, flags, fd, offset);
      return r == -1 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code munmap(2)}. @return 0 or -errno */
  public static int munmap(long address, long length) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) MUNMAP.invokeExact(s.capture, address, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code mprotect(2)}. @return 0 or -errno */
  public static int mprotect(long address, long length, int prot) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) MPROTECT.invokeExact(s.capture, address, length, prot);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code open(2)}. @return a file descriptor or -errno */
  public static int open(String path, int flags, int mode) {
    Scratch s = SCRATCH.get();
    try (Arena arena = Arena.ofConfined()) {
      int r = (int) OPEN.invokeExact(s.capture, arena.allocateFrom(path), flags, mode);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code ioctl(2)} with a pointer argument. @return the ioctl's result or -errno */
  public static int ioctl(int fd, long request, MemorySegment arg) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) IOCTL.invokeExact(s.capture, fd, request, arg);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code read(2)} into all of {@code buffer}. @return bytes read or -errno */
  public static long read(int fd, MemorySegment buffer) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) READ.invokeExact(s.capture, fd, buffer, buffer.byteSize());
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code write(2)} of all of {@code buffer}. @return bytes written or -errno */
  public static long write(int fd, MemorySegment buffer) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) WRITE.invokeExact(s.capture, fd, buffer, buffer.byteSize());
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code pread(2)} into all of {@code buffer} (native) at {@code offset}. @return bytes or -errno
   */
  public static long pread(int fd, MemorySegment buffer, long offset) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) PREAD.invokeExact(s.capture, fd, buffer, buffer.byteSize(), offset);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code pwrite(2)} of all of {@code buffer} (native) at {@code offset}. @return bytes or -errno
   */
  public static long pwrite(int fd, MemorySegment buffer, long offset) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) PWRITE.invokeExact(s.capture, fd, buffer, buffer.byteSize(), offset);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code close(2)}. @return 0 or -errno */
  public static int close(int fd) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) CLOSE.invokeExact(s.capture, fd);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  // ---- another thread's credentials and limits ---------------------------------------------

  private static final int LINUX_CAPABILITY_VERSION_3 = 0x20080522;
  private static final int RLIMIT_MEMLOCK = 8;

  /** Linked on first use. */
  private static final class Credentials {
    static final MethodHandle CAPGET =
        withErrno("capget", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle PRLIMIT =
        withErrno("prlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
  }

  /**
   * {@code capget(2)} on thread {@code tid} (0: the calling thread): its effective capability set,
   * bit {@code n} for capability {@code n}.
   *
   * @return the set (never negative: bit 63 is no capability), or -errno (ESRCH: no such thread)
   */
  public static long effectiveCapabilities(int tid) {
    Scratch s = SCRATCH.get();
    MemorySegment header = s.credentials.asSlice(0, 8);
    MemorySegment data = s.credentials.asSlice(8, 24);
    header.set(JAVA_INT, 0, LINUX_CAPABILITY_VERSION_3);
    header.set(JAVA_INT, 4, tid);
    try {
      int r = (int) Credentials.CAPGET.invokeExact(s.capture, header, data);
      if (r < 0) {
        return -errno(s);
      }
      // two {effective, permitted, inheritable} words: low 32 capabilities, then the next 32
      return Integer.toUnsignedLong(data.get(JAVA_INT, 0))
          | Integer.toUnsignedLong(data.get(JAVA_INT, 12)) << 32 & Long.MAX_VALUE;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * The soft {@code RLIMIT_MEMLOCK} of process {@code pid} (0: this one), by {@code prlimit(2)}.
   *
   * @return bytes, {@link Long#MAX_VALUE} for RLIM_INFINITY, or -errno (ESRCH, EPERM)
   */
  public static long memlockLimit(int pid) {
    Scratch s = SCRATCH.get();
    MemorySegment old = s.credentials.asSlice(0, 16);
    try {
      int r =
          (int)
              Credentials.PRLIMIT.invokeExact(
                  s.capture, pid, RLIMIT_MEMLOCK, MemorySegment.NULL, old);
      if (r < 0) {
        return -errno(s);
      }
      long soft = old.get(JAVA_LONG, 0);
      return soft < 0 ? Long.MAX_VALUE : soft;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  // ---- sockets and polling, for the bridge server (issue 5) --------------------------------

  public static final int AF_UNIX = 1;
  public static final int SOCK_STREAM = 1;
  public static final int SOCK_CLOEXEC = 0x80000;
  public static final int SOL_SOCKET = 1;
  public static final int SO_PEERCRED = 17;
  public static final int SO_RCVTIMEO = 20;
  public static final int SO_SNDTIMEO = 21;
  public static final int SCM_RIGHTS = 1;
  public static final int MSG_CTRUNC = 0x8;
  public static final int MSG_DONTWAIT = 0x40;
  public static final int MSG_NOSIGNAL = 0x4000;
  public static final int MSG_CMSG_CLOEXEC = 0x40000000;
  public static final int SHUT_RDWR = 2;
  public static final short POLLIN = 0x1;
  public static final short POLLERR = 0x8;
  public static final short POLLHUP = 0x10;
  public static final short POLLNVAL = 0x20;
  public static final int EFD_NONBLOCK = 0x800;
  public static final int EFD_CLOEXEC = 0x80000;

  /** Linked on first use: programs that never open a socket never pay for these. */
  private static final class Net {
    static final MethodHandle SOCKET =
        withErrno("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle SOCKETPAIR =
        withErrno(
            "socketpair", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    static final MethodHandle BIND =
        withErrno("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle CONNECT =
        withErrno("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle LISTEN =
        withErrno("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle ACCEPT4 =
        withErrno("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    static final MethodHandle SENDMSG =
        withErrno("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle RECVMSG =
        withErrno("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle GETSOCKOPT =
        withErrno(
            "getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    static final MethodHandle SETSOCKOPT =
        withErrno(
            "setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle SHUTDOWN =
        withErrno("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    static final MethodHandle POLL =
        withErrno("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    static final MethodHandle READ =
        withErrno("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle WRITE =
        withErrno("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    static final MethodHandle EVENTFD =
        withErrno("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  }

  /** {@code socket(2)}. @return a descriptor or -errno */
  public static int socket(int domain, int type, int protocol) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.SOCKET.invokeExact(s.capture, domain, type, protocol);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code socketpair(2)} into the two ints of {@code pair}. @return 0 or -errno */
  public static int socketpair(int domain, int type, int protocol, MemorySegment pair) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.SOCKETPAIR.invokeExact(s.capture, domain, type, protocol, pair);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code bind(2)} to the first {@code length} bytes of {@code address}. @return 0 or -errno */
  public static int bind(int fd, MemorySegment address, int length) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.BIND.invokeExact(s.capture, fd, address, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code connect(2)}. @return 0 or -errno */
  public static int connect(int fd, MemorySegment address, int length) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.CONNECT.invokeExact(s.capture, fd, address, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code listen(2)}. @return 0 or -errno */
  public static int listen(int fd, int backlog) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.LISTEN.invokeExact(s.capture, fd, backlog);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code accept4(2)} without the peer address. @return a descriptor or -errno */
  public static int accept4(int fd, int flags) {
    Scratch s = SCRATCH.get();
    try {
      int r =
          (int)
              Net.ACCEPT4.invokeExact(s.capture, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code sendmsg(2)}; {@code msghdr} and what it points to are native. @return bytes or -errno
   */
  public static long sendmsg(int fd, MemorySegment msghdr, int flags) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) Net.SENDMSG.invokeExact(s.capture, fd, msghdr, flags);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code recvmsg(2)}. @return bytes (0 at end of stream) or -errno */
  public static long recvmsg(int fd, MemorySegment msghdr, int flags) {
    Scratch s = SCRATCH.get();
    try {
      long r = (long) Net.RECVMSG.invokeExact(s.capture, fd, msghdr, flags);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code getsockopt(2)}; {@code length} holds the socklen_t in and out. @return 0 or -errno */
  public static int getsockopt(
      int fd, int level, int name, MemorySegment value, MemorySegment length) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.GETSOCKOPT.invokeExact(s.capture, fd, level, name, value, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code setsockopt(2)} with the whole of {@code value}. @return 0 or -errno */
  public static int setsockopt(int fd, int level, int name, MemorySegment value) {
    Scratch s = SCRATCH.get();
    try {
      int r =
          (int)
              Net.SETSOCKOPT.invokeExact(s.capture, fd, level, name, value, (int) value.byteSize());
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code shutdown(2)}: wakes a thread blocked on the socket. @return 0 or -errno */
  public static int shutdown(int fd, int how) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.SHUTDOWN.invokeExact(s.capture, fd, how);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code poll(2)} on {@code count} 8-byte pollfd records. @return ready count or -errno */
  public static int poll(MemorySegment pollfds, long count, int timeoutMillis) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.POLL.invokeExact(s.capture, pollfds, count, timeoutMillis);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code read(2)} into the first {@code length} bytes of {@code buffer}. @return bytes or -errno
   */
  public static long read(int fd, MemorySegment buffer, long length) {
    Objects.checkFromIndexSize(0, length, buffer.byteSize());
    Scratch s = SCRATCH.get();
    try {
      long r = (long) Net.READ.invokeExact(s.capture, fd, buffer, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code write(2)} of the first {@code length} bytes of {@code buffer}. @return bytes or -errno
   */
  public static long write(int fd, MemorySegment buffer, long length) {
    Objects.checkFromIndexSize(0, length, buffer.byteSize());
    Scratch s = SCRATCH.get();
    try {
      long r = (long) Net.WRITE.invokeExact(s.capture, fd, buffer, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code eventfd(2)}. @return a descriptor or -errno */
  public static int eventfd(int initialValue, int flags) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Net.EVENTFD.invokeExact(s.capture, initialValue, flags);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  // ---- shared memory, for the bridge's fast channel (issue 5) --------------------------------

  public static final int MFD_CLOEXEC = 0x1;
  public static final int MFD_ALLOW_SEALING = 0x2;
  public static final int F_DUPFD_CLOEXEC = 1030;
  public static final int F_ADD_SEALS = 1033;
  public static final int F_GET_SEALS = 1034;
  public static final int F_SEAL_SEAL = 0x1;
  public static final int F_SEAL_SHRINK = 0x2;
  public static final int F_SEAL_GROW = 0x4;

  private static final class Shm {
    static final MethodHandle MEMFD_CREATE =
        withErrno("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    static final MethodHandle FTRUNCATE =
        withErrno("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    static final MethodHandle FCNTL =
        withErrno(
            "fcntl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
  }

  /** {@code memfd_create(2)}. @return a descriptor or -errno */
  public static int memfdCreate(String name, int flags) {
    Scratch s = SCRATCH.get();
    try (Arena arena = Arena.ofConfined()) {
      int r = (int) Shm.MEMFD_CREATE.invokeExact(s.capture, arena.allocateFrom(name), flags);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /** {@code ftruncate(2)}. @return 0 or -errno */
  public static int ftruncate(int fd, long length) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Shm.FTRUNCATE.invokeExact(s.capture, fd, length);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  /**
   * {@code fcntl(2)} with an int argument (F_ADD_SEALS, F_SETFD, ...). @return its result or -errno
   */
  public static int fcntl(int fd, int command, int argument) {
    Scratch s = SCRATCH.get();
    try {
      int r = (int) Shm.FCNTL.invokeExact(s.capture, fd, command, argument);
      return r < 0 ? -errno(s) : r;
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  private static long sysconf(int name) {
    try {
      return (long) SYSCONF.invokeExact(name);
    } catch (Throwable t) {
      throw unexpected(t);
    }
  }

  private static int errno(Scratch s) {
    return (int) ERRNO.get(s.capture, 0L);
  }

  private static MethodHandle plain(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(symbol(name), descriptor);
  }

  private static MethodHandle withErrno(
      String name, FunctionDescriptor descriptor, Linker.Option... options) {
    Linker.Option[] all = new Linker.Option[options.length + 1];
    all[0] = CAPTURE_ERRNO;
    System.arraycopy(options, 0, all, 1, options.length);
    return LINKER.downcallHandle(symbol(name), descriptor, all);
  }

  private static MemorySegment symbol(String name) {
    return LINKER
        .defaultLookup()
        .find(name)
        .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
  }

  private static RuntimeException unexpected(Throwable t) {
    // invokeExact declares Throwable. The linker's own runtime exceptions (a closed or
    // wrong-thread segment) are the caller's bug and pass through unchanged.
    if (t instanceof RuntimeException e) {
      return e;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException("downcall failed", t);
  }
}
