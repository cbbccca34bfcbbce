package org.iommufd4j.trace;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.PaddingLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.StructLayout;
import java.lang.foreign.UnionLayout;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.trace.MemoryLog.Kind;
import org.iommufd4j.trace.MemoryLog.Op;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptInvalidate;
import org.iommufd4j.uapi.IommuHwptSetDirtyTracking;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.IommuVfioIoas;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.iommufd4j.uapi.VfioIommuType1DmaUnmap;
import org.iommufd4j.uapi.VfioIommuType1Info;

/**
 * A recorded event as one line a person can read, as strace decodes ioctls:
 *
 * <pre>
 * [pid 812] open /dev/iommu = file 1
 * [pid 812] ioctl(file 1, IOMMU_IOAS_ALLOC, {size=12, flags=0, out_ioas_id=0}
 *     => {out_ioas_id=1}) = 0
 * [pid 812] ioctl(file 1, IOMMU_IOAS_MAP, {size=40, flags=FIXED_IOVA|WRITEABLE|READABLE, ...})
 *     = -1 EEXIST (File exists)
 * close file 1
 * </pre>
 *
 * <p>The struct shown is what the call read at its argument (every member the read covered; for
 * {@code IOMMU_TEST_CMD} the union arm its {@code op} names); {@code => {...}} lists the members
 * whose bytes the call's writes there changed; a failure shows the errno's name and text. The size
 * word, ids and counts are decimal, other 64-bit members (addresses, IOVAs, lengths) hex, flags and
 * enumerations named by the uapi constants. A request this table does not know prints as its number
 * with the raw bytes read.
 */
public final class CallPrinter {
  private static final HexFormat HEX = HexFormat.of();

  /** Symbolic members: "struct.member" to the names of its values. */
  private static final Map<String, Names> SYMBOLS =
      Map.ofEntries(
          Map.entry("iommu_ioas_map.flags", Names.flags(IommuIoasMap.class, "IOMMU_IOAS_MAP_")),
          Map.entry("iommu_ioas_copy.flags", Names.flags(IommuIoasMap.class, "IOMMU_IOAS_MAP_")),
          Map.entry("iommu_option.op", Names.values(IommuOption.class, "IOMMU_OPTION_OP_")),
          Map.entry(
              "iommu_option.option_id",
              Names.values(
                  IommuOption.class,
                  "IOMMU_OPTION_",
                  "IOMMU_OPTION_RLIMIT_",
                  "IOMMU_OPTION_HUGE_")),
          Map.entry("iommu_vfio_ioas.op", Names.values(IommuVfioIoas.class, "IOMMU_VFIO_IOAS_")),
          Map.entry(
              "iommu_hwpt_alloc.flags",
              Names.flags(
                  IommuHwptAlloc.class, "IOMMU_HWPT_", "IOMMU_HWPT_ALLOC_", "IOMMU_HWPT_FAULT_")),
          Map.entry(
              "iommu_hwpt_alloc.data_type", Names.values(IommuHwptAlloc.class, "IOMMU_HWPT_DATA_")),
          Map.entry("iommu_hw_info.flags", Names.flags(IommuHwInfo.class, "IOMMU_HW_INFO_FLAG_")),
          Map.entry(
              "iommu_hw_info.out_data_type",
              Names.values(IommuHwInfo.class, "IOMMU_HW_INFO_TYPE_")),
          Map.entry(
              "iommu_hwpt_set_dirty_tracking.flags",
              Names.flags(IommuHwptSetDirtyTracking.class, "IOMMU_HWPT_DIRTY_TRACKING_")),
          Map.entry(
              "iommu_hwpt_get_dirty_bitmap.flags",
              Names.flags(IommuHwptGetDirtyBitmap.class, "IOMMU_HWPT_GET_DIRTY_BITMAP_")),
          Map.entry(
              "iommu_hwpt_invalidate.data_type",
              Names.values(IommuHwptInvalidate.class, "IOMMU_HWPT_INVALIDATE_DATA_")),
          Map.entry("iommu_test_cmd.op", Names.values(IommuTestCmd.class, "IOMMU_TEST_OP_")),
          Map.entry(
              "iommu_test_cmd.mock_domain_flags.dev_flags",
              Names.flags(IommuTestCmd.class, "MOCK_FLAGS_DEVICE_")),
          Map.entry(
              "iommu_test_cmd.create_access.flags",
              Names.flags(IommuTestCmd.class, "MOCK_FLAGS_ACCESS_CREATE_")),
          Map.entry(
              "iommu_test_cmd.access_pages.flags",
              Names.flags(
                  IommuTestCmd.class,
                  "MOCK_FLAGS_ACCESS_",
                  "MOCK_FLAGS_ACCESS_WRITE",
                  "MOCK_FLAGS_ACCESS_SYZ")),
          Map.entry(
              "iommu_test_cmd.access_rw.flags", Names.flags(IommuTestCmd.class, "MOCK_ACCESS_RW_")),
          Map.entry(
              "vfio_iommu_type1_dma_map.flags",
              Names.flags(VfioIommuType1DmaMap.class, "VFIO_DMA_MAP_FLAG_")),
          Map.entry(
              "vfio_iommu_type1_dma_unmap.flags",
              Names.flags(VfioIommuType1DmaUnmap.class, "VFIO_DMA_UNMAP_FLAG_")),
          Map.entry(
              "vfio_iommu_type1_info.flags",
              Names.flags(VfioIommuType1Info.class, "VFIO_IOMMU_INFO_")));

  /** The test ops' union members, by op. */
  private static final Map<Integer, String> TEST_OP_MEMBERS =
      Map.ofEntries(
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED, "add_reserved"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN, "mock_domain"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP, "check_map"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS, "check_refs"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, "create_access"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, "destroy_access_pages"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_ACCESS_PAGES, "access_pages"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_ACCESS_RW, "access_rw"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT, "memory_limit"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, "mock_domain_replace"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_ACCESS_REPLACE_IOAS, "access_replace_ioas"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, "mock_domain_flags"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_DIRTY, "dirty"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_IOTLB, "check_iotlb"),
          Map.entry(IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF, "trigger_iopf"));

  /** The type-1 container requests (the ones an iommufd file answers) by number. */
  private static final Map<Long, String> VFIO_REQUESTS = vfioRequests();

  /** VFIO extensions and IOMMU types (the integer argument of CHECK_EXTENSION, SET_IOMMU). */
  private static final Names VFIO_EXTENSIONS = vfioExtensions();

  private CallPrinter() {}

  /**
   * {@code event} as one line; {@code timestamps}: prefixed with its time since the recording
   * started, in seconds.
   */
  public static String line(Trace.Event event, boolean timestamps) {
    return line(event, timestamps, new Files());
  }

  /**
   * {@code event} as one line, {@code files} knowing which files the trace's earlier events made
   * VFIO groups and devices (their ioctls have their own names): call {@link Files#see} with each
   * event first.
   */
  public static String line(Trace.Event event, boolean timestamps, Files files) {
    String text =
        switch (event) {
          case Trace.Open o ->
              pid(o.pid())
                  + "open "
                  + (o.vfio() ? "/dev/vfio/vfio" : "/dev/iommu")
                  + " = file "
                  + o.file();
          case Trace.Process p ->
              pid(p.pid())
                  + "process uid="
                  + p.uid()
                  + " caps="
                  + capabilities(p)
                  + " memlock="
                  + p.memlockLimit();
          case Trace.Ioctl i -> pid(i.pid()) + ioctl(i, files.requestName(i));
          case Trace.Close c -> "close file " + c.file();
          case Trace.Exit x -> pid(x.pid()) + "exit";
          case Trace.VfioOpen o ->
              pid(o.pid())
                  + "open "
                  + o.path()
                  + " = "
                  + (o.result() < 0 ? result(o.result()) : "file " + o.file());
          case Trace.Transfer x -> pid(x.pid()) + transfer(x);
          case Trace.Mmap m ->
              pid(m.pid())
                  + "mmap(dev "
                  + m.device()
                  + ", "
                  + region(m.offset())
                  + ", 0x"
                  + Long.toHexString(m.length())
                  + ", "
                  + protection(m.prot())
                  + ", "
                  + ((m.flags() & LibC.MAP_SHARED) != 0
                      ? "MAP_SHARED"
                      : "0x" + Integer.toHexString(m.flags()))
                  + ") = "
                  + result(m.result());
          case Trace.Timer t ->
              "timer(dev "
                  + t.device()
                  + ", "
                  + t.timer()
                  + ")"
                  + effects(t.memory(), " => ", ", ", "");
        };
    return timestamps ? seconds(time(event)) + " " + text : text;
  }

  /**
   * The name of {@code request}: the iommufd command, the VFIO container request, or its number in
   * hex.
   */
  public static String requestName(long request) {
    Command c = Command.of(request);
    if (c != null) {
      return c.name();
    }
    String vfio = VFIO_REQUESTS.get(request & 0xffff_ffffL);
    return vfio != null ? vfio : "0x" + Long.toHexString(request);
  }

  /** The time of {@code event} in ns since the recording started (-1 for a process line). */
  static long time(Trace.Event event) {
    return switch (event) {
      case Trace.Open o -> o.t();
      case Trace.Ioctl i -> i.t();
      case Trace.Close c -> c.t();
      case Trace.Exit x -> x.t();
      case Trace.Process p -> -1;
      case Trace.VfioOpen o -> o.t();
      case Trace.Transfer x -> x.t();
      case Trace.Mmap m -> m.t();
      case Trace.Timer t -> t.t();
    };
  }

  /**
   * Which of a trace's files are VFIO groups and devices (opened as {@code /dev/vfio/N} or a cdev,
   * or made by {@code VFIO_GROUP_GET_DEVICE_FD}): their ioctls are named from vfio.h's group and
   * device requests, whose numbers the container's reuse.
   */
  public static final class Files {
    private final Map<Long, Boolean> vfio = new HashMap<>(); // file -> is a device

    /** Learns what {@code event} tells of the files. */
    public void see(Trace.Event event) {
      switch (event) {
        case Trace.VfioOpen o when o.result() >= 0 ->
            vfio.put(o.file(), o.path().startsWith("/dev/vfio/devices/"));
        case Trace.Ioctl i when Boolean.FALSE.equals(vfio.get(i.file())) -> {
          for (Op op : i.memory()) {
            if (op.kind() == Kind.FD) {
              vfio.put(op.file(), true); // GET_DEVICE_FD
            }
          }
        }
        case Trace.Close c -> vfio.remove(c.file());
        default -> {}
      }
    }

    /** The name of the call's request on its file. */
    public String requestName(Trace.Ioctl call) {
      Boolean device = vfio.get(call.file());
      if (device == null) {
        return CallPrinter.requestName(call.request());
      }
      String name =
          (device ? VFIO_DEVICE_REQUESTS : VFIO_GROUP_REQUESTS).get(call.request() & 0xffff_ffffL);
      return name != null ? name : "0x" + Long.toHexString(call.request());
    }
  }

  private static final Map<Long, String> VFIO_GROUP_REQUESTS =
      constants(Vfio.class, "", "VFIO_GROUP_", "VFIO_CHECK_EXTENSION");
  private static final Map<Long, String> VFIO_DEVICE_REQUESTS =
      constants(Vfio.class, "", "VFIO_DEVICE_", "VFIO_CHECK_EXTENSION");

  private static String result(long result) {
    String errno = Trace.errnoName(result);
    return errno != null
        ? "-1 " + errno + " (" + LibC.strerror((int) -result) + ")"
        : Long.toString(result);
  }

  // ---- devices --------------------------------------------------------------------------------

  private static final String[] REGIONS = {
    "BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA"
  };
  private static final String[] IRQS = {"INTX", "MSI", "MSIX", "ERR", "REQ"};

  /** A vfio-pci file offset as its region and offset there: "BAR0+0x8", "CONFIG+0x4". */
  public static String region(long offset) {
    long index = offset >>> 40;
    String name = index < REGIONS.length ? REGIONS[(int) index] : "region" + index;
    return name + "+0x" + Long.toHexString(offset & ((1L << 40) - 1));
  }

  /** A device call's interrupt or DMA: "irq MSI[0]", "dma from memory iova 0x1000 len 0x800". */
  static String effect(Op op) {
    return switch (op.kind()) {
      case IRQ ->
          "irq "
              + (op.fd() >= 0 && op.fd() < IRQS.length ? IRQS[op.fd()] : "index" + op.fd())
              + "["
              + op.address()
              + "]";
      case DMA ->
          "dma "
              + (op.write() ? "to" : "from")
              + " memory iova 0x"
              + Long.toHexString(op.address())
              + " len 0x"
              + Long.toHexString(op.length())
              + (op.ok() ? "" : " FAULT");
      default -> op.kind().name().toLowerCase(Locale.ROOT);
    };
  }

  /** The interrupts and DMA among {@code ops}, or {@code none}. */
  private static String effects(List<Op> ops, String before, String between, String none) {
    List<String> shown = new ArrayList<>();
    for (Op op : ops) {
      if (op.kind() == Kind.IRQ || op.kind() == Kind.DMA) {
        shown.add(effect(op));
      }
    }
    return shown.isEmpty() ? none : before + String.join(between, shown);
  }

  private static String protection(int prot) {
    if (prot == LibC.PROT_NONE) {
      return "PROT_NONE";
    }
    List<String> names = new ArrayList<>();
    if ((prot & LibC.PROT_READ) != 0) {
      names.add("PROT_READ");
    }
    if ((prot & LibC.PROT_WRITE) != 0) {
      names.add("PROT_WRITE");
    }
    if ((prot & ~(LibC.PROT_READ | LibC.PROT_WRITE)) != 0) {
      names.add("0x" + Integer.toHexString(prot & ~(LibC.PROT_READ | LibC.PROT_WRITE)));
    }
    return String.join("|", names);
  }

  /**
   * {@code pread(dev 0000:00:04.0, BAR0+0x8, 4) = 4 [0x00000001]}: the bytes moved, as a
   * little-endian value up to 8 bytes, else in hex; then the interrupts and DMA the access caused.
   */
  private static String transfer(Trace.Transfer x) {
    StringBuilder s =
        new StringBuilder(x.access().name().toLowerCase(Locale.ROOT))
            .append("(dev ")
            .append(x.device())
            .append(", ")
            .append(region(x.offset()))
            .append(", ")
            .append(x.count())
            .append(") = ")
            .append(result(x.result()));
    byte[] moved = null;
    Kind side = x.access().toDevice() ? Kind.READ : Kind.WRITE;
    for (Op op : x.memory()) {
      if (op.kind() == side && op.ok() && op.bytes() != null && op.address() == x.buffer()) {
        moved = op.bytes();
        break;
      }
    }
    if (moved != null && x.result() > 0) {
      byte[] bytes = Arrays.copyOf(moved, (int) Math.min(moved.length, x.result()));
      s.append(" [").append(bytes.length <= 8 ? littleEndian(bytes) : hexBytes(bytes)).append(']');
    }
    s.append(effects(x.memory(), " ", " ", ""));
    return s.toString();
  }

  private static String littleEndian(byte[] bytes) {
    StringBuilder s = new StringBuilder("0x");
    for (int k = bytes.length - 1; k >= 0; k--) {
      s.append(String.format("%02x", bytes[k] & 0xff));
    }
    return s.toString();
  }

  private static String hexBytes(byte[] bytes) {
    String hex = HEX.formatHex(bytes, 0, Math.min(bytes.length, 64));
    return bytes.length > 64 ? hex + "..." : hex;
  }

  private static String seconds(long ns) {
    return ns < 0 ? "         -" : String.format("%10.6f", ns / 1e9);
  }

  private static String pid(int pid) {
    return "[pid " + pid + "] ";
  }

  private static String capabilities(Trace.Process p) {
    List<String> caps = new ArrayList<>();
    if (p.capIpcLock()) {
      caps.add("CAP_IPC_LOCK");
    }
    if (p.capSysResource()) {
      caps.add("CAP_SYS_RESOURCE");
    }
    return caps.isEmpty() ? "0" : String.join("|", caps);
  }

  // ---- ioctl ----------------------------------------------------------------------------------

  private static String ioctl(Trace.Ioctl call, String name) {
    StringBuilder s =
        new StringBuilder("ioctl(file ")
            .append(call.file())
            .append(", ")
            .append(name)
            .append(", ")
            .append(
                name.startsWith("VFIO_DEVICE_") || name.startsWith("VFIO_GROUP_")
                    ? rawArgument(call)
                    : argument(call))
            .append(") = ")
            .append(result(call.result()));
    for (Op op : call.memory()) {
      if (op.kind() == Kind.FD) {
        s.append(" (fd ").append(op.fd()).append(" = file ").append(op.file()).append(')');
      }
    }
    s.append(effects(call.memory(), " ", " ", ""));
    return s.toString();
  }

  /** A VFIO group or device request's argument: the bytes read there (not decoded yet). */
  private static String rawArgument(Trace.Ioctl call) {
    byte[] before = structRead(call);
    return "0x"
        + Long.toHexString(call.arg())
        + (before == null ? "" : " <" + HEX.formatHex(before) + ">");
  }

  private static String argument(Trace.Ioctl call) {
    long request = call.request() & 0xffff_ffffL;
    if (request == Vfio.VFIO_CHECK_EXTENSION || request == Vfio.VFIO_SET_IOMMU) {
      return VFIO_EXTENSIONS.valueName(call.arg());
    }
    if (request == Vfio.VFIO_GET_API_VERSION) {
      return "0x" + Long.toHexString(call.arg());
    }
    StructLayout layout = layout(request);
    byte[] before = structRead(call);
    if (before == null) {
      return "0x" + Long.toHexString(call.arg()); // unreadable (EFAULT) or never read
    }
    if (layout == null) {
      return "0x" + Long.toHexString(call.arg()) + " <" + HEX.formatHex(before) + ">";
    }
    byte[] after = afterWrites(call, before);
    String name = layout.name().orElseThrow();
    List<Member> read = members(layout, name, before);
    StringBuilder s = new StringBuilder(render(read, before));
    List<Member> changed =
        read.stream()
            .filter(m -> !Arrays.equals(before, m.offset, m.end(), after, m.offset, m.end()))
            .toList();
    if (!changed.isEmpty()) {
      s.append(" => ").append(render(changed, after));
    }
    return s.toString();
  }

  private static StructLayout layout(long request) {
    Command c = Command.of(request);
    if (c != null) {
      return c.layout();
    }
    if (request == Vfio.VFIO_IOMMU_MAP_DMA) {
      return VfioIommuType1DmaMap.LAYOUT;
    }
    if (request == Vfio.VFIO_IOMMU_UNMAP_DMA) {
      return VfioIommuType1DmaUnmap.LAYOUT;
    }
    if (request == Vfio.VFIO_IOMMU_GET_INFO) {
      return VfioIommuType1Info.LAYOUT;
    }
    return null;
  }

  /** The longest successful read at the argument: the struct as the call saw it. */
  private static byte[] structRead(Trace.Ioctl call) {
    byte[] best = null;
    for (Op op : call.memory()) {
      if (op.kind() == Kind.READ
          && op.ok()
          && op.address() == call.arg()
          && op.bytes() != null
          && (best == null || op.bytes().length > best.length)) {
        best = op.bytes();
      }
    }
    return best;
  }

  /** {@code before} with the call's writes inside it applied. */
  private static byte[] afterWrites(Trace.Ioctl call, byte[] before) {
    byte[] after = before.clone();
    for (Op op : call.memory()) {
      if (op.kind() != Kind.WRITE || !op.ok() || op.bytes() == null) {
        continue;
      }
      long from = Math.max(op.address(), call.arg());
      long to = Math.min(op.address() + op.bytes().length, call.arg() + before.length);
      for (long a = from; a < to; a++) {
        after[(int) (a - call.arg())] = op.bytes()[(int) (a - op.address())];
      }
    }
    return after;
  }

  // ---- members --------------------------------------------------------------------------------

  /**
   * A number (or byte array) in the struct: {@code key} names it in {@link #SYMBOLS}, {@code path}
   * as shown; and where it lies.
   */
  private record Member(String key, String path, int offset, MemoryLayout layout) {
    int end() {
      return offset + (int) layout.byteSize();
    }
  }

  /** The members that lie wholly within {@code bytes}, in order. */
  private static List<Member> members(StructLayout layout, String name, byte[] bytes) {
    List<Member> out = new ArrayList<>();
    collect(layout, name + ".", "", 0, bytes, out);
    out.removeIf(m -> m.end() > bytes.length);
    return out;
  }

  /** {@code keys}: the dotted path so far for {@link #SYMBOLS}; {@code prefix}: as shown. */
  private static void collect(
      GroupLayout group, String keys, String prefix, long base, byte[] bytes, List<Member> out) {
    long offset = base;
    for (MemoryLayout m : group.memberLayouts()) {
      long at = group instanceof UnionLayout ? base : offset;
      offset += m.byteSize();
      switch (m) {
        case PaddingLayout p -> {}
        case UnionLayout u -> {
          // Only IOMMU_TEST_CMD has a union; its op says which arm is meant (shown unprefixed,
          // as the op already names it).
          String arm = TEST_OP_MEMBERS.get((int) value(bytes, IommuTestCmd.OP, 4));
          for (MemoryLayout alternative : u.memberLayouts()) {
            if (alternative.name().orElse("").equals(arm)) {
              collect((GroupLayout) alternative, keys + arm + ".", prefix, at, bytes, out);
            }
          }
        }
        case GroupLayout g ->
            collect(
                g,
                keys + g.name().orElseThrow() + ".",
                prefix + g.name().orElseThrow() + ".",
                at,
                bytes,
                out);
        default -> {
          String name = m.name().orElseThrow();
          if (m.byteSize() > 0) {
            out.add(new Member(keys + name, prefix + name, (int) at, m));
          }
        }
      }
    }
  }

  private static String render(List<Member> members, byte[] bytes) {
    StringBuilder s = new StringBuilder("{");
    for (Member m : members) {
      String v = format(m, bytes);
      if (v == null) {
        continue;
      }
      if (s.length() > 1) {
        s.append(", ");
      }
      s.append(m.path()).append('=').append(v);
    }
    return s.append('}').toString();
  }

  /** The member's value as text, or null to leave out (a zero reserved member). */
  private static String format(Member m, byte[] bytes) {
    String leaf = m.path().substring(m.path().lastIndexOf('.') + 1);
    boolean zero =
        Arrays.equals(
            bytes, m.offset(), m.end(), new byte[m.end() - m.offset()], 0, m.end() - m.offset());
    if (leaf.startsWith("__reserved") && zero) {
      return null;
    }
    if (m.layout() instanceof SequenceLayout) {
      return "<" + HEX.formatHex(bytes, m.offset(), m.end()) + ">";
    }
    int width = (int) m.layout().byteSize();
    long v = value(bytes, m.offset(), width);
    if (leaf.startsWith("__reserved")) {
      return "0x" + Long.toHexString(v);
    }
    Names names = SYMBOLS.get(m.key());
    if (names != null) {
      return names.flags ? names.flagNames(v) : names.valueName(v);
    }
    // the size word (size, argsz) and counts are decimal even where 64 bits wide
    boolean count = m.offset() == 0 || leaf.startsWith("num_") || leaf.startsWith("out_nr_");
    return width == Long.BYTES && !count ? "0x" + Long.toHexString(v) : Long.toUnsignedString(v);
  }

  private static long value(byte[] bytes, long offset, int width) {
    long v = 0;
    for (int i = width - 1; i >= 0; i--) {
      int at = (int) offset + i;
      v = (v << 8) | (at < bytes.length ? bytes[at] & 0xff : 0);
    }
    return v;
  }

  // ---- names ----------------------------------------------------------------------------------

  /**
   * The names of a member's values: the {@code int} constants of {@code owner} whose names start
   * with one of {@code prefixes}, shown without {@code strip}.
   */
  private record Names(Map<Long, String> byValue, boolean flags) {
    static Names flags(Class<?> owner, String strip, String... prefixes) {
      return new Names(constants(owner, strip, prefixes), true);
    }

    static Names values(Class<?> owner, String strip, String... prefixes) {
      return new Names(constants(owner, strip, prefixes), false);
    }

    String valueName(long v) {
      String n = byValue.get(v);
      return n != null ? n : Long.toUnsignedString(v);
    }

    /** {@code A|B|0x8}: named bits, then what is left in hex; "0" for none. */
    String flagNames(long v) {
      List<String> parts = new ArrayList<>();
      long rest = v;
      for (Map.Entry<Long, String> e : byValue.entrySet()) {
        long bit = e.getKey();
        if (bit != 0 && (v & bit) == bit && Long.bitCount(bit) == 1) {
          parts.add(e.getValue());
          rest &= ~bit;
        }
      }
      if (rest != 0 || parts.isEmpty()) {
        parts.add(rest == 0 ? "0" : "0x" + Long.toHexString(rest));
      }
      return String.join("|", parts);
    }
  }

  private static Map<Long, String> constants(Class<?> owner, String strip, String... prefixes) {
    String[] wanted = prefixes.length == 0 ? new String[] {strip} : prefixes;
    Map<Long, String> out = new TreeMap<>(Long::compareUnsigned);
    Field[] fields = owner.getFields();
    Arrays.sort(fields, (a, b) -> a.getName().compareTo(b.getName()));
    for (Field f : fields) {
      if (!Modifier.isStatic(f.getModifiers())
          || f.getType() != int.class && f.getType() != long.class
          || Arrays.stream(wanted).noneMatch(f.getName()::startsWith)) {
        continue;
      }
      long v =
          f.getType() == int.class
              ? Integer.toUnsignedLong(read(f).intValue())
              : read(f).longValue();
      out.putIfAbsent(v, f.getName().substring(strip.length()));
    }
    return out;
  }

  private static Number read(Field f) {
    try {
      return (Number) f.get(null);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@link Vfio}'s requests, the container's where a device request shares the number. */
  private static Map<Long, String> vfioRequests() {
    Map<Long, String> out = new TreeMap<>();
    for (Map.Entry<Long, String> e : constants(Vfio.class, "", "VFIO_").entrySet()) {
      if (e.getKey() >= (Vfio.VFIO_TYPE << 8)) {
        out.put(e.getKey(), e.getValue());
      }
    }
    for (Map.Entry<Long, String> e :
        constants(Vfio.class, "", "VFIO_GET_", "VFIO_CHECK_", "VFIO_SET_", "VFIO_IOMMU_")
            .entrySet()) {
      out.put(e.getKey(), e.getValue());
    }
    return out;
  }

  private static Names vfioExtensions() {
    Map<Long, String> out = new TreeMap<>();
    for (Map.Entry<Long, String> e : constants(Vfio.class, "", "VFIO_").entrySet()) {
      if (e.getKey() > 0
          && e.getKey() < (Vfio.VFIO_TYPE << 8)
          && !e.getValue().equals("VFIO_TYPE")
          && !e.getValue().equals("VFIO_BASE")) {
        out.put(e.getKey(), e.getValue());
      }
    }
    return new Names(out, false);
  }
}
