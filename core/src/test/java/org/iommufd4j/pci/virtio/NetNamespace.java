package org.iommufd4j.pci.virtio;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A network namespace of one thread's own, so that tests can make interfaces without touching the
 * host's network: namespaces are per thread in Linux, so {@code unshare(CLONE_NEWNET)} on a fresh
 * thread moves only that thread, and what it makes (a tap) lives and dies in the new namespace.
 */
final class NetNamespace {
  private static final int CLONE_NEWNET = 0x40000000;
  private static final int CAP_NET_ADMIN = 12;
  private static final int CAPABILITY_VERSION_3 = 0x20080522;
  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle UNSHARE = function("unshare", JAVA_INT, JAVA_INT);
  private static final MethodHandle GETTID = function("gettid", JAVA_INT);
  private static final MethodHandle CAPGET = function("capget", JAVA_INT, ADDRESS, ADDRESS);
  private static final MethodHandle CAPSET = function("capset", JAVA_INT, ADDRESS, ADDRESS);

  private final long tid;

  private NetNamespace(long tid) {
    this.tid = tid;
  }

  /**
   * Runs {@code body} on a new thread in a new, empty network namespace (only {@code lo}, down) and
   * returns its result; aborts the test (skipped, with the reason) where no namespace can be made.
   */
  static <T> T run(Body<T> body) throws Exception {
    CompletableFuture<T> result = new CompletableFuture<>();
    Thread.ofPlatform()
        .name("netns test")
        .start(
            () -> {
              try {
                int r = (int) UNSHARE.invokeExact(CLONE_NEWNET);
                if (r != 0) {
                  result.completeExceptionally(
                      new IllegalStateException("unshare(CLONE_NEWNET) failed (not root?)"));
                  return;
                }
                result.complete(body.run(new NetNamespace((int) GETTID.invokeExact())));
              } catch (Throwable t) {
                result.completeExceptionally(t);
              }
            });
    try {
      return result.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IllegalStateException s
          && s.getMessage().startsWith("unshare(")) {
        Assumptions.abort("no network namespace for the test: " + s.getMessage());
      }
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }

  /** What runs in the namespace. */
  interface Body<T> {
    T run(NetNamespace ns) throws Throwable;
  }

  /**
   * Runs {@code ip ARGS} in this namespace (through nsenter, so that it does not depend on which
   * thread starts it); fails with ip's output if it does.
   */
  void ip(String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.addAll(
        List.of(
            "nsenter",
            "--net=/proc/" + ProcessHandle.current().pid() + "/task/" + tid + "/ns/net",
            "ip"));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (!p.waitFor(20, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
    }
  }

  /** Drops CAP_NET_ADMIN from the calling thread's effective set (the other threads keep it). */
  static void dropNetAdmin() throws Throwable {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment header = arena.allocate(8, 4);
      header.set(JAVA_INT, 0, CAPABILITY_VERSION_3);
      MemorySegment data = arena.allocate(24, 4); // two of {effective, permitted, inheritable}
      if ((int) CAPGET.invokeExact(header, data) != 0) {
        throw new IllegalStateException("capget failed");
      }
      data.set(JAVA_INT, 0, data.get(JAVA_INT, 0) & ~(1 << CAP_NET_ADMIN));
      if ((int) CAPSET.invokeExact(header, data) != 0) {
        throw new IllegalStateException("capset failed");
      }
    }
  }

  private static MethodHandle function(String name, MemoryLayout result, MemoryLayout... args) {
    return LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow(name), FunctionDescriptor.of(result, args));
  }
}
