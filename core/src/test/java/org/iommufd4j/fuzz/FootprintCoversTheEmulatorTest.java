package org.iommufd4j.fuzz;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.trace.Footprint;
import org.iommufd4j.trace.IovaShadow;
import org.iommufd4j.trace.LoggedMemory;
import org.iommufd4j.trace.MemoryLog;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.Dispatcher;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A kernel recording trusts {@link Footprint} to name everything a call may touch. The emulator
 * touches what the kernel does (the conformance tests hold it to that), so over random calls,
 * hostile ones included, every read, write, pin and descriptor of the emulator must lie inside the
 * footprint worked out from the bytes at the argument before the call, with two additions: an
 * access's IOVA read or write touches the memory behind the IOVAs, which {@link IovaShadow} (fed
 * each call, as the recorder feeds it) must name; and attaching a domain to an IOAS pins the pages
 * of areas mapped by earlier calls, named by those calls' footprints (a replay keeps each process's
 * memory, so they are still there). Not covered: syzkaller's IOVA encoding ({@code
 * MOCK_FLAGS_ACCESS_SYZ}), which the shadow does not decode.
 */
class FootprintCoversTheEmulatorTest {
  private static final long PAGE = 4096;

  static LongStream seeds() {
    return LongStream.rangeClosed(1, Long.getLong("footprint.seeds", 12));
  }

  @ParameterizedTest
  @MethodSource("seeds")
  void everyAccessOfARandomCallLiesInItsFootprint(long seed) {
    CallGenerator gen = new CallGenerator(seed);
    int checked = 0;
    try (FuzzWorld world = new FuzzWorld(seed % 3 != 0)) {
      Caller c = world.caller;
      Caller logged =
          new Caller(
              new LoggedMemory(c.pid(), world.memory),
              c.pid(),
              c.uid(),
              c.capSysResource(),
              c.capIpcLock(),
              c.memlockLimit());
      List<Footprint.Pin> mapped = new ArrayList<>();
      IovaShadow shadow = new IovaShadow();
      for (int i = 0; i < 2_000; i++) {
        FuzzCall call = gen.next();
        if (call.request() == FuzzCall.CLOSE_FD) {
          world.execute(call);
          continue;
        }
        for (FuzzCall.Write w : call.writes()) {
          world.memory.write(w.address(), MemorySegment.ofArray(w.bytes()));
        }
        MemorySegment before = window(world, call.arg());
        Footprint fp = Footprint.of(call.request(), call.arg(), before);
        long named =
            fp.namedFdOffset() >= 0 && before.byteSize() >= fp.namedFdOffset() + 4
                ? before.get(JAVA_INT_UNALIGNED, fp.namedFdOffset())
                : 0;
        List<IovaShadow.Range> behindIova = shadow.behindAccessRw(call.request(), before, named);
        MemoryLog log = MemoryLog.begin();
        long result;
        try {
          result = Dispatcher.ioctl(world.context, logged, call.request(), call.arg(), null);
        } finally {
          MemoryLog.end();
        }
        for (MemoryLog.Op op :
            syzkaller(call.request(), before) ? List.<MemoryLog.Op>of() : log.ops()) {
          assertThat(
                  covered(fp, op)
                      || op.kind() == MemoryLog.Kind.PINNABLE
                          && mapped.stream().anyMatch(p -> pinned(p, op))
                      || op.kind() != MemoryLog.Kind.PINNABLE
                          && behindIova.stream().anyMatch(r -> inside(op, r.address(), r.length())))
              .as(
                  "seed %d call %d %s -> %d: %s outside %s %s",
                  seed, i, call.toJson(), result, op, fp, behindIova)
              .isTrue();
          checked++;
        }
        if (result >= 0) {
          mapped.addAll(fp.pins());
        }
        MemorySegment after = window(world, call.arg());
        long made =
            result >= 0 && fp.newFdOffset() >= 0 && after.byteSize() >= fp.newFdOffset() + 4
                ? after.get(JAVA_INT_UNALIGNED, fp.newFdOffset())
                : 0;
        shadow.learn(
            c.pid(), 1, call.request(), before, after.toArray(JAVA_BYTE), result, made, named);
        gen.learn(call, result, world);
      }
    }
    assertThat(checked).isGreaterThan(1_000);
  }

  private static boolean syzkaller(long request, MemorySegment before) {
    return Command.of(request) == Command.IOMMU_TEST_CMD
        && before.byteSize() >= IommuTestCmd.ACCESS_RW_FLAGS + 4
        && (before.get(JAVA_INT_UNALIGNED, IommuTestCmd.OP) == IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW
                && (before.get(JAVA_INT_UNALIGNED, IommuTestCmd.ACCESS_RW_FLAGS)
                        & IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ)
                    != 0
            || before.get(JAVA_INT_UNALIGNED, IommuTestCmd.OP)
                    == IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES
                && (before.get(JAVA_INT_UNALIGNED, IommuTestCmd.ACCESS_PAGES_FLAGS)
                        & IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ)
                    != 0);
  }

  /** What the shim sends: up to 128 bytes at the argument, as far as they are readable. */
  private static MemorySegment window(FuzzWorld world, long arg) {
    byte[] b = new byte[128];
    int n = 0;
    while (n < b.length) {
      int chunk = (int) Math.min(b.length - n, PAGE - ((arg + n) & (PAGE - 1)));
      if (!world.memory.read(arg + n, MemorySegment.ofArray(b).asSlice(n, chunk))) {
        break;
      }
      n += chunk;
    }
    return MemorySegment.ofArray(b).asSlice(0, n);
  }

  private static boolean covered(Footprint fp, MemoryLog.Op op) {
    return switch (op.kind()) {
      case READ -> fp.regions().stream().anyMatch(r -> inside(op, r.address(), r.length()));
      case WRITE ->
          fp.regions().stream().anyMatch(r -> r.written() && inside(op, r.address(), r.length()));
      case PINNABLE -> fp.pins().stream().anyMatch(p -> pinned(p, op));
      case FD -> fp.newFdOffset() >= 0;
      case GETFD -> fp.namedFdOffset() >= 0;
      case EVENTFD, IRQ, DMA -> false; // calls on VFIO devices only, never an iommufd's
    };
  }

  /** Whether pinnable check {@code op} lies in the pages of {@code p}, asking no more access. */
  private static boolean pinned(Footprint.Pin p, MemoryLog.Op op) {
    long first = p.address() & -PAGE;
    return (p.write() || !op.write())
        && inside(op, first, roundUp(p.address() + p.length()) - first);
  }

  private static long roundUp(long a) {
    return (a + PAGE - 1) & -PAGE;
  }

  private static boolean inside(MemoryLog.Op op, long start, long length) {
    return op.length() == 0
        || Long.compareUnsigned(op.address() - start, length) < 0
            && Long.compareUnsigned(op.address() - start + op.length(), length) <= 0;
  }
}
