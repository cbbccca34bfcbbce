package org.iommufd4j.fuzz;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.IommuVfioIoas;

/**
 * Generates plausible-and-hostile calls: struct fields from pools of interesting values (ids and
 * descriptors seen in earlier replies, boundary IOVAs and lengths, flag subsets with unknown bits)
 * and argument sizes and pointers that hit every generic decode path.
 */
final class CallGenerator {
  private static final long[] INTERESTING = {
    0, 1, 2, 0x7ff, 0x800, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x4000, 0x10000, 0x100000,
    0x200000, 0x1000000, 0x1001000, 0x7fffffffL, 0x80000000L, 0xfee00000L, 1L << 32, 1L << 47,
    1L << 48, 1L << 63, -1L, -2L, -4096L, -4097L, Long.MAX_VALUE
  };

  private final SplittableRandom rnd;
  private final List<Integer> ids = new ArrayList<>(List.of(1, 2, 3));
  private final List<Integer> fds = new ArrayList<>(List.of(1_000_000));
  private final List<Long> iovas = new ArrayList<>(List.of(0x1000L, 0x1000000L));

  CallGenerator(long seed) {
    this.rnd = new SplittableRandom(seed);
  }

  /** Learns ids, descriptors and IOVAs from a successful call's reply. */
  void learn(FuzzCall call, long result, FuzzWorld world) {
    if (result != 0 || call.request() == FuzzCall.CLOSE_FD) {
      return;
    }
    int nr = (int) (call.request() & 0xff);
    byte[] reply = world.read(call.arg(), 72);
    if (reply == null) {
      return;
    }
    MemorySegment r = MemorySegment.ofArray(reply);
    if (nr == Command.IOMMU_IOAS_ALLOC.nr()) {
      remember(ids, r.get(JAVA_INT_UNALIGNED, 8));
    } else if (nr == Command.IOMMU_IOAS_MAP.nr()) {
      iovas.add(r.get(JAVA_LONG_UNALIGNED, IommuIoasMap.IOVA));
    } else if (nr == Command.IOMMU_IOAS_COPY.nr()) {
      iovas.add(r.get(JAVA_LONG_UNALIGNED, IommuIoasCopy.DST_IOVA));
    } else if (nr == Command.IOMMU_TEST_CMD.nr()) {
      int op = r.get(JAVA_INT_UNALIGNED, IommuTestCmd.OP);
      if (op == IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN
          || op == IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS) {
        for (long off = 16; off <= 24; off += 4) {
          remember(ids, r.get(JAVA_INT_UNALIGNED, off));
        }
      } else if (op == IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS) {
        remember(fds, r.get(JAVA_INT_UNALIGNED, 16));
      } else if (op == IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES) {
        remember(ids, r.get(JAVA_INT_UNALIGNED, 20));
      }
    }
    if (iovas.size() > 64) {
      iovas.removeFirst();
    }
  }

  private static void remember(List<Integer> pool, int value) {
    if (!pool.contains(value)) {
      pool.add(value);
      if (pool.size() > 32) {
        pool.removeFirst();
      }
    }
  }

  private long interesting() {
    return switch (rnd.nextInt(5)) {
      case 0 -> rnd.nextLong();
      case 1 -> (rnd.nextLong(1 << 20)) << 12;
      case 2 -> iovas.get(rnd.nextInt(iovas.size())) + (rnd.nextBoolean() ? 0 : 0x800);
      default -> INTERESTING[rnd.nextInt(INTERESTING.length)];
    };
  }

  private long length() {
    return switch (rnd.nextInt(6)) {
      case 0 -> INTERESTING[rnd.nextInt(INTERESTING.length)];
      case 1 -> 1 + rnd.nextLong(0x3000);
      default -> (1 + rnd.nextLong(32)) * (rnd.nextInt(4) == 0 ? 2048 : 4096);
    };
  }

  private int id() {
    return switch (rnd.nextInt(8)) {
      case 0 -> 0;
      case 1 -> rnd.nextInt();
      default -> ids.get(rnd.nextInt(ids.size()));
    };
  }

  private int fd() {
    return rnd.nextInt(6) == 0 ? rnd.nextInt() : fds.get(rnd.nextInt(fds.size()));
  }

  /** A user address: usually in the buffer, sometimes read-only, unmapped or wild. */
  private long userVa() {
    return switch (rnd.nextInt(10)) {
      case 0 -> FuzzWorld.READONLY + 4096L * rnd.nextInt(8);
      case 1 -> FuzzWorld.HOLE + 4096L * rnd.nextInt(16);
      case 2 -> interesting();
      case 3 -> FuzzWorld.BUFFER + rnd.nextLong(FuzzWorld.BUFFER_SIZE);
      default -> FuzzWorld.BUFFER + 4096L * rnd.nextInt(512) + (rnd.nextInt(8) == 0 ? 0x800 : 0);
    };
  }

  private int flags(int known) {
    int f = rnd.nextInt(known + 1) & known;
    if (rnd.nextInt(10) == 0) {
      f |= 1 << rnd.nextInt(32);
    }
    return f;
  }

  FuzzCall next() {
    if (rnd.nextInt(60) == 0) {
      return new FuzzCall(FuzzCall.CLOSE_FD, fd(), List.of());
    }
    int pick = rnd.nextInt(100);
    Command cmd;
    if (pick < 22) {
      cmd = Command.IOMMU_IOAS_MAP;
    } else if (pick < 36) {
      cmd = Command.IOMMU_IOAS_UNMAP;
    } else if (pick < 44) {
      cmd = Command.IOMMU_IOAS_COPY;
    } else if (pick < 52) {
      cmd = Command.IOMMU_IOAS_ALLOC;
    } else if (pick < 56) {
      cmd = Command.IOMMU_DESTROY;
    } else if (pick < 60) {
      cmd = Command.IOMMU_IOAS_IOVA_RANGES;
    } else if (pick < 64) {
      cmd = Command.IOMMU_IOAS_ALLOW_IOVAS;
    } else if (pick < 68) {
      cmd = Command.IOMMU_OPTION;
    } else if (pick < 70) {
      cmd = Command.IOMMU_VFIO_IOAS;
    } else if (pick < 95) {
      cmd = Command.IOMMU_TEST_CMD;
    } else {
      return rawCall();
    }
    MemorySegment s = MemorySegment.ofArray(new byte[cmd.ksize() + 16]);
    List<FuzzCall.Write> extra = new ArrayList<>();
    fill(cmd, s, extra);
    return place(cmd, s, extra);
  }

  private void fill(Command cmd, MemorySegment s, List<FuzzCall.Write> extra) {
    switch (cmd) {
      case IOMMU_IOAS_MAP -> {
        s.set(JAVA_INT_UNALIGNED, IommuIoasMap.FLAGS, flags(7));
        s.set(JAVA_INT_UNALIGNED, IommuIoasMap.IOAS_ID, id());
        s.set(JAVA_INT_UNALIGNED, IommuIoasMap.RESERVED, rnd.nextInt(20) == 0 ? 1 : 0);
        s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.USER_VA, userVa());
        s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.LENGTH, length());
        s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.IOVA, interesting());
      }
      case IOMMU_IOAS_UNMAP -> {
        s.set(JAVA_INT_UNALIGNED, IommuIoasUnmap.IOAS_ID, id());
        boolean all = rnd.nextInt(10) == 0;
        s.set(JAVA_LONG_UNALIGNED, IommuIoasUnmap.IOVA, all ? 0 : interesting());
        s.set(JAVA_LONG_UNALIGNED, IommuIoasUnmap.LENGTH, all ? -1 : length());
      }
      case IOMMU_IOAS_COPY -> {
        s.set(JAVA_INT_UNALIGNED, IommuIoasCopy.FLAGS, flags(7) | (rnd.nextInt(10) == 0 ? 1 << 16
            : 0));
        s.set(JAVA_INT_UNALIGNED, IommuIoasCopy.DST_IOAS_ID, id());
        s.set(JAVA_INT_UNALIGNED, IommuIoasCopy.SRC_IOAS_ID, id());
        s.set(JAVA_LONG_UNALIGNED, IommuIoasCopy.LENGTH, length());
        s.set(JAVA_LONG_UNALIGNED, IommuIoasCopy.DST_IOVA, interesting());
        s.set(JAVA_LONG_UNALIGNED, IommuIoasCopy.SRC_IOVA, interesting());
      }
      case IOMMU_IOAS_ALLOC -> s.set(JAVA_INT_UNALIGNED, 4, rnd.nextInt(10) == 0 ? 1 : 0);
      case IOMMU_DESTROY -> s.set(JAVA_INT_UNALIGNED, 4, id());
      case IOMMU_IOAS_IOVA_RANGES -> {
        s.set(JAVA_INT_UNALIGNED, IommuIoasIovaRanges.IOAS_ID, id());
        s.set(JAVA_INT_UNALIGNED, IommuIoasIovaRanges.NUM_IOVAS, rnd.nextInt(4));
        s.set(JAVA_LONG_UNALIGNED, IommuIoasIovaRanges.ALLOWED_IOVAS, arrayPointer());
      }
      case IOMMU_IOAS_ALLOW_IOVAS -> {
        int n = rnd.nextInt(4);
        s.set(JAVA_INT_UNALIGNED, IommuIoasAllowIovas.IOAS_ID, id());
        s.set(JAVA_INT_UNALIGNED, IommuIoasAllowIovas.NUM_IOVAS, n);
        long array = arrayPointer();
        s.set(JAVA_LONG_UNALIGNED, IommuIoasAllowIovas.ALLOWED_IOVAS, array);
        MemorySegment ranges = MemorySegment.ofArray(new byte[16 * n]);
        for (int i = 0; i < n; i++) {
          long start = interesting();
          ranges.set(JAVA_LONG_UNALIGNED, 16L * i, start);
          ranges.set(JAVA_LONG_UNALIGNED, 16L * i + 8, rnd.nextBoolean() ? start + length() - 1
              : interesting());
        }
        extra.add(new FuzzCall.Write(array, ranges.toArray(ValueLayout.JAVA_BYTE)));
      }
      case IOMMU_OPTION -> {
        s.set(JAVA_INT_UNALIGNED, IommuOption.OPTION_ID, rnd.nextInt(3));
        s.set(JAVA_SHORT_UNALIGNED, IommuOption.OP, (short) rnd.nextInt(3));
        s.set(JAVA_INT_UNALIGNED, IommuOption.OBJECT_ID, rnd.nextBoolean() ? 0 : id());
        s.set(JAVA_LONG_UNALIGNED, IommuOption.VAL64, rnd.nextInt(4) == 0 ? interesting()
            : rnd.nextInt(2));
      }
      case IOMMU_VFIO_IOAS -> {
        s.set(JAVA_INT_UNALIGNED, IommuVfioIoas.IOAS_ID, id());
        s.set(JAVA_SHORT_UNALIGNED, IommuVfioIoas.OP, (short) rnd.nextInt(4));
      }
      case IOMMU_TEST_CMD -> fillTestCmd(s, extra);
      default -> {
        for (long off = 4; off + 8 <= s.byteSize(); off += 8) {
          s.set(JAVA_LONG_UNALIGNED, off, rnd.nextInt(3) == 0 ? interesting() : 0);
        }
      }
    }
  }

  private void fillTestCmd(MemorySegment s, List<FuzzCall.Write> extra) {
    int[] ops = {1, 2, 2, 3, 4, 5, 5, 6, 7, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 99};
    int op = ops[rnd.nextInt(ops.length)];
    s.set(JAVA_INT_UNALIGNED, IommuTestCmd.OP, op);
    boolean usesFd = op >= 6 && op <= 8 || op == 11;
    s.set(JAVA_INT_UNALIGNED, IommuTestCmd.ID, usesFd ? fd() : id());
    for (long off = 16; off < 64; off += 8) {
      s.set(JAVA_LONG_UNALIGNED, off, rnd.nextInt(3) == 0 ? 0 : interesting());
    }
    switch (op) {
      case 2, 12 -> {
        s.set(JAVA_LONG_UNALIGNED, 16, 0);
        s.set(JAVA_LONG_UNALIGNED, 24, 0);
        s.set(JAVA_INT_UNALIGNED, 28, rnd.nextInt(8) == 0 ? rnd.nextInt() : rnd.nextInt(4));
      }
      case 3 -> {
        s.set(JAVA_LONG_UNALIGNED, 24, length());
        s.set(JAVA_LONG_UNALIGNED, 32, userVa() & -2048L);
      }
      case 4 -> {
        s.set(JAVA_LONG_UNALIGNED, 16, length() & -4096L);
        s.set(JAVA_LONG_UNALIGNED, 24, userVa() & -4096L);
        s.set(JAVA_INT_UNALIGNED, 32, rnd.nextInt(3));
      }
      case 5 -> s.set(JAVA_INT_UNALIGNED, 20, rnd.nextInt(3));
      case 6 -> s.set(JAVA_INT_UNALIGNED, 16, rnd.nextInt(4));
      case 7 -> {
        s.set(JAVA_INT_UNALIGNED, 16, flags(1));
        s.set(JAVA_LONG_UNALIGNED, 32, length());
        s.set(JAVA_LONG_UNALIGNED, 40, rnd.nextBoolean() ? 0 : userVa());
      }
      case 8 -> {
        s.set(JAVA_LONG_UNALIGNED, 24, 1 + rnd.nextLong(0x2000));
        s.set(JAVA_LONG_UNALIGNED, 32, userVa());
        s.set(JAVA_INT_UNALIGNED, 40, flags(5));
      }
      case 9 -> s.set(JAVA_INT_UNALIGNED, 16, rnd.nextInt(70000));
      case 10, 11 -> s.set(JAVA_INT_UNALIGNED, 16, id());
      case 13 -> {
        s.set(JAVA_LONG_UNALIGNED, 40, rnd.nextBoolean() ? 2048 : interesting());
        s.set(JAVA_LONG_UNALIGNED, 48, arrayPointer());
      }
      default -> { }
    }
  }

  private long arrayPointer() {
    return switch (rnd.nextInt(8)) {
      case 0 -> 0;
      case 1 -> FuzzWorld.HOLE;
      case 2 -> FuzzWorld.READONLY;
      case 3 -> FuzzWorld.ARRAYS + FuzzWorld.ARRAYS_SIZE - 16; // the next element is unmapped
      default -> FuzzWorld.ARRAYS + 16L * rnd.nextInt(8);
    };
  }

  /** Chooses size and placement of the struct: usually exact, sometimes every decode edge. */
  private FuzzCall place(Command cmd, MemorySegment s, List<FuzzCall.Write> extra) {
    int size = cmd.ksize();
    int tail = 0;
    switch (rnd.nextInt(16)) {
      case 0 -> size = cmd.minSize() - 1;
      case 1 -> {
        size = cmd.ksize() + 8;
        tail = 8;
      }
      case 2 -> {
        size = cmd.ksize() + 8;
        tail = 8;
        s.set(JAVA_LONG_UNALIGNED, cmd.ksize(), 1L << rnd.nextInt(64));
      }
      case 3 -> size = rnd.nextInt();
      default -> { }
    }
    s.set(JAVA_INT_UNALIGNED, 0, size);
    long arg;
    int len = cmd.ksize() + tail;
    switch (rnd.nextInt(20)) {
      case 0 -> arg = 0;
      case 1 -> arg = FuzzWorld.HOLE;
      case 2 -> arg = FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE - 1 - rnd.nextInt(len); // crosses out
      case 3 -> arg = FuzzWorld.READONLY; // readable, respond faults
      default -> arg = FuzzWorld.ARGS + 8L * rnd.nextInt(64);
    }
    byte[] bytes = s.asSlice(0, len).toArray(ValueLayout.JAVA_BYTE);
    List<FuzzCall.Write> writes = new ArrayList<>();
    long room = arg >= FuzzWorld.ARGS && arg < FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE
        ? FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE - arg : 0;
    if (room > 0) {
      writes.add(new FuzzCall.Write(arg, Arrays.copyOf(bytes, (int) Math.min(room,
          bytes.length))));
    }
    writes.addAll(extra);
    return new FuzzCall(cmd.request(), arg, writes);
  }

  /** A random request number near iommufd's, with random bytes. */
  private FuzzCall rawCall() {
    long request = switch (rnd.nextInt(4)) {
      case 0 -> 0x3b00 | rnd.nextInt(256);
      case 1 -> (long) rnd.nextInt();
      case 2 -> 0x3b80 | rnd.nextInt(0x30) | ((long) rnd.nextInt(4) << 30);
      default -> 0x3b64 + rnd.nextInt(16);
    };
    byte[] bytes = new byte[80];
    rnd.nextBytes(bytes);
    bytes[0] = (byte) (rnd.nextBoolean() ? 72 : bytes[0]);
    bytes[1] = 0;
    bytes[2] = 0;
    bytes[3] = 0;
    long arg = FuzzWorld.ARGS + 8L * rnd.nextInt(64);
    return new FuzzCall(request, rnd.nextInt(8) == 0 ? rnd.nextLong() : arg,
        List.of(new FuzzCall.Write(arg, bytes)));
  }
}
