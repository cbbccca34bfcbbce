package org.iommufd4j.diff;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import org.iommufd4j.Errno;
import org.iommufd4j.Iommufd;
import org.iommufd4j.diff.OpSequence.Buffer;
import org.iommufd4j.diff.OpSequence.Ioctl;
import org.iommufd4j.diff.OpSequence.Pointer;
import org.iommufd4j.kernel.LibC;

/**
 * Runs one {@link OpSequence} on two {@link Iommufd}s side by side (the emulator and the real
 * kernel, or two emulator configurations) and reports the first difference: the result ({@code 0}
 * or {@code -errno}), the struct bytes written back (pointer fields excepted: they hold each side's
 * own addresses), or the bytes of a buffer the ioctl pointed into.
 *
 * <p>Each side gets its own buffers, so output arrays and memory written through the IOMMU are
 * compared too. Buffers sit in pages of their own with inaccessible memory around them, so an op
 * that reaches past one fails alike everywhere. Two emulated sides should each have a host of their
 * own ({@code Configuration.builder().privateHost(true)}): pins and memory-lock charges are
 * machine-wide.
 *
 * <p>The command-line front end is the CLI's {@code diff} command ({@code ./run.sh diff}).
 */
public final class DifferentialRunner {
  private static final ValueLayout.OfLong U64 =
      JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  private static final int PADDING = 64;

  private DifferentialRunner() {}

  /** What one side answered to one ioctl (the buffers it touched are compared in place). */
  public record Outcome(int result, byte[] struct) {
    /** {@code 0}, a positive value, or {@code -ENAME (n)}. */
    public String resultText() {
      return DifferentialRunner.resultText(result);
    }
  }

  /** The first point where the two sides disagree. */
  public record Difference(int index, Ioctl op, String what, String left, String right) {
    /** One paragraph for a human: which op, what differs, both values. */
    public String describe() {
      return "op #"
          + index
          + " "
          + op.requestName()
          + ": "
          + what
          + "\n  left:  "
          + left
          + "\n  right: "
          + right
          + "\n  op:    "
          + op;
    }
  }

  /**
   * The outcome of a run.
   *
   * @param opsRun how many ops ran on both sides (up to and including the first difference)
   * @param left what the left side answered to each op that ran, in order
   */
  public record Report(
      int opsRun, Optional<Difference> difference, List<Outcome> left, List<Outcome> right) {
    public boolean same() {
      return difference.isEmpty();
    }
  }

  /** Runs {@code sequence} on both sides, op by op, stopping at the first difference. */
  public static Report run(OpSequence sequence, Iommufd left, Iommufd right) {
    try (Side l = new Side(sequence, left);
        Side r = new Side(sequence, right)) {
      List<Outcome> leftOutcomes = new ArrayList<>();
      List<Outcome> rightOutcomes = new ArrayList<>();
      List<Ioctl> ops = sequence.ops();
      for (int i = 0; i < ops.size(); i++) {
        Ioctl op = ops.get(i);
        Outcome a = l.execute(op);
        Outcome b = r.execute(op);
        leftOutcomes.add(a);
        rightOutcomes.add(b);
        int index = i;
        Optional<Difference> d = compare(i, op, a, b).or(() -> compareBuffers(index, op, l, r));
        if (d.isPresent()) {
          return new Report(i + 1, d, leftOutcomes, rightOutcomes);
        }
      }
      return new Report(ops.size(), Optional.empty(), leftOutcomes, rightOutcomes);
    }
  }

  /** Runs {@code sequence} on one side only, for a trace of what it answers. */
  public static List<Outcome> runOne(OpSequence sequence, Iommufd iommufd) {
    try (Side side = new Side(sequence, iommufd)) {
      List<Outcome> out = new ArrayList<>();
      for (Ioctl op : sequence.ops()) {
        out.add(side.execute(op));
      }
      return out;
    }
  }

  private static Optional<Difference> compare(int index, Ioctl op, Outcome a, Outcome b) {
    if (a.result() != b.result()) {
      return Optional.of(new Difference(index, op, "result", a.resultText(), b.resultText()));
    }
    int at = Arrays.mismatch(a.struct(), b.struct());
    if (at >= 0) {
      return Optional.of(
          new Difference(
              index,
              op,
              "struct written back differs at offset " + at,
              hex(a.struct()),
              hex(b.struct())));
    }
    return Optional.empty();
  }

  /** The buffers the op pointed into, compared where they lie (they can be large). */
  private static Optional<Difference> compareBuffers(int index, Ioctl op, Side l, Side r) {
    for (String name : new TreeSet<>(op.pointers().stream().map(Pointer::buffer).toList())) {
      MemorySegment x = l.buffers.get(name);
      MemorySegment y = r.buffers.get(name);
      long m = x.mismatch(y);
      if (m >= 0) {
        long from = m & ~15L;
        long to = Math.min(x.byteSize(), from + 32);
        return Optional.of(
            new Difference(
                index,
                op,
                "buffer "
                    + name
                    + " differs at offset 0x"
                    + Long.toHexString(m)
                    + " (bytes 0x"
                    + Long.toHexString(from)
                    + "..)",
                hex(x.asSlice(from, to - from)),
                hex(y.asSlice(from, to - from))));
      }
    }
    return Optional.empty();
  }

  static String resultText(int result) {
    if (result >= 0) {
      return Integer.toString(result);
    }
    try {
      return "-" + Errno.of(-result).name() + " (" + result + ")";
    } catch (IllegalArgumentException e) {
      return Integer.toString(result);
    }
  }

  private static String hex(byte[] bytes) {
    return HexFormat.of().formatHex(bytes);
  }

  private static String hex(MemorySegment bytes) {
    return hex(bytes.toArray(ValueLayout.JAVA_BYTE));
  }

  /** One side's buffers in native memory, and how it runs an op. */
  private static final class Side implements AutoCloseable {
    private final Iommufd iommufd;
    private final Arena arena = Arena.ofConfined();
    private final Map<String, MemorySegment> buffers = new HashMap<>();

    /** (address, length) of each reservation, unmapped on close. */
    private final List<long[]> mappings = new ArrayList<>();

    Side(OpSequence sequence, Iommufd iommufd) {
      this.iommufd = iommufd;
      try {
        for (Buffer b : sequence.buffers()) {
          MemorySegment m = map(b);
          m.fill((byte) b.fill());
          MemorySegment.copy(MemorySegment.ofArray(b.data()), 0, m, 0, b.data().length);
          buffers.put(b.name(), m);
        }
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    /**
     * A buffer in pages of its own, aligned, with inaccessible (PROT_NONE) memory around it: an op
     * that reaches past a buffer faults the same way on every side (EFAULT when pinning), whatever
     * this process happens to have mapped next to it.
     */
    private MemorySegment map(Buffer b) {
      long page = LibC.PAGE_SIZE;
      long span = (b.size() + page - 1) & -page;
      long align = Math.max(b.alignment(), page);
      long reserve = align + span + page;
      long base =
          LibC.mmap(
              0,
              reserve,
              LibC.PROT_NONE,
              LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE,
              -1,
              0);
      if (base < 0) {
        throw new IllegalStateException("mmap of buffer " + b.name() + " failed: errno " + -base);
      }
      mappings.add(new long[] {base, reserve});
      long start = (base + align - 1) & -align;
      int rc = LibC.mprotect(start, span, LibC.PROT_READ | LibC.PROT_WRITE);
      if (rc < 0) {
        throw new IllegalStateException("mprotect of buffer " + b.name() + " failed: errno " + -rc);
      }
      return MemorySegment.ofAddress(start).reinterpret(b.size());
    }

    Outcome execute(Ioctl op) {
      byte[] original = op.struct();
      // Zeroed padding after the block: a size word claiming more than the block reads zeros on
      // every side, not whatever happens to follow.
      MemorySegment s = arena.allocate(original.length + PADDING, 8);
      MemorySegment.copy(MemorySegment.ofArray(original), 0, s, 0, original.length);
      for (Pointer p : op.pointers()) {
        s.set(U64, p.offset(), buffers.get(p.buffer()).address() + p.delta());
      }
      int result = iommufd.ioctl(op.request(), s.asSlice(0, original.length));
      byte[] after = s.asSlice(0, original.length).toArray(ValueLayout.JAVA_BYTE);
      for (Pointer p : op.pointers()) {
        // Each side's own addresses: put the symbolic bytes back before comparing.
        if (s.get(U64, p.offset()) == buffers.get(p.buffer()).address() + p.delta()) {
          System.arraycopy(original, p.offset(), after, p.offset(), 8);
        }
      }
      return new Outcome(result, after);
    }

    @Override
    public void close() {
      arena.close();
      for (long[] m : mappings) {
        LibC.munmap(m[0], m[1]);
      }
    }
  }
}
