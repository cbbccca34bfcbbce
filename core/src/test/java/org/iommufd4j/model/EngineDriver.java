package org.iommufd4j.model;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.iommufd4j.Errno;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.IommufdException;
import org.iommufd4j.IovaRange;
import org.iommufd4j.Mapping;
import org.iommufd4j.Protection;
import org.iommufd4j.RlimitMode;
import org.iommufd4j.model.ReferenceModel.Outcome;
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

/**
 * Runs {@link IoasOp}s on an emulated {@link Iommufd} through either front door and reports the
 * result as a model {@link Outcome}. The raw door also checks what the call wrote back into the
 * argument struct (output fields on success, nothing on failure; iommufd_private.h:
 * iommufd_ucmd_respond()).
 */
final class EngineDriver {
  enum Door {
    TYPED,
    RAW
  }

  /** A typed handle, and the model IOAS it was created for (its identity, for close()). */
  record Handle(Ioas engine, int id, Object modelTarget) {}

  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final byte UNTOUCHED = (byte) 0xa5;

  private final Iommufd fd;
  private final WindowMemory memory;
  private final Arena arena;
  private final IntFunction<Object> modelTargetOf;
  private final List<Handle> handles = new ArrayList<>();

  /** Extra zero bytes appended after raw structs of the next call (tests the size rules too). */
  private int zeroTail;

  /** Problems found in the write-back of the last raw call. */
  private final List<String> writeBackProblems = new ArrayList<>();

  /** The handle a typed call is made on and, for COPY, the source handle. */
  private Handle primary;

  private Handle source;

  /**
   * @param modelTargetOf the model IOAS for an id, asked right after the engine created or looked
   *     up a handle (the model has already run the operation)
   */
  EngineDriver(Iommufd fd, WindowMemory memory, Arena arena, IntFunction<Object> modelTargetOf) {
    this.fd = fd;
    this.memory = memory;
    this.arena = arena;
    this.modelTargetOf = modelTargetOf;
  }

  List<Handle> handles() {
    return handles;
  }

  /** The newest handle made for {@code id} (possibly of a since destroyed IOAS), or null. */
  Handle handleFor(int id) {
    for (int i = handles.size() - 1; i >= 0; i--) {
      if (handles.get(i).id() == id) {
        return handles.get(i);
      }
    }
    return null;
  }

  void zeroTail(int bytes) {
    this.zeroTail = bytes;
  }

  List<String> writeBackProblems() {
    return writeBackProblems;
  }

  private static Protection protection(int flags) {
    return switch (flags & (ReferenceModel.MAP_READABLE | ReferenceModel.MAP_WRITEABLE)) {
      case ReferenceModel.MAP_READABLE -> Protection.READ;
      case ReferenceModel.MAP_WRITEABLE -> Protection.WRITE;
      case ReferenceModel.MAP_READABLE | ReferenceModel.MAP_WRITEABLE -> Protection.READ_WRITE;
      default -> null;
    };
  }

  private static boolean typedMapFlags(int flags, long iova) {
    return (flags & ~7) == 0
        && protection(flags) != null
        && ((flags & ReferenceModel.MAP_FIXED_IOVA) != 0 || iova == 0);
  }

  /**
   * Whether the typed API can issue {@code op} with exactly these arguments, given handles for the
   * IOASes it names.
   */
  static boolean typedCanExpress(IoasOp op) {
    return switch (op) {
      case IoasOp.Alloc a -> a.flags() == 0;
      case IoasOp.Destroy d -> true;
      case IoasOp.CloseHandle c -> true;
      case IoasOp.Lookup l -> true;
      case IoasOp.Map m -> m.reserved() == 0 && typedMapFlags(m.flags(), m.iova());
      case IoasOp.Copy c -> typedMapFlags(c.flags(), c.dstIova());
      case IoasOp.Unmap u -> true;
      case IoasOp.IovaRanges r ->
          r.reserved() == 0 && r.capacity() == -1 && r.writableSlots() == Integer.MAX_VALUE;
      case IoasOp.AllowIovas a -> a.reserved() == 0 && a.numIovas() == a.ranges().size();
      case IoasOp.Option o -> o.reserved() == 0 && typedCanExpressOption(o);
      case IoasOp.AddReserved r -> false;
    };
  }

  private static boolean typedCanExpressOption(IoasOp.Option o) {
    boolean getOrSet01 =
        o.op() == ReferenceModel.OPTION_OP_GET
            || (o.op() == ReferenceModel.OPTION_OP_SET && (o.val64() == 0 || o.val64() == 1));
    if (o.optionId() == ReferenceModel.OPTION_RLIMIT_MODE) {
      return o.objectId() == 0 && getOrSet01;
    }
    return o.optionId() == ReferenceModel.OPTION_HUGE_PAGES && getOrSet01;
  }

  /**
   * Runs {@code op} on the engine. The typed door calls it on handle number {@code handle} (and,
   * for COPY, takes handle {@code srcHandle} as the source); it requires {@link #typedCanExpress}.
   */
  Outcome run(IoasOp op, Door door, int handle, int srcHandle) {
    writeBackProblems.clear();
    if (door == Door.RAW) {
      return raw(op);
    }
    primary = handle < 0 ? null : handles.get(handle);
    source = srcHandle < 0 ? null : handles.get(srcHandle);
    return typed(op);
  }

  // ---- the typed API -------------------------------------------------------------------------

  private interface TypedCall {
    Outcome call();
  }

  private static Outcome typed(TypedCall call) {
    try {
      return call.call();
    } catch (IommufdException e) {
      return Outcome.fail(e.errno());
    }
  }

  private Ioas handle(int id) {
    if (primary == null || primary.id() != id) {
      throw new AssertionError("typed call on IOAS " + id + " without its handle");
    }
    return primary.engine();
  }

  private Outcome addHandle(Ioas h) {
    handles.add(new Handle(h, h.id(), modelTargetOf.apply(h.id())));
    return Outcome.ok(h.id());
  }

  private Outcome typed(IoasOp op) {
    return typed(
        () ->
            switch (op) {
              case IoasOp.Alloc a -> addHandle(fd.createIoas());
              case IoasOp.Destroy d -> {
                fd.destroy(d.id());
                yield Outcome.ok(0);
              }
              case IoasOp.CloseHandle c -> {
                handles.get(c.handle()).engine().close();
                yield Outcome.ok(0);
              }
              case IoasOp.Lookup l -> {
                addHandle(fd.ioas(l.id()));
                yield Outcome.ok(0);
              }
              case IoasOp.Map m -> {
                Ioas h = handle(m.ioasId());
                Mapping r =
                    (m.flags() & ReferenceModel.MAP_FIXED_IOVA) != 0
                        ? h.mapFixed(m.iova(), m.userVa(), m.length(), protection(m.flags()))
                        : h.map(m.userVa(), m.length(), protection(m.flags()));
                yield mappingOutcome(r, m.length(), m.iova(), m.flags());
              }
              case IoasOp.Copy c -> {
                Ioas dst = handle(c.dstIoasId());
                Ioas src = source.engine();
                Mapping r =
                    (c.flags() & ReferenceModel.MAP_FIXED_IOVA) != 0
                        ? dst.copyFixed(
                            c.dstIova(), src, c.srcIova(), c.length(), protection(c.flags()))
                        : dst.copy(src, c.srcIova(), c.length(), protection(c.flags()));
                yield mappingOutcome(r, c.length(), c.dstIova(), c.flags());
              }
              case IoasOp.Unmap u -> {
                Ioas h = handle(u.ioasId());
                yield Outcome.ok(
                    u.iova() == 0 && u.length() == -1
                        ? h.unmapAll()
                        : h.unmap(u.iova(), u.length()));
              }
              case IoasOp.IovaRanges r -> {
                org.iommufd4j.IovaRanges result = handle(r.ioasId()).iovaRanges();
                yield new Outcome(
                    null, result.ranges().size(), result.ranges(), result.alignment());
              }
              case IoasOp.AllowIovas a -> {
                handle(a.ioasId()).allowIovas(a.ranges());
                yield Outcome.ok(0);
              }
              case IoasOp.Option o -> typedOption(o);
              case IoasOp.AddReserved r -> throw new AssertionError("raw only: " + r);
            });
  }

  private Outcome mappingOutcome(Mapping r, long length, long fixedIova, int flags) {
    if (r.length() != length) {
      writeBackProblems.add("Mapping.length " + r.length() + " != " + length);
    }
    if ((flags & ReferenceModel.MAP_FIXED_IOVA) != 0 && r.iova() != fixedIova) {
      writeBackProblems.add("fixed Mapping.iova moved");
    }
    return Outcome.ok(r.iova());
  }

  private Outcome typedOption(IoasOp.Option o) {
    boolean get = o.op() == ReferenceModel.OPTION_OP_GET;
    if (o.optionId() == ReferenceModel.OPTION_RLIMIT_MODE) {
      if (get) {
        return Outcome.ok(fd.rlimitMode() == RlimitMode.PROCESS ? 1 : 0);
      }
      fd.setRlimitMode(o.val64() == 1 ? RlimitMode.PROCESS : RlimitMode.USER);
      return Outcome.ok(o.val64());
    }
    Ioas h = handle(o.objectId());
    if (get) {
      return Outcome.ok(h.hugePages() ? 1 : 0);
    }
    h.setHugePages(o.val64() == 1);
    return Outcome.ok(o.val64());
  }

  // ---- the byte ABI --------------------------------------------------------------------------

  /** One raw call: the struct, its bytes before the call, and the return value. */
  private record RawCall(MemorySegment struct, byte[] before, int rc) {
    Errno errno() {
      return rc < 0 ? Errno.of(-rc) : null;
    }
  }

  private RawCall call(Command cmd, Consumer<MemorySegment> fill, MemorySegment window) {
    int size = cmd.ksize() + zeroTail;
    MemorySegment s = arena.allocate(size, 8);
    s.set(U32, 0, size);
    fill.accept(s);
    byte[] before = s.toArray(JAVA_BYTE);
    memory.open(window);
    int rc;
    try {
      rc = fd.ioctl(cmd.request(), s);
    } finally {
      memory.open(null);
    }
    if (rc > 0) {
      writeBackProblems.add(cmd + " returned positive " + rc);
    }
    return new RawCall(s, before, rc);
  }

  /** Checks that only bytes {@code [offset, offset + length)} pairs may have changed. */
  private void expectWriteBack(RawCall c, long... changeable) {
    byte[] after = c.struct().toArray(JAVA_BYTE);
    for (int i = 0; i < after.length; i++) {
      boolean mayChange = false;
      for (int k = 0; k < changeable.length; k += 2) {
        if (i >= changeable[k] && i < changeable[k] + changeable[k + 1]) {
          mayChange = true;
        }
      }
      if (!mayChange && after[i] != c.before()[i]) {
        writeBackProblems.add(
            "byte " + i + " of the struct changed: " + c.before()[i] + " -> " + after[i]);
        return;
      }
    }
  }

  private Outcome raw(IoasOp op) {
    return switch (op) {
      case IoasOp.Alloc a -> {
        RawCall c =
            call(Command.IOMMU_IOAS_ALLOC, s -> s.set(U32, IommuIoasAlloc.FLAGS, a.flags()), null);
        if (c.rc() != 0) {
          expectWriteBack(c);
          yield Outcome.fail(c.errno());
        }
        expectWriteBack(c, IommuIoasAlloc.OUT_IOAS_ID, 4);
        int id = c.struct().get(U32, IommuIoasAlloc.OUT_IOAS_ID);
        handles.add(new Handle(fd.ioas(id), id, modelTargetOf.apply(id)));
        yield Outcome.ok(id);
      }
      case IoasOp.Destroy d -> {
        RawCall c = call(Command.IOMMU_DESTROY, s -> s.set(U32, IommuDestroy.ID, d.id()), null);
        expectWriteBack(c);
        yield c.rc() == 0 ? Outcome.ok(0) : Outcome.fail(c.errno());
      }
      case IoasOp.Map m -> {
        RawCall c =
            call(
                Command.IOMMU_IOAS_MAP,
                s -> {
                  s.set(U32, IommuIoasMap.FLAGS, m.flags());
                  s.set(U32, IommuIoasMap.IOAS_ID, m.ioasId());
                  s.set(U32, IommuIoasMap.RESERVED, m.reserved());
                  s.set(U64, IommuIoasMap.USER_VA, m.userVa());
                  s.set(U64, IommuIoasMap.LENGTH, m.length());
                  s.set(U64, IommuIoasMap.IOVA, m.iova());
                },
                null);
        yield outputU64(c, IommuIoasMap.IOVA);
      }
      case IoasOp.Copy cp -> {
        RawCall c =
            call(
                Command.IOMMU_IOAS_COPY,
                s -> {
                  s.set(U32, IommuIoasCopy.FLAGS, cp.flags());
                  s.set(U32, IommuIoasCopy.DST_IOAS_ID, cp.dstIoasId());
                  s.set(U32, IommuIoasCopy.SRC_IOAS_ID, cp.srcIoasId());
                  s.set(U64, IommuIoasCopy.LENGTH, cp.length());
                  s.set(U64, IommuIoasCopy.DST_IOVA, cp.dstIova());
                  s.set(U64, IommuIoasCopy.SRC_IOVA, cp.srcIova());
                },
                null);
        yield outputU64(c, IommuIoasCopy.DST_IOVA);
      }
      case IoasOp.Unmap u -> {
        RawCall c =
            call(
                Command.IOMMU_IOAS_UNMAP,
                s -> {
                  s.set(U32, IommuIoasUnmap.IOAS_ID, u.ioasId());
                  s.set(U64, IommuIoasUnmap.IOVA, u.iova());
                  s.set(U64, IommuIoasUnmap.LENGTH, u.length());
                },
                null);
        yield outputU64(c, IommuIoasUnmap.LENGTH);
      }
      case IoasOp.IovaRanges r -> rawIovaRanges(r);
      case IoasOp.AllowIovas a -> rawAllowIovas(a);
      case IoasOp.Option o -> {
        RawCall c =
            call(
                Command.IOMMU_OPTION,
                s -> {
                  s.set(U32, IommuOption.OPTION_ID, o.optionId());
                  s.set(U16, IommuOption.OP, (short) o.op());
                  s.set(U16, IommuOption.RESERVED, (short) o.reserved());
                  s.set(U32, IommuOption.OBJECT_ID, o.objectId());
                  s.set(U64, IommuOption.VAL64, o.val64());
                },
                null);
        yield outputU64(c, IommuOption.VAL64);
      }
      case IoasOp.AddReserved r -> {
        RawCall c =
            call(
                Command.IOMMU_TEST_CMD,
                s -> {
                  s.set(U32, IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED);
                  s.set(U32, IommuTestCmd.ID, r.ioasId());
                  s.set(U64, IommuTestCmd.ADD_RESERVED_START, r.start());
                  s.set(U64, IommuTestCmd.ADD_RESERVED_LENGTH, r.length());
                },
                null);
        expectWriteBack(c);
        yield c.rc() == 0 ? Outcome.ok(0) : Outcome.fail(c.errno());
      }
      case IoasOp.CloseHandle c -> throw new AssertionError("typed only: " + c);
      case IoasOp.Lookup l -> throw new AssertionError("typed only: " + l);
    };
  }

  /** A call whose only output is one u64 field, written back on success only. */
  private Outcome outputU64(RawCall c, long offset) {
    if (c.rc() != 0) {
      expectWriteBack(c);
      return Outcome.fail(c.errno());
    }
    expectWriteBack(c, offset, 8);
    return Outcome.ok(c.struct().get(U64, offset));
  }

  private Outcome rawIovaRanges(IoasOp.IovaRanges r) {
    int slots = r.writableSlots();
    if (slots > 4096) {
      throw new AssertionError("the raw door needs a real array: " + r);
    }
    MemorySegment array =
        slots == 0 ? MemorySegment.NULL : arena.allocate((long) slots * IommuIovaRange.SIZE, 8);
    array.fill(UNTOUCHED);
    RawCall c =
        call(
            Command.IOMMU_IOAS_IOVA_RANGES,
            s -> {
              s.set(U32, IommuIoasIovaRanges.IOAS_ID, r.ioasId());
              s.set(U32, IommuIoasIovaRanges.NUM_IOVAS, r.capacity());
              s.set(U32, IommuIoasIovaRanges.RESERVED, r.reserved());
              s.set(U64, IommuIoasIovaRanges.ALLOWED_IOVAS, array.address());
            },
            slots == 0 ? null : array);
    Errno errno = c.errno();
    if (errno != null && errno != Errno.EMSGSIZE) {
      expectWriteBack(c);
      return Outcome.fail(errno);
    }
    expectWriteBack(c, IommuIoasIovaRanges.NUM_IOVAS, 4, IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT, 8);
    long count = Integer.toUnsignedLong(c.struct().get(U32, IommuIoasIovaRanges.NUM_IOVAS));
    long filled = Math.min(count, Integer.toUnsignedLong(r.capacity()));
    List<IovaRange> written = new ArrayList<>();
    for (long i = 0; i < slots; i++) {
      MemorySegment rec = array.asSlice(i * IommuIovaRange.SIZE, IommuIovaRange.SIZE);
      if (i < filled) {
        written.add(
            new IovaRange(rec.get(U64, IommuIovaRange.START), rec.get(U64, IommuIovaRange.LAST)));
      } else {
        byte[] b = rec.toArray(JAVA_BYTE);
        byte[] untouched = new byte[b.length];
        Arrays.fill(untouched, UNTOUCHED);
        if (!Arrays.equals(b, untouched)) {
          writeBackProblems.add("array slot " + i + " written beyond the count");
        }
      }
    }
    return new Outcome(
        errno, count, written, c.struct().get(U64, IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT));
  }

  private Outcome rawAllowIovas(IoasOp.AllowIovas a) {
    int n = a.ranges().size();
    MemorySegment array =
        n == 0 ? MemorySegment.NULL : arena.allocate((long) n * IommuIovaRange.SIZE, 8);
    for (int i = 0; i < n; i++) {
      array.set(
          U64, (long) i * IommuIovaRange.SIZE + IommuIovaRange.START, a.ranges().get(i).start());
      array.set(
          U64, (long) i * IommuIovaRange.SIZE + IommuIovaRange.LAST, a.ranges().get(i).last());
    }
    RawCall c =
        call(
            Command.IOMMU_IOAS_ALLOW_IOVAS,
            s -> {
              s.set(U32, IommuIoasAllowIovas.IOAS_ID, a.ioasId());
              s.set(U32, IommuIoasAllowIovas.NUM_IOVAS, a.numIovas());
              s.set(U32, IommuIoasAllowIovas.RESERVED, a.reserved());
              s.set(U64, IommuIoasAllowIovas.ALLOWED_IOVAS, array.address());
            },
            n == 0 ? null : array);
    expectWriteBack(c);
    return c.rc() == 0 ? Outcome.ok(0) : Outcome.fail(c.errno());
  }
}
