package org.iommufd4j.fuzz;

import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_DIRTY;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_IOTLB;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT;
import static org.iommufd4j.uapi.IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
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
import org.iommufd4j.uapi.IommuVfioIoas;
import org.iommufd4j.uapi.Struct;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioDeviceFeature;
import org.iommufd4j.uapi.VfioDeviceInfo;
import org.iommufd4j.uapi.VfioIrqInfo;
import org.iommufd4j.uapi.VfioIrqSet;
import org.iommufd4j.uapi.VfioRegionInfo;

/**
 * Generates plausible-and-hostile calls: struct fields from pools of interesting values (ids and
 * descriptors seen in earlier replies, boundary IOVAs and lengths, flag subsets with unknown bits)
 * and argument sizes and pointers that hit every generic decode path.
 */
final class CallGenerator {
  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
  private static final long[] INTERESTING = {
    0,
    1,
    2,
    0x7ff,
    0x800,
    0xfff,
    0x1000,
    0x1001,
    0x2000,
    0x3000,
    0x4000,
    0x10000,
    0x100000,
    0x200000,
    0x1000000,
    0x1001000,
    0x7fffffffL,
    0x80000000L,
    0xfee00000L,
    1L << 32,
    1L << 47,
    1L << 48,
    1L << 63,
    -1L,
    -2L,
    -4096L,
    -4097L,
    Long.MAX_VALUE
  };

  /** Test ops by weight, and one no kernel knows. */
  private static final int[] TEST_OPS = {
    IOMMU_TEST_OP_ADD_RESERVED,
    IOMMU_TEST_OP_MOCK_DOMAIN,
    IOMMU_TEST_OP_MOCK_DOMAIN,
    IOMMU_TEST_OP_MD_CHECK_MAP,
    IOMMU_TEST_OP_MD_CHECK_REFS,
    IOMMU_TEST_OP_CREATE_ACCESS,
    IOMMU_TEST_OP_CREATE_ACCESS,
    IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
    IOMMU_TEST_OP_ACCESS_PAGES,
    IOMMU_TEST_OP_ACCESS_PAGES,
    IOMMU_TEST_OP_ACCESS_RW,
    IOMMU_TEST_OP_ACCESS_RW,
    IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT,
    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
    IOMMU_TEST_OP_ACCESS_REPLACE_IOAS,
    IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
    IOMMU_TEST_OP_DIRTY,
    IOMMU_TEST_OP_MD_CHECK_IOTLB,
    IOMMU_TEST_OP_TRIGGER_IOPF,
    99
  };

  /** VFIO requests a device file answers (and the group's and container's, to see them refused). */
  private static final long[] DEVICE_REQUESTS = {
    Vfio.VFIO_DEVICE_BIND_IOMMUFD,
    Vfio.VFIO_DEVICE_BIND_IOMMUFD,
    Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
    Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
    Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT,
    Vfio.VFIO_DEVICE_GET_INFO,
    Vfio.VFIO_DEVICE_GET_REGION_INFO,
    Vfio.VFIO_DEVICE_GET_REGION_INFO,
    Vfio.VFIO_DEVICE_GET_IRQ_INFO,
    Vfio.VFIO_DEVICE_SET_IRQS,
    Vfio.VFIO_DEVICE_SET_IRQS,
    Vfio.VFIO_DEVICE_SET_IRQS,
    Vfio.VFIO_DEVICE_SET_IRQS,
    Vfio.VFIO_DEVICE_FEATURE,
    Vfio.VFIO_DEVICE_RESET,
    Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
    Vfio.VFIO_GROUP_GET_STATUS,
    Vfio.VFIO_GROUP_SET_CONTAINER,
    Vfio.VFIO_GROUP_UNSET_CONTAINER,
    Vfio.VFIO_GROUP_GET_DEVICE_FD,
    Vfio.VFIO_GROUP_GET_DEVICE_FD
  };

  /** Region indexes of vfio-pci: BARs 0-5, ROM, config, VGA, and one past. */
  private static final int REGIONS = 10;

  private final SplittableRandom rnd;
  private final List<Integer> ids = new ArrayList<>(List.of(1, 2, 3));
  private final List<Integer> fds = new ArrayList<>(List.of(1_000_000));
  private final List<Long> iovas = new ArrayList<>(List.of(0x1000L, 0x1000000L));

  /**
   * The natural next steps of what just succeeded (a group's container, then its device; a cdev's
   * bind, then its attach), taken before other calls most of the time so cases reach deep states.
   */
  private final ArrayDeque<FuzzCall> followUps = new ArrayDeque<>();

  /** IOASes allocated: what a device attaches to. */
  private final List<Integer> ioases = new ArrayList<>();

  /** VFIO group and device descriptors the case opened (also in {@code fds}, for close). */
  private final List<Integer> vfioFds = new ArrayList<>();

  CallGenerator(long seed) {
    this.rnd = new SplittableRandom(seed);
  }

  /** Learns ids, descriptors and IOVAs from a successful call's reply. */
  void learn(FuzzCall call, long result, FuzzWorld world) {
    boolean opens =
        call.request() == FuzzCall.OPEN_CDEV
            || call.request() == FuzzCall.OPEN_GROUP
            || (call.fd() != FuzzCall.IOMMUFD && call.request() == Vfio.VFIO_GROUP_GET_DEVICE_FD);
    if (opens && result > 0) {
      remember(fds, (int) result);
      remember(vfioFds, (int) result);
      if (call.request() == FuzzCall.OPEN_GROUP) {
        followUps.add(deviceIoctl((int) result, Vfio.VFIO_GROUP_SET_CONTAINER));
      } else {
        followUps.add(deviceIoctl((int) result, Vfio.VFIO_DEVICE_BIND_IOMMUFD));
      }
      return;
    }
    if (result != 0 || call.isPseudo()) {
      return;
    }
    if (call.fd() != FuzzCall.IOMMUFD) {
      byte[] out = world.read(call.arg(), 16);
      if (out == null) {
        return;
      }
      MemorySegment o = MemorySegment.ofArray(out);
      if (call.request() == Vfio.VFIO_DEVICE_BIND_IOMMUFD) {
        remember(ids, o.get(U32, 12)); // out_devid
        followUps.add(deviceIoctl(call.fd(), Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT));
      } else if (call.request() == Vfio.VFIO_GROUP_SET_CONTAINER) {
        followUps.add(deviceIoctl(call.fd(), Vfio.VFIO_GROUP_GET_DEVICE_FD));
      } else if (call.request() == Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT) {
        remember(ids, o.get(U32, 8)); // pt_id, the HWPT used
      }
      return;
    }
    int nr = (int) (call.request() & 0xff);
    byte[] reply = world.read(call.arg(), 72);
    if (reply == null) {
      return;
    }
    Struct r = Struct.over(MemorySegment.ofArray(reply), IommuTestCmd.LAYOUT);
    if (nr == Command.IOMMU_IOAS_ALLOC.nr()) {
      remember(ids, r.u32(IommuIoasAlloc.OUT_IOAS_ID));
      remember(ioases, r.u32(IommuIoasAlloc.OUT_IOAS_ID));
    } else if (nr == Command.IOMMU_IOAS_MAP.nr()) {
      iovas.add(r.u64(IommuIoasMap.IOVA));
    } else if (nr == Command.IOMMU_IOAS_COPY.nr()) {
      iovas.add(r.u64(IommuIoasCopy.DST_IOVA));
    } else if (nr == Command.IOMMU_TEST_CMD.nr()) {
      int op = r.u32(IommuTestCmd.OP);
      if (op == IOMMU_TEST_OP_MOCK_DOMAIN || op == IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS) {
        remember(ids, r.u32(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID));
        remember(ids, r.u32(IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID));
        remember(ids, r.u32(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID));
      } else if (op == IOMMU_TEST_OP_CREATE_ACCESS) {
        remember(fds, r.u32(IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD));
      } else if (op == IOMMU_TEST_OP_ACCESS_PAGES) {
        remember(ids, r.u32(IommuTestCmd.ACCESS_PAGES_OUT_ACCESS_PAGES_ID));
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
    if (!followUps.isEmpty() && rnd.nextInt(3) != 0) {
      return followUps.poll();
    }
    if (rnd.nextInt(60) == 0) {
      return new FuzzCall(FuzzCall.CLOSE_FD, fd(), List.of());
    }
    if (rnd.nextInt(3) == 0) {
      return deviceCall();
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
    Struct s = Struct.over(MemorySegment.ofArray(new byte[cmd.ksize() + 16]), cmd);
    List<FuzzCall.Write> extra = new ArrayList<>();
    fill(cmd, s, extra);
    return place(cmd, s, extra);
  }

  private void fill(Command cmd, Struct s, List<FuzzCall.Write> extra) {
    switch (cmd) {
      case IOMMU_IOAS_MAP -> {
        s.u32(IommuIoasMap.FLAGS, flags(7));
        s.u32(IommuIoasMap.IOAS_ID, id());
        s.u32(IommuIoasMap.RESERVED, rnd.nextInt(20) == 0 ? 1 : 0);
        s.u64(IommuIoasMap.USER_VA, userVa());
        s.u64(IommuIoasMap.LENGTH, length());
        s.u64(IommuIoasMap.IOVA, interesting());
      }
      case IOMMU_IOAS_UNMAP -> {
        s.u32(IommuIoasUnmap.IOAS_ID, id());
        boolean all = rnd.nextInt(10) == 0;
        s.u64(IommuIoasUnmap.IOVA, all ? 0 : interesting());
        s.u64(IommuIoasUnmap.LENGTH, all ? -1 : length());
      }
      case IOMMU_IOAS_COPY -> {
        s.u32(IommuIoasCopy.FLAGS, flags(7) | (rnd.nextInt(10) == 0 ? 1 << 16 : 0));
        s.u32(IommuIoasCopy.DST_IOAS_ID, id());
        s.u32(IommuIoasCopy.SRC_IOAS_ID, id());
        s.u64(IommuIoasCopy.LENGTH, length());
        s.u64(IommuIoasCopy.DST_IOVA, interesting());
        s.u64(IommuIoasCopy.SRC_IOVA, interesting());
      }
      case IOMMU_IOAS_ALLOC -> s.u32(IommuIoasAlloc.FLAGS, rnd.nextInt(10) == 0 ? 1 : 0);
      case IOMMU_DESTROY -> s.u32(IommuDestroy.ID, id());
      case IOMMU_IOAS_IOVA_RANGES -> {
        s.u32(IommuIoasIovaRanges.IOAS_ID, id());
        s.u32(IommuIoasIovaRanges.NUM_IOVAS, rnd.nextInt(4));
        s.u64(IommuIoasIovaRanges.ALLOWED_IOVAS, arrayPointer());
      }
      case IOMMU_IOAS_ALLOW_IOVAS -> {
        int n = rnd.nextInt(4);
        s.u32(IommuIoasAllowIovas.IOAS_ID, id());
        s.u32(IommuIoasAllowIovas.NUM_IOVAS, n);
        long array = arrayPointer();
        s.u64(IommuIoasAllowIovas.ALLOWED_IOVAS, array);
        Struct ranges = IommuIovaRange.array(Struct.HEAP, n);
        for (int i = 0; i < n; i++) {
          long start = interesting();
          long at = (long) IommuIovaRange.SIZE * i;
          ranges.u64(at + IommuIovaRange.START, start);
          ranges.u64(
              at + IommuIovaRange.LAST, rnd.nextBoolean() ? start + length() - 1 : interesting());
        }
        extra.add(new FuzzCall.Write(array, ranges.bytes()));
      }
      case IOMMU_OPTION -> {
        s.u32(IommuOption.OPTION_ID, rnd.nextInt(3));
        s.u16(IommuOption.OP, rnd.nextInt(3));
        s.u32(IommuOption.OBJECT_ID, rnd.nextBoolean() ? 0 : id());
        s.u64(IommuOption.VAL64, rnd.nextInt(4) == 0 ? interesting() : rnd.nextInt(2));
      }
      case IOMMU_VFIO_IOAS -> {
        s.u32(IommuVfioIoas.IOAS_ID, id());
        s.u16(IommuVfioIoas.OP, rnd.nextInt(4));
      }
      case IOMMU_TEST_CMD -> fillTestCmd(s, extra);
      default -> {
        for (long off = 4; off + 8 <= s.segment().byteSize(); off += 8) {
          s.u64(off, rnd.nextInt(3) == 0 ? interesting() : 0);
        }
      }
    }
  }

  private void fillTestCmd(Struct s, List<FuzzCall.Write> extra) {
    int op = TEST_OPS[rnd.nextInt(TEST_OPS.length)];
    s.u32(IommuTestCmd.OP, op);
    boolean usesFd =
        op == IOMMU_TEST_OP_DESTROY_ACCESS_PAGES
            || op == IOMMU_TEST_OP_ACCESS_PAGES
            || op == IOMMU_TEST_OP_ACCESS_RW
            || op == IOMMU_TEST_OP_ACCESS_REPLACE_IOAS;
    s.u32(IommuTestCmd.ID, usesFd ? fd() : id());
    for (long off = IommuTestCmd.ADD_RESERVED_START; off < IommuTestCmd.LAST; off += 8) {
      s.u64(off, rnd.nextInt(3) == 0 ? 0 : interesting()); // the whole union
    }
    switch (op) {
      case IOMMU_TEST_OP_MOCK_DOMAIN, IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS -> {
        s.u64(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID, 0); // with out_hwpt_id
        s.u64(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID, 0); // with dev_flags
        s.u32(
            IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS,
            rnd.nextInt(8) == 0 ? rnd.nextInt() : rnd.nextInt(4));
      }
      case IOMMU_TEST_OP_MD_CHECK_MAP -> {
        s.u64(IommuTestCmd.CHECK_MAP_LENGTH, length());
        s.u64(IommuTestCmd.CHECK_MAP_UPTR, userVa() & -2048L);
      }
      case IOMMU_TEST_OP_MD_CHECK_REFS -> {
        s.u64(IommuTestCmd.CHECK_REFS_LENGTH, length() & -4096L);
        s.u64(IommuTestCmd.CHECK_REFS_UPTR, userVa() & -4096L);
        s.u32(IommuTestCmd.CHECK_REFS_REFS, rnd.nextInt(3));
      }
      case IOMMU_TEST_OP_CREATE_ACCESS -> s.u32(IommuTestCmd.CREATE_ACCESS_FLAGS, rnd.nextInt(3));
      case IOMMU_TEST_OP_DESTROY_ACCESS_PAGES ->
          s.u32(IommuTestCmd.DESTROY_ACCESS_PAGES_ACCESS_PAGES_ID, rnd.nextInt(4));
      case IOMMU_TEST_OP_ACCESS_PAGES -> {
        s.u32(IommuTestCmd.ACCESS_PAGES_FLAGS, flags(1));
        s.u64(IommuTestCmd.ACCESS_PAGES_LENGTH, length());
        s.u64(IommuTestCmd.ACCESS_PAGES_UPTR, rnd.nextBoolean() ? 0 : userVa());
      }
      case IOMMU_TEST_OP_ACCESS_RW -> {
        s.u64(IommuTestCmd.ACCESS_RW_LENGTH, 1 + rnd.nextLong(0x2000));
        s.u64(IommuTestCmd.ACCESS_RW_UPTR, userVa());
        s.u32(IommuTestCmd.ACCESS_RW_FLAGS, flags(5));
      }
      case IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT ->
          s.u32(IommuTestCmd.MEMORY_LIMIT_LIMIT, rnd.nextInt(70000));
      case IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE -> s.u32(IommuTestCmd.MOCK_DOMAIN_REPLACE_PT_ID, id());
      case IOMMU_TEST_OP_ACCESS_REPLACE_IOAS ->
          s.u32(IommuTestCmd.ACCESS_REPLACE_IOAS_IOAS_ID, id());
      case IOMMU_TEST_OP_DIRTY -> {
        s.u64(IommuTestCmd.DIRTY_PAGE_SIZE, rnd.nextBoolean() ? 2048 : interesting());
        s.u64(IommuTestCmd.DIRTY_UPTR, arrayPointer());
      }
      default -> {}
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
  private FuzzCall place(Command cmd, Struct s, List<FuzzCall.Write> extra) {
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
        s.u64(cmd.ksize(), 1L << rnd.nextInt(64));
      }
      case 3 -> size = rnd.nextInt();
      default -> {}
    }
    s.size(size);
    long arg;
    int len = cmd.ksize() + tail;
    switch (rnd.nextInt(20)) {
      case 0 -> arg = 0;
      case 1 -> arg = FuzzWorld.HOLE;
      case 2 -> arg = FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE - 1 - rnd.nextInt(len); // crosses out
      case 3 -> arg = FuzzWorld.READONLY; // readable, respond faults
      default -> arg = FuzzWorld.ARGS + 8L * rnd.nextInt(64);
    }
    byte[] bytes = s.segment().asSlice(0, len).toArray(ValueLayout.JAVA_BYTE);
    List<FuzzCall.Write> writes = new ArrayList<>();
    long room =
        arg >= FuzzWorld.ARGS && arg < FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE
            ? FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE - arg
            : 0;
    if (room > 0) {
      writes.add(new FuzzCall.Write(arg, Arrays.copyOf(bytes, (int) Math.min(room, bytes.length))));
    }
    writes.addAll(extra);
    return new FuzzCall(cmd.request(), arg, writes);
  }

  // ---- the VFIO device and group files --------------------------------------------------------

  /** A call on the emulated edu's files: opens, ioctls, region reads and writes, mmap checks. */
  private FuzzCall deviceCall() {
    int pick = rnd.nextInt(100);
    if (vfioFds.isEmpty() || pick < 8) {
      long which = rnd.nextInt(8) == 0 ? rnd.nextInt(3) : 0; // vfio1 and group 1 do not exist
      return new FuzzCall(
          rnd.nextBoolean() ? FuzzCall.OPEN_CDEV : FuzzCall.OPEN_GROUP, which, List.of());
    }
    int fd =
        switch (rnd.nextInt(12)) {
          case 0 -> fd();
          case 1, 2, 3, 4 -> vfioFds.get(rnd.nextInt(vfioFds.size()));
          default -> vfioFds.getLast(); // the file just opened, so calls build on each other
        };
    if (pick < 30) {
      return regionAccess(fd, pick < 19 ? FuzzCall.PREAD : FuzzCall.PWRITE);
    }
    if (pick < 36) {
      long length =
          rnd.nextInt(4) == 0 ? length() : 4096L * (1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 300));
      long offset =
          rnd.nextInt(4) == 0
              ? regionOffset()
              : (rnd.nextInt(3) == 0 ? rnd.nextInt(REGIONS + 1) : 0L) << 40
                  | 4096L * rnd.nextInt(rnd.nextBoolean() ? 4 : 300);
      int prot = rnd.nextInt(4);
      int flags = rnd.nextInt(5) == 0 ? rnd.nextInt(0x20) : 1; // MAP_SHARED mostly
      return new FuzzCall(FuzzCall.MMAP, prot | (long) flags << 32, List.of(), fd, offset, length);
    }
    return deviceIoctl(fd, DEVICE_REQUESTS[rnd.nextInt(DEVICE_REQUESTS.length)]);
  }

  /** {@code ioctl(fd, request, arg)} with a struct filled for the request, usually well formed. */
  private FuzzCall deviceIoctl(int fd, long request) {
    byte[] arg = new byte[96];
    MemorySegment a = MemorySegment.ofArray(arg);
    int argsz = 0;
    if (request == Vfio.VFIO_DEVICE_BIND_IOMMUFD) {
      argsz = 16;
      a.set(U32, 8, rnd.nextInt(6) == 0 ? fd() : FuzzCall.IOMMUFD);
    } else if (request == Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT) {
      argsz = 12;
      a.set(U32, 8, rnd.nextBoolean() || ioases.isEmpty() ? id() : ioases.getLast());
    } else if (request == Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT) {
      argsz = 8;
    } else if (request == Vfio.VFIO_DEVICE_GET_INFO) {
      argsz = VfioDeviceInfo.SIZE;
    } else if (request == Vfio.VFIO_DEVICE_GET_REGION_INFO) {
      argsz = VfioRegionInfo.SIZE + (rnd.nextBoolean() ? 64 : 0); // with room for capabilities
      a.set(U32, VfioRegionInfo.INDEX, rnd.nextInt(REGIONS + 1));
    } else if (request == Vfio.VFIO_DEVICE_GET_IRQ_INFO) {
      argsz = VfioIrqInfo.SIZE;
      a.set(U32, VfioIrqInfo.INDEX, rnd.nextInt(6));
    } else if (request == Vfio.VFIO_DEVICE_SET_IRQS) {
      argsz = setIrqs(a);
    } else if (request == Vfio.VFIO_DEVICE_FEATURE) {
      argsz = VfioDeviceFeature.SIZE + rnd.nextInt(32);
      a.set(U32, VfioDeviceFeature.FLAGS, flags(0x7_000f) | rnd.nextInt(12));
    } else if (request == Vfio.VFIO_GROUP_GET_STATUS) {
      argsz = 8;
    } else if (request == Vfio.VFIO_GROUP_SET_CONTAINER) {
      a.set(U32, 0, rnd.nextInt(5) == 0 ? fd() : FuzzCall.IOMMUFD); // the arg is an int *
    } else if (request == Vfio.VFIO_GROUP_GET_DEVICE_FD) {
      String name =
          switch (rnd.nextInt(6)) {
            case 0 -> "0000:00:05.0";
            case 1 -> FuzzWorld.EDU_BDF + " vf_token=00000000-0000-0000-0000-000000000000";
            case 2 -> FuzzWorld.EDU_BDF.substring(5);
            default -> FuzzWorld.EDU_BDF;
          };
      byte[] n = (name + "\0").getBytes(StandardCharsets.ISO_8859_1);
      System.arraycopy(n, 0, arg, 0, n.length);
    } else if (request == Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO) {
      argsz = 16 + 8 * rnd.nextInt(3);
    }
    if (argsz != 0 && request != Vfio.VFIO_GROUP_GET_DEVICE_FD) {
      a.set(U32, 0, rnd.nextInt(10) == 0 ? rnd.nextInt(argsz + 8) : argsz);
    }
    long at = FuzzWorld.ARGS + 8L * rnd.nextInt(64);
    long pointer =
        switch (rnd.nextInt(24)) {
          case 0 -> 0;
          case 1 -> FuzzWorld.HOLE;
          case 2 -> FuzzWorld.READONLY;
          case 3 -> FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE - 4; // runs off the mapping
          default -> at;
        };
    long room = FuzzWorld.ARGS + FuzzWorld.ARGS_SIZE - at;
    byte[] placed = Arrays.copyOf(arg, (int) Math.min(room, arg.length));
    long value = request == Vfio.VFIO_DEVICE_RESET ? 0 : pointer;
    return new FuzzCall(request, value, List.of(new FuzzCall.Write(at, placed)), fd, 0, 0);
  }

  /** SET_IRQS with random data: eventfds (some not eventfds, some -1), bools, or none. */
  private int setIrqs(MemorySegment a) {
    int data =
        switch (rnd.nextInt(8)) {
          case 0 -> rnd.nextInt(8); // several data types, or none of them
          case 1, 2 -> VfioIrqSet.VFIO_IRQ_SET_DATA_NONE;
          case 3 -> VfioIrqSet.VFIO_IRQ_SET_DATA_BOOL;
          default -> VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD;
        };
    int action =
        switch (rnd.nextInt(8)) {
          case 0 -> VfioIrqSet.VFIO_IRQ_SET_ACTION_MASK;
          case 1 -> VfioIrqSet.VFIO_IRQ_SET_ACTION_UNMASK;
          case 2 -> rnd.nextInt(8) << 3;
          default -> VfioIrqSet.VFIO_IRQ_SET_ACTION_TRIGGER;
        };
    int count = rnd.nextInt(8) == 0 ? rnd.nextInt() : rnd.nextInt(3) == 0 ? rnd.nextInt(4) : 1;
    int start = rnd.nextInt(8) == 0 ? rnd.nextInt(4) : 0;
    a.set(U32, VfioIrqSet.FLAGS, data | action | (rnd.nextInt(16) == 0 ? 1 << 8 : 0));
    a.set(U32, VfioIrqSet.INDEX, rnd.nextInt(8) == 0 ? rnd.nextInt(8) : rnd.nextInt(3));
    a.set(U32, VfioIrqSet.START, start);
    a.set(U32, VfioIrqSet.COUNT, count);
    int n = Math.max(0, Math.min(count, 8));
    for (int i = 0; i < n; i++) {
      int[] eventfds = FuzzWorld.EVENTFDS;
      int v =
          switch (rnd.nextInt(8)) {
            case 0 -> -1;
            case 1 -> fd();
            case 2 -> rnd.nextInt(3); // as a bool
            default -> eventfds[rnd.nextInt(eventfds.length)];
          };
      a.set(U32, VfioIrqSet.DATA + 4L * i, v);
    }
    int size = (int) VfioIrqSet.DATA;
    return size
        + ((data & VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD) != 0 ? 4 * n : 0)
        + ((data & VfioIrqSet.VFIO_IRQ_SET_DATA_BOOL) != 0 ? n : 0);
  }

  /** A file offset in a region (index << 40): registers, config space, edges and past the end. */
  private long regionOffset() {
    long index = rnd.nextInt(4) == 0 ? rnd.nextInt(REGIONS + 1) : rnd.nextBoolean() ? 0 : 7;
    long within =
        switch (rnd.nextInt(6)) {
          case 0 -> rnd.nextLong(1L << 20) + (rnd.nextBoolean() ? 0 : 0xff000); // edu's 1 MiB
          case 1 -> INTERESTING[rnd.nextInt(INTERESTING.length)] & ((1L << 40) - 1);
          case 2 -> 0x80 + 8L * rnd.nextInt(4); // edu's DMA registers
          default -> rnd.nextInt(0x100) & ~(rnd.nextInt(4) == 0 ? 0 : 3); // registers, config
        };
    return index << 40 | within;
  }

  private FuzzCall regionAccess(int fd, long request) {
    int[] widths = {1, 2, 4, 8};
    long count = rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(0x2000) : widths[rnd.nextInt(4)];
    long buffer =
        switch (rnd.nextInt(12)) {
          case 0 -> FuzzWorld.HOLE;
          case 1 -> FuzzWorld.READONLY;
          default -> FuzzWorld.BUFFER + 8L * rnd.nextInt(1024);
        };
    List<FuzzCall.Write> writes = new ArrayList<>();
    if (request == FuzzCall.PWRITE && buffer >= FuzzWorld.BUFFER) {
      byte[] value = new byte[(int) Math.min(count, 64)];
      rnd.nextBytes(value);
      if (rnd.nextBoolean()) { // plausible register values: small numbers, DMA addresses
        Arrays.fill(value, (byte) 0);
        long v = rnd.nextBoolean() ? rnd.nextInt(16) : iovas.get(rnd.nextInt(iovas.size()));
        for (int i = 0; i < Math.min(8, value.length); i++) {
          value[i] = (byte) (v >>> (8 * i));
        }
      }
      writes.add(new FuzzCall.Write(buffer, value));
    }
    return new FuzzCall(request, buffer, writes, fd, regionOffset(), count);
  }

  /** A random request number near iommufd's, with random bytes. */
  private FuzzCall rawCall() {
    long request =
        switch (rnd.nextInt(4)) {
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
    return new FuzzCall(
        request,
        rnd.nextInt(8) == 0 ? rnd.nextLong() : arg,
        List.of(new FuzzCall.Write(arg, bytes)));
  }
}
