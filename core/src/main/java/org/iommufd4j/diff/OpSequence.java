package org.iommufd4j.diff;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.UnaryOperator;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuIovaRange;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;

/**
 * A sequence of raw ioctls that can run on any {@link org.iommufd4j.Iommufd}: each is a request
 * number and the struct's bytes, with the struct's pointer fields ({@code user_va}, {@code
 * allowed_iovas}, ...) naming {@link Buffer}s instead of addresses. Every run allocates the buffers
 * afresh and patches their addresses in, so one sequence runs on the emulator in this JVM and on
 * the kernel in another machine alike.
 *
 * <p>Text form (one item per line, {@code #} starts a comment), as {@link #format()} writes and
 * {@link #parse(String)} reads:
 *
 * <pre>
 * iommufd4j-ops 1
 * buffer data 0x200000 fill=0x5a
 * buffer allowed 0x10 data=0000100000000000ffffff0000000000
 * ioctl IOMMU_IOAS_ALLOC 0c000000000000000000000000
 * ioctl IOMMU_IOAS_MAP 28000000060000000100000000000000...  @16=data+0x0
 * </pre>
 *
 * <p>A request is a {@link Command} name or a number ({@code 0x3b85}); bytes are hex;
 * {@code @OFFSET=BUFFER+DELTA} writes the buffer's address plus DELTA as a u64 at OFFSET before the
 * call. Buffers are aligned to their size rounded up to a power of two (at most 1 GiB), so
 * automatic IOVAs, which follow the user address's alignment, come out the same everywhere.
 */
public record OpSequence(List<Buffer> buffers, List<Ioctl> ops) {
  /** The first line of the text form. */
  public static final String HEADER = "iommufd4j-ops 1";

  public OpSequence {
    buffers = List.copyOf(buffers);
    ops = List.copyOf(ops);
    Map<String, Buffer> byName = new LinkedHashMap<>();
    for (Buffer b : buffers) {
      if (byName.put(b.name(), b) != null) {
        throw new IllegalArgumentException("buffer " + b.name() + " declared twice");
      }
    }
    for (Ioctl op : ops) {
      for (Pointer p : op.pointers()) {
        if (!byName.containsKey(p.buffer())) {
          throw new IllegalArgumentException(
              "ioctl " + op.requestName() + " names unknown buffer " + p.buffer());
        }
      }
    }
  }

  /**
   * Memory the ops point into: {@code size} bytes, every byte {@code fill} and then {@code data} at
   * offset 0 at the start of a run.
   */
  public record Buffer(String name, long size, int fill, byte[] data) {
    public Buffer {
      Objects.requireNonNull(name, "name");
      if (!name.matches("[A-Za-z_][A-Za-z0-9_.-]*")) {
        throw new IllegalArgumentException("buffer name " + name);
      }
      if (size <= 0) {
        throw new IllegalArgumentException("buffer " + name + " size=" + size);
      }
      fill &= 0xff;
      data = data == null ? new byte[0] : data.clone();
      if (data.length > size) {
        throw new IllegalArgumentException("buffer " + name + ": data longer than the buffer");
      }
    }

    public Buffer(String name, long size, int fill) {
      this(name, size, fill, null);
    }

    @Override
    public byte[] data() {
      return data.clone();
    }

    /** The alignment of the buffer in every run: its size rounded up to a power of two. */
    public long alignment() {
      long pow2 = Long.highestOneBit(size) == size ? size : Long.highestOneBit(size) << 1;
      return Math.clamp(pow2, 4096, 1L << 30);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Buffer b
          && b.name.equals(name)
          && b.size == size
          && b.fill == fill
          && Arrays.equals(b.data, data);
    }

    @Override
    public int hashCode() {
      return Objects.hash(name, size, fill, Arrays.hashCode(data));
    }
  }

  /** A u64 at {@code offset} of the struct that holds the address of {@code buffer + delta}. */
  public record Pointer(int offset, String buffer, long delta) {
    public Pointer {
      Objects.requireNonNull(buffer, "buffer");
      if (offset < 0) {
        throw new IllegalArgumentException("offset=" + offset);
      }
    }
  }

  /** One {@code ioctl(fd, request, struct)}. */
  public record Ioctl(long request, byte[] struct, List<Pointer> pointers) {
    public Ioctl {
      struct = struct.clone();
      pointers = List.copyOf(pointers);
      for (Pointer p : pointers) {
        if (p.offset() + 8 > struct.length) {
          throw new IllegalArgumentException(
              "pointer at " + p.offset() + " outside the " + struct.length + "-byte struct");
        }
      }
    }

    @Override
    public byte[] struct() {
      return struct.clone();
    }

    public String requestName() {
      return Command.nameOf(request);
    }

    /** Whether byte {@code i} of the struct belongs to a pointer field (an address per run). */
    public boolean isPointerByte(int i) {
      for (Pointer p : pointers) {
        if (i >= p.offset() && i < p.offset() + 8) {
          return true;
        }
      }
      return false;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Ioctl other
          && other.request == request
          && Arrays.equals(other.struct, struct)
          && other.pointers.equals(pointers);
    }

    @Override
    public int hashCode() {
      return Objects.hash(request, Arrays.hashCode(struct), pointers);
    }

    @Override
    public String toString() {
      return formatLine(this);
    }
  }

  // ---- text form -------------------------------------------------------------------------

  /** The text form; {@link #parse(String)} reads it back to an equal sequence. */
  public String format() {
    StringBuilder out = new StringBuilder(HEADER).append('\n');
    for (Buffer b : buffers) {
      out.append("buffer ").append(b.name()).append(" 0x").append(Long.toHexString(b.size()));
      if (b.fill() != 0) {
        out.append(" fill=0x").append(Integer.toHexString(b.fill()));
      }
      if (b.data.length > 0) {
        out.append(" data=").append(HexFormat.of().formatHex(b.data));
      }
      out.append('\n');
    }
    for (Ioctl op : ops) {
      out.append(formatLine(op)).append('\n');
    }
    return out.toString();
  }

  private static String formatLine(Ioctl op) {
    StringBuilder out =
        new StringBuilder("ioctl ")
            .append(op.requestName())
            .append(' ')
            .append(HexFormat.of().formatHex(op.struct));
    for (Pointer p : op.pointers()) {
      out.append(" @")
          .append(p.offset())
          .append('=')
          .append(p.buffer())
          .append("+0x")
          .append(Long.toHexString(p.delta()));
    }
    return out.toString();
  }

  /**
   * Reads the text form.
   *
   * @throws IllegalArgumentException naming the line of the first error
   */
  public static OpSequence parse(String text) {
    List<Buffer> buffers = new ArrayList<>();
    List<Ioctl> ops = new ArrayList<>();
    String[] lines = text.split("\n", -1);
    boolean header = false;
    for (int n = 0; n < lines.length; n++) {
      String line = lines[n];
      int hash = line.indexOf('#');
      line = (hash >= 0 ? line.substring(0, hash) : line).strip();
      if (line.isEmpty()) {
        continue;
      }
      try {
        if (!header) {
          if (!line.equals(HEADER)) {
            throw new IllegalArgumentException("expected \"" + HEADER + "\"");
          }
          header = true;
          continue;
        }
        String[] w = line.split("\\s+");
        switch (w[0]) {
          case "buffer" -> buffers.add(parseBuffer(w));
          case "ioctl" -> ops.add(parseIoctl(w));
          default -> throw new IllegalArgumentException("unknown item " + w[0]);
        }
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("line " + (n + 1) + ": " + e.getMessage(), e);
      }
    }
    if (!header) {
      throw new IllegalArgumentException("empty: no \"" + HEADER + "\" line");
    }
    return new OpSequence(buffers, ops);
  }

  private static Buffer parseBuffer(String[] w) {
    if (w.length < 3) {
      throw new IllegalArgumentException("usage: buffer NAME SIZE [fill=0xNN] [data=HEX]");
    }
    int fill = 0;
    byte[] data = null;
    for (int i = 3; i < w.length; i++) {
      if (w[i].startsWith("fill=")) {
        fill = (int) number(w[i].substring(5));
      } else if (w[i].startsWith("data=")) {
        data = HexFormat.of().parseHex(w[i].substring(5));
      } else {
        throw new IllegalArgumentException("expected fill=0xNN or data=HEX, got " + w[i]);
      }
    }
    return new Buffer(w[1], number(w[2]), fill, data);
  }

  private static Ioctl parseIoctl(String[] w) {
    if (w.length < 3) {
      throw new IllegalArgumentException("usage: ioctl REQUEST HEXBYTES [@OFFSET=BUFFER+DELTA]...");
    }
    long request = request(w[1]);
    byte[] struct = HexFormat.of().parseHex(w[2]);
    List<Pointer> pointers = new ArrayList<>();
    for (int i = 3; i < w.length; i++) {
      String p = w[i];
      int eq = p.indexOf('=');
      if (!p.startsWith("@") || eq < 0) {
        throw new IllegalArgumentException("expected @OFFSET=BUFFER+DELTA, got " + p);
      }
      String target = p.substring(eq + 1);
      int plus = target.indexOf('+');
      String buffer = plus < 0 ? target : target.substring(0, plus);
      long delta = plus < 0 ? 0 : number(target.substring(plus + 1));
      pointers.add(new Pointer((int) number(p.substring(1, eq)), buffer, delta));
    }
    return new Ioctl(request, struct, pointers);
  }

  private static long request(String word) {
    for (Command c : Command.values()) {
      if (c.name().equals(word)) {
        return c.request();
      }
    }
    return number(word);
  }

  private static long number(String word) {
    return word.startsWith("0x") || word.startsWith("0X")
        ? Long.parseUnsignedLong(word.substring(2), 16)
        : Long.parseLong(word);
  }

  // ---- building sequences in Java --------------------------------------------------------

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Builds a sequence with helpers for the common commands; each fills the struct exactly as a C
   * program would ({@code size} = the kernel's struct size, everything else zero unless given).
   */
  public static final class Builder {
    private final List<Buffer> buffers = new ArrayList<>();
    private final List<Ioctl> ops = new ArrayList<>();

    private Builder() {}

    public Builder buffer(String name, long size) {
      return buffer(name, size, 0);
    }

    public Builder buffer(String name, long size, int fill) {
      buffers.add(new Buffer(name, size, fill));
      return this;
    }

    /** Any ioctl, as given. */
    public Builder ioctl(long request, byte[] struct, Pointer... pointers) {
      ops.add(new Ioctl(request, struct, List.of(pointers)));
      return this;
    }

    private Builder add(Struct s, Pointer... pointers) {
      return ioctl(s.request(), s.bytes(), pointers);
    }

    public Builder ioasAlloc() {
      return add(IommuIoasAlloc.of(Struct.HEAP));
    }

    public Builder destroy(int id) {
      return add(IommuDestroy.of(Struct.HEAP, id));
    }

    /** MAP of {@code length} bytes at {@code buffer + delta}; {@code flags} as in the uapi. */
    public Builder map(int ioasId, int flags, String buffer, long delta, long length, long iova) {
      return add(
          IommuIoasMap.of(Struct.HEAP, flags, ioasId, 0, length, iova),
          new Pointer((int) IommuIoasMap.USER_VA, buffer, delta));
    }

    public Builder copy(
        int dstIoasId, int srcIoasId, int flags, long length, long dstIova, long srcIova) {
      return add(
          IommuIoasCopy.of(Struct.HEAP, flags, dstIoasId, srcIoasId, length, dstIova, srcIova));
    }

    public Builder unmap(int ioasId, long iova, long length) {
      return add(IommuIoasUnmap.of(Struct.HEAP, ioasId, iova, length));
    }

    /** IOVA_RANGES with room for {@code capacity} ranges in {@code buffer} (null: NULL, 0). */
    public Builder iovaRanges(int ioasId, String buffer, int capacity) {
      Struct s = IommuIoasIovaRanges.of(Struct.HEAP, ioasId, capacity, 0);
      return buffer == null
          ? add(s)
          : add(s, new Pointer((int) IommuIoasIovaRanges.ALLOWED_IOVAS, buffer, 0));
    }

    /**
     * ALLOW_IOVAS of {@code startLastPairs}: declares a buffer {@code buffer} holding them as
     * {@code struct iommu_iova_range}s and points {@code allowed_iovas} at it (NULL when empty).
     */
    public Builder allowIovas(int ioasId, String buffer, long... startLastPairs) {
      int count = startLastPairs.length / 2;
      Struct s = IommuIoasAllowIovas.of(Struct.HEAP, ioasId, count, 0);
      if (count == 0) {
        return add(s);
      }
      Struct ranges = IommuIovaRange.array(Struct.HEAP, count);
      for (int i = 0; i < count; i++) {
        ranges.u64((long) i * IommuIovaRange.SIZE + IommuIovaRange.START, startLastPairs[2 * i]);
        ranges.u64((long) i * IommuIovaRange.SIZE + IommuIovaRange.LAST, startLastPairs[2 * i + 1]);
      }
      buffers.add(new Buffer(buffer, ranges.segment().byteSize(), 0, ranges.bytes()));
      return add(s, new Pointer((int) IommuIoasAllowIovas.ALLOWED_IOVAS, buffer, 0));
    }

    public Builder option(int optionId, int op, int objectId, long val64) {
      return add(IommuOption.of(Struct.HEAP, optionId, op, objectId, val64));
    }

    /** The test ABI's MOCK_DOMAIN on IOAS {@code ioasId} (kernels with IOMMUFD_TEST). */
    public Builder mockDomain(int ioasId) {
      return add(IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, ioasId));
    }

    /** The test ABI's ADD_RESERVED of {@code [start, start + length)} on IOAS {@code ioasId}. */
    public Builder addReserved(int ioasId, long start, long length) {
      return add(
          IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED, ioasId)
              .u64(IommuTestCmd.ADD_RESERVED_START, start)
              .u64(IommuTestCmd.ADD_RESERVED_LENGTH, length));
    }

    /** Replaces the last op added by {@code change} of it (for generators that mutate). */
    Builder replaceLast(UnaryOperator<Ioctl> change) {
      ops.set(ops.size() - 1, change.apply(ops.get(ops.size() - 1)));
      return this;
    }

    public OpSequence build() {
      return new OpSequence(buffers, ops);
    }
  }

  /** Size of one {@code struct iommu_iova_range}, for sizing range buffers. */
  public static final int IOVA_RANGE_SIZE = IommuIovaRange.SIZE;
}
