package org.iommufd4j.bridge;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a device's DMA does to a program's pinned pages through the server's {@link RemoteMemory}:
 * the program sees every byte the server writes into its pinned buffer, and the server reads back
 * what the program holds, whether the pages are shared memory (the default) or reached with {@code
 * process_vm_readv}/{@code writev} ({@code IOMMUFD4J_SHARE=0}). It also prints what one 64 KiB
 * write costs, in one transfer (what {@code Device.dma} does with a run of contiguous pages) and
 * page by page (what it did before), the figures in BENCHMARKS.md's devices section.
 */
class DmaIntoPinnedPagesIT {
  private static final Path NATIVE = Path.of("target/native");
  private static final Path SHIM = NATIVE.resolve("libiommufd4j-shim.so");
  private static final int LENGTH = 64 << 10;
  private static final long SEED = Long.getLong("seed", 20261206L);

  private static Path dir;
  private static BridgeServer server;

  @BeforeAll
  static void startServer() throws IOException {
    dir = Files.createTempDirectory("iommufd4j-dma-");
    server = BridgeServer.start(dir.resolve("sock"), BridgeConfig.defaults());
  }

  @AfterAll
  static void stopServer() throws IOException {
    if (server != null) {
      server.close();
    }
    Files.deleteIfExists(dir);
  }

  @ParameterizedTest(name = "IOMMUFD4J_SHARE={0}")
  @ValueSource(strings = {"1", "0"})
  void theProgramSeesWhatTheServerWritesIntoItsPinnedPages(String share) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                NATIVE.resolve("tests/t_share").toAbsolutePath().toString(),
                "--hold",
                Integer.toString(LENGTH))
            .redirectError(ProcessBuilder.Redirect.INHERIT);
    Shim.configure(pb.environment(), SHIM, server.socketPath());
    pb.environment().put(Shim.ENV_SHARE, share);
    Process program = pb.start();
    try (BufferedReader in =
            new BufferedReader(
                new InputStreamReader(program.getInputStream(), StandardCharsets.US_ASCII));
        OutputStream out = program.getOutputStream();
        Arena arena = Arena.ofConfined()) {
      long address = Long.parseUnsignedLong(in.readLine().strip().replaceFirst("^0x", ""), 16);
      RemoteMemory memory = server.memoryOf((int) program.pid());
      assertThat(memory).as("the program's memory in the server").isNotNull();

      Random random = new Random(SEED + share.hashCode());
      MemorySegment data = arena.allocate(LENGTH, 4096);
      for (int round = 0; round < 3; round++) {
        long sum = 0;
        for (int i = 0; i < LENGTH; i++) {
          byte b = (byte) random.nextInt();
          data.set(ValueLayout.JAVA_BYTE, i, b);
          sum += b & 0xff;
        }
        assertThat(memory.write(address, data)).as("the server's write").isTrue();
        out.write("sum\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        assertThat(Long.parseLong(in.readLine().strip())).as("the program's sum").isEqualTo(sum);
        MemorySegment back = arena.allocate(LENGTH, 4096);
        assertThat(memory.read(address, back)).as("the server's read").isTrue();
        assertThat(back.mismatch(data)).as("first byte read back differently").isEqualTo(-1);
      }
      measure(memory, address, data, share);
    } finally {
      program.getOutputStream().close();
      assertThat(program.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    assertThat(program.exitValue()).as("the program's exit status").isZero();
  }

  /** Prints the cost of a 64 KiB write in one transfer and in 16 page-sized ones. */
  private static void measure(RemoteMemory memory, long address, MemorySegment data, String share)
      throws IOException {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    int n = Integer.getInteger("dma.iterations", 20_000);
    for (boolean perPage : new boolean[] {false, true}) {
      for (int i = 0; i < n / 10; i++) {
        write(memory, address, data, perPage);
      }
      long cpu = threads.getCurrentThreadCpuTime();
      long wall = System.nanoTime();
      for (int i = 0; i < n; i++) {
        write(memory, address, data, perPage);
      }
      double ns = (System.nanoTime() - wall) / (double) n;
      double cpuNs = (threads.getCurrentThreadCpuTime() - cpu) / (double) n;
      System.out.printf(
          "DMA 64 KiB into a program's pinned pages, IOMMUFD4J_SHARE=%s, %s: %.2f us (%.2f GB/s),"
              + " server CPU %.2f us (%.2f GB/s); load %s%n",
          share,
          perPage ? "page by page" : "one transfer",
          ns / 1000,
          LENGTH / ns,
          cpuNs / 1000,
          LENGTH / cpuNs,
          Files.readString(Path.of("/proc/loadavg")).strip());
    }
  }

  private static void write(
      RemoteMemory memory, long address, MemorySegment data, boolean perPage) {
    if (!perPage) {
      memory.write(address, data);
      return;
    }
    for (long off = 0; off < LENGTH; off += 4096) {
      memory.write(address + off, data.asSlice(off, 4096));
    }
  }
}
