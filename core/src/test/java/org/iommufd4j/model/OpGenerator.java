package org.iommufd4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.IovaRange;
import org.iommufd4j.model.EngineDriver.Door;
import org.iommufd4j.model.ReferenceModel.Area;

/**
 * Draws random operations biased towards the interesting cases: small page-aligned lengths in a
 * crowded low IOVA region, misaligned values, 0 and 2^64 - 1, addresses near both ends of the
 * space, overlapping fixed maps, copies and unmaps of sub-ranges spanning several areas, hints with
 * assorted low bits, allowed lists that touch, overlap or are invalid, huge pages on/off. It looks
 * only at the model's state, never at the engine's.
 */
final class OpGenerator {
  static final long U64_MAX = -1L;
  static final long PAGE = 4096;
  static final long MIB2 = 2L << 20;

  /** A typical user address: 64 MiB aligned, so hints give large alignments. */
  static final long USER_BASE = 0x7f12_3400_0000L;

  /**
   * An operation and the front door it goes through; a typed call is made on handle number {@code
   * handle} (and {@code srcHandle}, the source of a COPY), -1 when there is none.
   */
  record Step(IoasOp op, Door door, int handle, int srcHandle) {}

  private final SplittableRandom rnd;
  private final ReferenceModel model;
  private final EngineDriver driver;
  private final int typedPercent;

  OpGenerator(SplittableRandom rnd, ReferenceModel model, EngineDriver driver, int typedPercent) {
    this.rnd = rnd;
    this.model = model;
    this.driver = driver;
    this.typedPercent = typedPercent;
  }

  private int n(int bound) {
    return rnd.nextInt(bound);
  }

  private boolean chance(int percent) {
    return rnd.nextInt(100) < percent;
  }

  private static long page(long k) {
    return k * PAGE;
  }

  private <T> T any(List<T> list) {
    return list.get(n(list.size()));
  }

  Step next() {
    boolean typed = chance(typedPercent);
    IoasOp op = nextOp(!typed);
    if (op instanceof IoasOp.CloseHandle || op instanceof IoasOp.Lookup) {
      return new Step(op, Door.TYPED, -1, -1);
    }
    if (!typed || !EngineDriver.typedCanExpress(op)) {
      return raw(op);
    }
    // The typed API names IOASes by handle: usually the newest one for the id, sometimes any
    // handle at all, including ones whose IOAS was destroyed (and whose id may be reused).
    int handle = pickHandle(primaryId(op));
    int srcHandle = op instanceof IoasOp.Copy c ? pickHandle(c.srcIoasId()) : -1;
    if (primaryId(op) != null && handle < 0 || op instanceof IoasOp.Copy && srcHandle < 0) {
      return raw(op);
    }
    if (handle >= 0) {
      op = withPrimaryId(op, driver.handles().get(handle).id());
    }
    if (op instanceof IoasOp.Copy c && srcHandle >= 0) {
      op =
          new IoasOp.Copy(
              c.flags(),
              c.dstIoasId(),
              driver.handles().get(srcHandle).id(),
              c.length(),
              c.dstIova(),
              c.srcIova());
    }
    return new Step(op, Door.TYPED, handle, srcHandle);
  }

  /** {@code op} through the byte ABI; a typed IOVA_RANGES gets a real array of 16 records. */
  private static Step raw(IoasOp op) {
    if (op instanceof IoasOp.IovaRanges r && r.writableSlots() == Integer.MAX_VALUE) {
      op = new IoasOp.IovaRanges(r.ioasId(), r.reserved(), r.capacity(), 16);
    }
    return new Step(op, Door.RAW, -1, -1);
  }

  private int pickHandle(Integer id) {
    List<EngineDriver.Handle> handles = driver.handles();
    if (id == null || handles.isEmpty()) {
      return -1;
    }
    if (chance(10)) {
      return n(handles.size());
    }
    return handles.indexOf(driver.handleFor(id));
  }

  /** The id of the IOAS a typed call goes to, or null if it names none. */
  private static Integer primaryId(IoasOp op) {
    return switch (op) {
      case IoasOp.Map m -> m.ioasId();
      case IoasOp.Copy c -> c.dstIoasId();
      case IoasOp.Unmap u -> u.ioasId();
      case IoasOp.IovaRanges r -> r.ioasId();
      case IoasOp.AllowIovas a -> a.ioasId();
      case IoasOp.Option o ->
          o.optionId() == ReferenceModel.OPTION_HUGE_PAGES ? o.objectId() : null;
      default -> null;
    };
  }

  private static IoasOp withPrimaryId(IoasOp op, int id) {
    return switch (op) {
      case IoasOp.Map m ->
          new IoasOp.Map(m.flags(), id, m.reserved(), m.userVa(), m.length(), m.iova());
      case IoasOp.Copy c ->
          new IoasOp.Copy(c.flags(), id, c.srcIoasId(), c.length(), c.dstIova(), c.srcIova());
      case IoasOp.Unmap u -> new IoasOp.Unmap(id, u.iova(), u.length());
      case IoasOp.IovaRanges r ->
          new IoasOp.IovaRanges(id, r.reserved(), r.capacity(), r.writableSlots());
      case IoasOp.AllowIovas a -> new IoasOp.AllowIovas(id, a.reserved(), a.ranges(), a.numIovas());
      case IoasOp.Option o -> new IoasOp.Option(o.optionId(), o.op(), o.reserved(), id, o.val64());
      default -> op;
    };
  }

  private IoasOp nextOp(boolean raw) {
    int count = model.ioases().size();
    if (count == 0 && chance(80) || count == 1 && chance(3)) {
      return new IoasOp.Alloc(raw && chance(10) ? 1 << n(32) : 0);
    }
    int r = n(100);
    if (r < 30) {
      return map(raw);
    } else if (r < 43) {
      return copy(raw);
    } else if (r < 61) {
      return unmap();
    } else if (r < 66) {
      return allowIovas(raw);
    } else if (r < 70) {
      return iovaRanges(raw);
    } else if (r < 79) {
      return option(raw);
    } else if (r < 84) {
      return new IoasOp.Alloc(raw && chance(10) ? 1 << n(32) : 0);
    } else if (r < 87) {
      return new IoasOp.Destroy(ioasId());
    } else if (r < 89 && !driver.handles().isEmpty()) {
      return new IoasOp.CloseHandle(n(driver.handles().size()));
    } else if (r < 91) {
      return new IoasOp.Lookup(ioasId());
    } else if (r < 94 && count > 0) {
      return addReserved();
    }
    return map(raw);
  }

  // ---- ids -----------------------------------------------------------------------------------

  private int ioasId() {
    List<ReferenceModel.Ioas> all = model.ioases();
    if (!all.isEmpty() && chance(88)) {
      return any(all).id;
    }
    return switch (n(5)) {
      case 0 -> 0;
      case 1 -> all.isEmpty() ? 1 : all.getLast().id + 1;
      case 2 -> 1 + n(8);
      case 3 -> Integer.MAX_VALUE;
      default -> -1;
    };
  }

  private ReferenceModel.Ioas ioasOf(int id) {
    ReferenceModel.Ioas ioas = model.ioas(id);
    return ioas != null ? ioas : new ReferenceModel.Ioas(id);
  }

  // ---- values --------------------------------------------------------------------------------

  private long iova(ReferenceModel.Ioas ioas) {
    List<Area> areas = ioas.areas;
    switch (n(20)) {
      case 0, 1, 2, 3, 4, 5, 6:
        return page(n(64));
      case 7, 8, 9:
        if (!areas.isEmpty()) {
          Area a = any(areas);
          return switch (n(8)) {
            case 0 -> a.iova();
            case 1 -> a.last() + 1;
            case 2 -> a.iova() - page(1 + n(4));
            case 3 -> a.iova() + page(n(4));
            case 4 -> a.last() + 1 - page(1 + n(2));
            case 5 -> a.last() + 2 + n(3); // leaves a hole of 1 to 3 bytes
            case 6 -> a.iova() - 1 - n(3);
            default -> a.iova() + 1 + n(4095);
          };
        }
        return page(n(64));
      case 10:
        return any(List.of(0L, 1L, 0x800L, 0xfffL));
      case 11:
        return any(List.of(-page(1), -page(2), -page(3 + n(4)), U64_MAX, U64_MAX - 1));
      case 12:
        return page(n(64)) + 1 + n(4095);
      case 13:
        return any(
            List.of(
                Long.MIN_VALUE + page(n(8)),
                Long.MIN_VALUE - page(1 + n(8)),
                (1L << 32) + page(n(8))));
      case 14:
        return page(64 + n(4096));
      case 15:
        return MIB2 * n(8);
      case 16, 17:
        return rnd.nextLong();
      default:
        if (!ioas.allowed.isEmpty()) {
          long[] r = any(ioas.allowed);
          return any(List.of(r[0], r[1], r[0] + PAGE, r[1] + 1));
        }
        return page(n(64));
    }
  }

  private long length() {
    return switch (n(20)) {
      case 0, 1, 2, 3, 4, 5, 6, 7, 8 -> page(1 + n(8));
      case 9, 10 -> page(9 + n(600));
      case 11 -> chance(50) ? 1 + n(8191) : 1 + n(4);
      case 12 -> page(1 + n(8)) + (chance(50) ? 1 : -1);
      case 13 -> 0;
      case 14 -> U64_MAX;
      case 15 ->
          any(
              List.of(
                  Long.MAX_VALUE,
                  Long.MAX_VALUE - 1,
                  Long.MIN_VALUE,
                  1L << 62,
                  U64_MAX - PAGE,
                  U64_MAX - PAGE + 1,
                  U64_MAX - PAGE - 1,
                  1L << 40));
      case 16 -> any(List.of(MIB2, 2 * MIB2, MIB2 + PAGE, 1L << 30));
      case 17 -> rnd.nextLong();
      default -> page(1 + n(4));
    };
  }

  private long userVa(long length) {
    return switch (n(20)) {
      case 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 -> USER_BASE + page(n(4096));
      case 12, 13 ->
          USER_BASE + page(n(64)) + any(List.of(1L, 0x10L, 0x400L, 0x800L, 0xfffL, (long) n(4096)));
      case 14 -> 0;
      case 15 -> chance(50) ? MIB2 * (1 + n(1 << 20)) : (1L << 30) * (1 + n(64));
      case 16 -> any(List.of(-length, -length - 1, -length + 1, U64_MAX - PAGE + 1));
      case 17 -> Long.MIN_VALUE | page(n(1024));
      case 18 -> rnd.nextLong();
      default -> chance(50) ? page(n(64)) : 0x10;
    };
  }

  private int prot() {
    return any(
        List.of(
            ReferenceModel.MAP_READABLE,
            ReferenceModel.MAP_WRITEABLE,
            ReferenceModel.MAP_READABLE | ReferenceModel.MAP_WRITEABLE));
  }

  /** Map flags; the raw door sometimes sets unknown bits or leaves out both R and W. */
  private int mapFlags(boolean raw, int fixedPercent) {
    int flags = prot() | (chance(fixedPercent) ? ReferenceModel.MAP_FIXED_IOVA : 0);
    if (raw && chance(8)) {
      switch (n(3)) {
        case 0 -> flags &= ReferenceModel.MAP_FIXED_IOVA;
        case 1 -> flags |= 1 << 3;
        default -> flags |= 1 << (3 + n(29));
      }
    }
    return flags;
  }

  // ---- operations ----------------------------------------------------------------------------

  private IoasOp map(boolean raw) {
    int id = ioasId();
    ReferenceModel.Ioas ioas = ioasOf(id);
    int flags = mapFlags(raw, 50);
    long length = length();
    long userVa = userVa(length);
    long iova =
        (flags & ReferenceModel.MAP_FIXED_IOVA) != 0
            ? iova(ioas)
            : raw && chance(5) ? (chance(50) ? U64_MAX : rnd.nextLong()) : 0;
    int reserved = raw && chance(3) ? 1 + n(1000) : 0;
    return new IoasOp.Map(flags, id, reserved, userVa, length, iova);
  }

  private IoasOp copy(boolean raw) {
    int dst = ioasId();
    int src = chance(30) ? dst : ioasId();
    ReferenceModel.Ioas srcIoas = ioasOf(src);
    int flags = mapFlags(raw, 40);
    long srcIova;
    long length;
    if (!srcIoas.areas.isEmpty() && chance(80)) {
      long[] range = contiguousSubRange(srcIoas.areas);
      srcIova = range[0];
      length = range[1];
    } else {
      srcIova = iova(srcIoas);
      length = length();
    }
    long dstIova =
        (flags & ReferenceModel.MAP_FIXED_IOVA) != 0
            ? iova(ioasOf(dst))
            : raw && chance(5) ? U64_MAX : 0;
    if (raw && chance(4)) {
      flags |= ReferenceModel.MOCK_FLAGS_ACCESS_SYZ;
      srcIova = ((long) n(3) * PAGE << 32) | n(4);
    }
    return new IoasOp.Copy(flags, dst, src, length, dstIova, srcIova);
  }

  /** (start, length) of a range inside a run of adjacent areas, sometimes slightly outside. */
  private long[] contiguousSubRange(List<Area> areas) {
    int i = n(areas.size());
    int j = i;
    while (j + 1 < areas.size()
        && areas.get(j + 1).iova() == areas.get(j).last() + 1
        && chance(60)) {
      j++;
    }
    Area a = areas.get(i);
    Area b = areas.get(j);
    long start = a.iova() + offsetInside(a.length());
    long last = b.last() - offsetInside(b.length());
    if (chance(8)) {
      start -= page(1);
    }
    if (chance(8)) {
      last += page(1);
    }
    if (Long.compareUnsigned(last, start) < 0) {
      last = start;
    }
    return new long[] {start, last - start + 1};
  }

  private long offsetInside(long length) {
    return switch (n(6)) {
      case 0, 1, 2 -> 0;
      case 3 -> Long.remainderUnsigned(page(n(4)), length);
      case 4 -> Long.remainderUnsigned(n(1 << 14), length);
      default -> Long.remainderUnsigned(page(1 + n(2)), length) & ~(PAGE - 1);
    };
  }

  private IoasOp unmap() {
    int id = ioasId();
    ReferenceModel.Ioas ioas = ioasOf(id);
    List<Area> areas = ioas.areas;
    int r = n(100);
    if (!areas.isEmpty() && r < 30) {
      Area a = any(areas);
      return new IoasOp.Unmap(id, a.iova(), a.length());
    }
    if (!areas.isEmpty() && r < 45) {
      int i = n(areas.size());
      int j = Math.min(areas.size() - 1, i + n(4));
      Area a = areas.get(i);
      Area b = areas.get(j);
      return new IoasOp.Unmap(id, a.iova(), b.last() - a.iova() + 1);
    }
    if (!areas.isEmpty() && r < 55) {
      Area a = any(areas);
      return switch (n(4)) {
        case 0 -> new IoasOp.Unmap(id, a.iova() + PAGE, a.length() - PAGE);
        case 1 -> new IoasOp.Unmap(id, a.iova(), a.length() - 1);
        case 2 -> new IoasOp.Unmap(id, a.iova() - PAGE, a.length() + 2 * PAGE);
        default -> new IoasOp.Unmap(id, a.iova() + 1, a.length());
      };
    }
    if (r < 65) {
      return new IoasOp.Unmap(id, 0, U64_MAX);
    }
    if (r < 70) {
      return chance(50)
          ? new IoasOp.Unmap(id, 0, Long.MIN_VALUE)
          : new IoasOp.Unmap(id, Long.MIN_VALUE, Long.MIN_VALUE);
    }
    if (r < 75) {
      return switch (n(5)) {
        case 0 -> new IoasOp.Unmap(id, page(n(8)), 0);
        case 1 -> new IoasOp.Unmap(id, U64_MAX, 1);
        case 2 -> new IoasOp.Unmap(id, PAGE, U64_MAX);
        case 3 -> new IoasOp.Unmap(id, U64_MAX - PAGE + 1, 2 * PAGE);
        default -> new IoasOp.Unmap(id, -page(1), PAGE);
      };
    }
    if (r < 88) {
      long start = page(n(64));
      return new IoasOp.Unmap(id, start, page(1 + n(64)));
    }
    return new IoasOp.Unmap(id, iova(ioas), length());
  }

  private IoasOp allowIovas(boolean raw) {
    int id = ioasId();
    ReferenceModel.Ioas ioas = ioasOf(id);
    List<IovaRange> ranges = new ArrayList<>();
    int count = chance(20) ? 0 : 1 + n(4);
    for (int i = 0; i < count; i++) {
      IovaRange prev = ranges.isEmpty() ? null : ranges.getLast();
      ranges.add(allowedRange(ioas, prev));
    }
    int numIovas = ranges.size();
    if (raw && chance(10)) {
      numIovas += chance(80) ? 1 + n(3) : 1 << 30;
    }
    int reserved = raw && chance(3) ? 1 : 0;
    return new IoasOp.AllowIovas(id, reserved, ranges, numIovas);
  }

  private IovaRange allowedRange(ReferenceModel.Ioas ioas, IovaRange prev) {
    switch (n(17)) {
      case 0, 1, 2, 3, 4, 5:
        {
          long a = n(128);
          long b = a + 1 + n(32);
          return new IovaRange(page(a), page(b) - 1);
        }
      case 6:
        if (prev != null && prev.last() != U64_MAX) {
          return new IovaRange(prev.last() + 1, prev.last() + page(1 + n(8)));
        }
        return new IovaRange(PAGE, page(16) - 1);
      case 7:
        if (prev != null) {
          return new IovaRange(prev.start() + page(n(2)), prev.last() + page(n(4)));
        }
        return new IovaRange(0, page(4) - 1);
      case 8:
        {
          long x = page(n(64)) + (chance(50) ? 0 : n(4096));
          return chance(30) ? new IovaRange(x, x) : new IovaRange(x, x + 1 + n(3));
        }
      case 9:
        return new IovaRange(page(8 + n(8)), page(n(8)));
      case 10:
        return new IovaRange(0, U64_MAX);
      case 11:
        return new IovaRange(0, chance(50) ? PAGE - 1 : 2 * PAGE - 1);
      case 12:
        return chance(50)
            ? new IovaRange(-page(1 + n(4)), U64_MAX)
            : new IovaRange(U64_MAX - 2 * PAGE + 1, U64_MAX - PAGE);
      case 13:
        return new IovaRange(rnd.nextLong(), rnd.nextLong());
      case 14:
        if (!ioas.areas.isEmpty()) {
          // A tiny window right above an area: its holes may be a byte or two (fit's t >= last).
          Area a = any(ioas.areas);
          return new IovaRange(a.last() + 1, a.last() + 2 + n(4));
        }
        return new IovaRange(MIB2, MIB2 + 1);
      default:
        if (!ioas.areas.isEmpty()) {
          Area a = any(ioas.areas);
          return new IovaRange(a.iova(), a.last() + page(n(4)));
        }
        return new IovaRange(MIB2, 2 * MIB2 - 1);
    }
  }

  private IoasOp iovaRanges(boolean raw) {
    int id = ioasId();
    if (!raw) {
      return new IoasOp.IovaRanges(id, 0, -1, Integer.MAX_VALUE);
    }
    int capacity = any(List.of(0, 1, 2, 3, -1));
    int room = capacity == -1 ? 4 : capacity;
    int writable =
        switch (n(4)) {
          case 0 -> 0;
          case 1 -> Math.max(0, room - 1);
          default -> room;
        };
    return new IoasOp.IovaRanges(id, chance(3) ? 1 : 0, capacity, writable);
  }

  private IoasOp option(boolean raw) {
    int reserved = raw && chance(3) ? 1 + n(0xffff) : 0;
    if (raw && chance(5)) {
      return new IoasOp.Option(2 + n(10), n(2), reserved, ioasId(), n(2));
    }
    if (chance(25)) {
      int objectId = chance(90) ? 0 : ioasId();
      int op = chance(5) ? 2 + n(100) : n(2);
      long val = chance(10) ? 2 + n(10) : n(2);
      return new IoasOp.Option(ReferenceModel.OPTION_RLIMIT_MODE, op, reserved, objectId, val);
    }
    int objectId = ioasId();
    int r = n(100);
    if (r < 30) {
      return new IoasOp.Option(
          ReferenceModel.OPTION_HUGE_PAGES,
          ReferenceModel.OPTION_OP_GET,
          reserved,
          objectId,
          rnd.nextLong());
    }
    if (r < 90) {
      return new IoasOp.Option(
          ReferenceModel.OPTION_HUGE_PAGES,
          ReferenceModel.OPTION_OP_SET,
          reserved,
          objectId,
          r < 65 ? 0 : 1);
    }
    if (r < 95) {
      return new IoasOp.Option(
          ReferenceModel.OPTION_HUGE_PAGES,
          ReferenceModel.OPTION_OP_SET,
          reserved,
          objectId,
          chance(50) ? 2 : rnd.nextLong());
    }
    return new IoasOp.Option(
        ReferenceModel.OPTION_HUGE_PAGES, 2 + n(0xfffd), reserved, objectId, 0);
  }

  private IoasOp addReserved() {
    ReferenceModel.Ioas ioas = any(model.ioases());
    int id = chance(95) ? ioas.id : ioasId();
    return switch (n(8)) {
      case 0, 1, 2 -> new IoasOp.AddReserved(id, page(n(128)), page(1 + n(4)));
      case 3 -> new IoasOp.AddReserved(id, 0, PAGE);
      case 4 -> new IoasOp.AddReserved(id, -page(1 + n(4)), page(1 + n(4)));
      case 5 -> new IoasOp.AddReserved(id, chance(50) ? page(n(8)) : U64_MAX, chance(50) ? 0 : 2);
      default -> {
        if (ioas.areas.isEmpty()) {
          yield new IoasOp.AddReserved(id, MIB2, PAGE);
        }
        Area a = any(ioas.areas);
        yield new IoasOp.AddReserved(id, a.last() + 1 - (chance(20) ? 1 : 0), page(1 + n(2)));
      }
    };
  }
}
