package org.iommufd4j;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

/**
 * Changes what the kernel would check, as a program does while it runs: this OS thread's effective
 * capabilities ({@code capset}, per thread) and this process's soft RLIMIT_MEMLOCK ({@code
 * setrlimit}). Tests restore what they change.
 */
final class ThreadCredentials {
  static final int CAP_IPC_LOCK = 14;
  static final int CAP_SYS_RESOURCE = 24;
  private static final int RLIMIT_MEMLOCK = 8;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle CAPGET =
      handle("capget", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle CAPSET =
      handle("capset", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle GETRLIMIT =
      handle("getrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle SETRLIMIT =
      handle("setrlimit", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

  private ThreadCredentials() {}

  private static MethodHandle handle(String name, FunctionDescriptor d) {
    return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
  }

  /** Whether this thread may raise {@code cap} (it is in the permitted set). */
  static boolean permitted(int cap) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment data = capget(arena);
      return (data.get(JAVA_INT, cap / 32 * 12 + 4) >>> cap % 32 & 1) != 0;
    }
  }

  static boolean effective(int cap) {
    try (Arena arena = Arena.ofConfined()) {
      return (capget(arena).get(JAVA_INT, cap / 32 * 12) >>> cap % 32 & 1) != 0;
    }
  }

  /** Raises or drops {@code cap} in this thread's effective set; it stays permitted. */
  static void setEffective(int cap, boolean on) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment data = capget(arena);
      long offset = cap / 32 * 12;
      int bit = 1 << cap % 32;
      int word = data.get(JAVA_INT, offset);
      data.set(JAVA_INT, offset, on ? word | bit : word & ~bit);
      check((int) CAPSET.invokeExact(header(arena), data), "capset");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** This process's soft RLIMIT_MEMLOCK in bytes, or -1 for unlimited. */
  static long memlockSoft() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment r = arena.allocate(16, 8);
      check((int) GETRLIMIT.invokeExact(RLIMIT_MEMLOCK, r), "getrlimit");
      return r.get(JAVA_LONG, 0);
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  /** Sets this process's soft RLIMIT_MEMLOCK (-1: unlimited), keeping the hard limit. */
  static void setMemlockSoft(long bytes) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment r = arena.allocate(16, 8);
      check((int) GETRLIMIT.invokeExact(RLIMIT_MEMLOCK, r), "getrlimit");
      r.set(JAVA_LONG, 0, bytes);
      check((int) SETRLIMIT.invokeExact(RLIMIT_MEMLOCK, r), "setrlimit");
    } catch (Throwable t) {
      throw rethrow(t);
    }
  }

  private static MemorySegment header(Arena arena) {
    MemorySegment h = arena.allocate(8, 4);
    h.set(JAVA_INT, 0, 0x20080522); // _LINUX_CAPABILITY_VERSION_3
    h.set(JAVA_INT, 4, 0); // this thread
    return h;
  }

  private static MemorySegment capget(Arena arena) {
    MemorySegment data = arena.allocate(24, 4);
    try {
      check((int) CAPGET.invokeExact(header(arena), data), "capget");
    } catch (Throwable t) {
      throw rethrow(t);
    }
    return data;
  }

  private static void check(int rc, String call) {
    if (rc != 0) {
      throw new IllegalStateException(call + " failed");
    }
  }

  private static RuntimeException rethrow(Throwable t) {
    return t instanceof RuntimeException r ? r : new IllegalStateException(t);
  }
}
