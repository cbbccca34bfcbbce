package org.iommufd4j.trace;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.iommufd4j.Errno;
import org.iommufd4j.inspect.Json;

/**
 * A recorded run (JSON lines; {@code exec --record FILE}): a header line, then one line per event
 * in the order the calls completed. Field names follow the fuzzer's call lines ({@code request},
 * {@code arg} as hex strings, bytes as lower-case hex). See the README, "Record and replay".
 *
 * <pre>
 * {"format":"iommufd4j-trace","version":1,"testAbi":true,"vfioContainer":false,"selftestCompat":false,"faultInjection":false}
 * {"type":"process","pid":812,"uid":0,"capSysResource":true,"capIpcLock":true,"memlockLimit":8388608}
 * {"type":"open","file":1,"pid":812,"vfio":false,"t":1200}
 * {"type":"ioctl","seq":1,"file":1,"pid":812,"channel":1,"request":"0x3b81","arg":"0x7ffd5c2a1b40",
 *   "result":0,"errno":null,"t":2100,"ns":5300,"memory":[{"op":"read",...},{"op":"write",...}]}
 * {"type":"close","file":1,"t":9000}
 * </pre>
 *
 * <p>A recording with emulated devices names them in the header ({@code "devices":[...]}) and has
 * {@link VfioOpen}, {@link Transfer}, {@link Mmap} and {@link Timer} lines besides; ioctls on VFIO
 * groups and device files are {@link Ioctl} lines on those files.
 */
public final class Trace {
  public static final String FORMAT = "iommufd4j-trace";
  public static final int VERSION = 1;

  /**
   * How the recording server was configured (what the replay's emulator must be). {@code kernel}:
   * the calls went to the real {@code /dev/iommu} ({@code exec --record --kernel}), so the memory
   * of each call is its {@link Footprint}'s bytes before and after it, not the emulator's own reads
   * and writes, and a replay compares what memory holds after each call. {@code devices}: the
   * emulated PCI functions ({@code exec --device}), empty without.
   */
  public record Header(
      boolean testAbi,
      boolean vfioContainer,
      boolean selftestCompat,
      boolean faultInjection,
      boolean kernel,
      List<Device> devices) {
    public Header {
      devices = List.copyOf(devices);
    }

    /** An emulator's recording without devices. */
    public Header(
        boolean testAbi, boolean vfioContainer, boolean selftestCompat, boolean faultInjection) {
      this(testAbi, vfioContainer, selftestCompat, faultInjection, false, List.of());
    }

    /** A recording without devices. */
    public Header(
        boolean testAbi,
        boolean vfioContainer,
        boolean selftestCompat,
        boolean faultInjection,
        boolean kernel) {
      this(testAbi, vfioContainer, selftestCompat, faultInjection, kernel, List.of());
    }
  }

  /**
   * An emulated PCI function of the recording ({@code exec --device}): its model and options as
   * {@code --device} took them, where it sat; what a replay rebuilds the same VFIO host from.
   */
  public record Device(String model, String bdf, int group, int cdev, Map<String, String> options) {
    public Device {
      options = Map.copyOf(options);
    }
  }

  /** One line after the header. */
  public sealed interface Event
      permits Process, Open, Ioctl, Close, Exit, VfioOpen, Transfer, Mmap, Timer {}

  /**
   * An open of a VFIO group {@code /dev/vfio/N} or device cdev {@code /dev/vfio/devices/vfioN}:
   * {@code result} 0 and the new file {@code file}, or -errno and file 0.
   */
  public record VfioOpen(long seq, long file, int pid, String path, long result, long t)
      implements Event {}

  /** How a {@link Transfer} reached a VFIO device file. */
  public enum Access {
    /** pread(2) and its vector forms: {@code offset} the one the program gave. */
    PREAD,
    PWRITE,
    /** read(2) and write(2): {@code offset} the file position they used. */
    READ,
    WRITE,
    /** A load or store through a mapping of the file, which the shim trapped. */
    LOAD,
    STORE;

    /** Whether it moves bytes from the program to the device. */
    public boolean toDevice() {
      return this == PWRITE || this == WRITE || this == STORE;
    }
  }

  /**
   * A region access on a VFIO device file ({@code device} its function's BDF): {@code count} bytes
   * at file offset {@code offset} (region index in bits 40 and up) from or into the program's
   * {@code buffer}; {@code result} bytes moved or -errno; {@code memory} as for an ioctl (the bytes
   * the program gave or got, the interrupts and DMA the access caused).
   */
  public record Transfer(
      long seq,
      long file,
      String device,
      int pid,
      long channel,
      Access access,
      long offset,
      long buffer,
      long count,
      long result,
      long t,
      List<MemoryLog.Op> memory)
      implements Event {
    public Transfer {
      memory = List.copyOf(memory);
    }
  }

  /** {@code mmap(2)} of a VFIO device file: what the file's mmap check answered (0 or -errno). */
  public record Mmap(
      long seq,
      long file,
      String device,
      int pid,
      long offset,
      long length,
      int prot,
      int flags,
      long result,
      long t)
      implements Event {}

  /**
   * Deferred work of the model at {@code device}: its {@code timer}-th timer (in the order the
   * model made them) fired; {@code memory} what it did: DMA (and the program memory it read and
   * wrote), interrupts.
   */
  public record Timer(String device, int timer, long t, List<MemoryLog.Op> memory)
      implements Event {
    public Timer {
      memory = List.copyOf(memory);
    }
  }

  /** The identity, privileges and limit of a calling process (before its first call). */
  public record Process(
      int pid, int uid, boolean capSysResource, boolean capIpcLock, long memlockLimit)
      implements Event {}

  /** An open of /dev/iommu (or /dev/vfio/vfio): file {@code file} is a new context. */
  public record Open(long file, int pid, boolean vfio, long t) implements Event {}

  /**
   * An ioctl on context {@code file} by process {@code pid} on channel (client thread) {@code
   * channel}: {@code result} is what the system call returned (0, a positive value, or -errno);
   * {@code memory} everything it read, wrote, pinned and the descriptors it made.
   */
  public record Ioctl(
      long seq,
      long file,
      int pid,
      long channel,
      long request,
      long arg,
      long result,
      long t,
      long nanos,
      List<MemoryLog.Op> memory)
      implements Event {
    public Ioctl {
      memory = List.copyOf(memory);
    }
  }

  /**
   * Process {@code pid} is exiting: from here on only the pages something pins stay (its other
   * memory is gone, so pinning it fails, as for the kernel's mm of an exited process). A kernel
   * recording adds in {@code memory} the bytes of the process's mapped areas, read just before
   * (what the kernel's pinned pages go on holding).
   */
  public record Exit(int pid, long t, List<MemoryLog.Op> memory) implements Event {
    public Exit {
      memory = List.copyOf(memory);
    }
  }

  /**
   * The last reference to file {@code file} went: the context was torn down (or the access or fault
   * file released).
   */
  public record Close(long file, long t) implements Event {}

  private final Header header;
  private final List<Event> events;

  public Trace(Header header, List<Event> events) {
    this.header = header;
    this.events = List.copyOf(events);
  }

  public Header header() {
    return header;
  }

  public List<Event> events() {
    return events;
  }

  // ---- text -----------------------------------------------------------------------------------

  static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  static long parseHex(String s) {
    if (!s.startsWith("0x")) {
      throw new IllegalArgumentException("not a hex value: " + s);
    }
    return Long.parseUnsignedLong(s.substring(2), 16);
  }

  static String headerLine(Header h) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("format", FORMAT);
    m.put("version", (long) VERSION);
    m.put("testAbi", h.testAbi());
    m.put("vfioContainer", h.vfioContainer());
    m.put("selftestCompat", h.selftestCompat());
    m.put("faultInjection", h.faultInjection());
    if (h.kernel()) {
      m.put("kernel", true);
    }
    if (!h.devices().isEmpty()) {
      List<Object> devices = new ArrayList<>();
      for (Device d : h.devices()) {
        Map<String, Object> dm = new LinkedHashMap<>();
        dm.put("model", d.model());
        dm.put("bdf", d.bdf());
        dm.put("group", (long) d.group());
        dm.put("cdev", (long) d.cdev());
        dm.put("options", new TreeMap<String, Object>(d.options()));
        devices.add(dm);
      }
      m.put("devices", devices);
    }
    return Json.line(m);
  }

  /** One event as its JSON line. */
  public static String line(Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    switch (e) {
      case Process p -> {
        m.put("type", "process");
        m.put("pid", (long) p.pid());
        m.put("uid", (long) p.uid());
        m.put("capSysResource", p.capSysResource());
        m.put("capIpcLock", p.capIpcLock());
        m.put("memlockLimit", p.memlockLimit());
      }
      case Open o -> {
        m.put("type", "open");
        m.put("file", o.file());
        m.put("pid", (long) o.pid());
        m.put("vfio", o.vfio());
        m.put("t", o.t());
      }
      case Ioctl i -> {
        m.put("type", "ioctl");
        m.put("seq", i.seq());
        m.put("file", i.file());
        m.put("pid", (long) i.pid());
        m.put("channel", i.channel());
        m.put("request", hex(i.request()));
        m.put("arg", hex(i.arg()));
        m.put("result", i.result());
        m.put("errno", errnoName(i.result()));
        m.put("t", i.t());
        m.put("ns", i.nanos());
        m.put("memory", ops(i.memory()));
      }
      case Close c -> {
        m.put("type", "close");
        m.put("file", c.file());
        m.put("t", c.t());
      }
      case Exit x -> {
        m.put("type", "exit");
        m.put("pid", (long) x.pid());
        m.put("t", x.t());
        if (!x.memory().isEmpty()) {
          m.put("memory", ops(x.memory()));
        }
      }
      case VfioOpen o -> {
        m.put("type", "vfio-open");
        m.put("seq", o.seq());
        m.put("file", o.file());
        m.put("pid", (long) o.pid());
        m.put("path", o.path());
        m.put("result", o.result());
        m.put("errno", errnoName(o.result()));
        m.put("t", o.t());
      }
      case Transfer x -> {
        m.put("type", "transfer");
        m.put("seq", x.seq());
        m.put("file", x.file());
        m.put("device", x.device());
        m.put("pid", (long) x.pid());
        m.put("channel", x.channel());
        m.put("access", x.access().name().toLowerCase(Locale.ROOT));
        m.put("offset", hex(x.offset()));
        m.put("buffer", hex(x.buffer()));
        m.put("count", x.count());
        m.put("result", x.result());
        m.put("errno", errnoName(x.result()));
        m.put("t", x.t());
        m.put("memory", ops(x.memory()));
      }
      case Mmap x -> {
        m.put("type", "mmap");
        m.put("seq", x.seq());
        m.put("file", x.file());
        m.put("device", x.device());
        m.put("pid", (long) x.pid());
        m.put("offset", hex(x.offset()));
        m.put("length", hex(x.length()));
        m.put("prot", (long) x.prot());
        m.put("flags", (long) x.flags());
        m.put("result", x.result());
        m.put("errno", errnoName(x.result()));
        m.put("t", x.t());
      }
      case Timer x -> {
        m.put("type", "timer");
        m.put("device", x.device());
        m.put("timer", (long) x.timer());
        m.put("t", x.t());
        m.put("memory", ops(x.memory()));
      }
    }
    return Json.line(m);
  }

  private static List<Object> ops(List<MemoryLog.Op> memory) {
    List<Object> ops = new ArrayList<>();
    memory.forEach(op -> ops.add(op.toMap()));
    return ops;
  }

  private static List<MemoryLog.Op> ops(Object list) {
    List<MemoryLog.Op> ops = new ArrayList<>();
    if (list != null) {
      for (Object o : (List<?>) list) {
        ops.add(MemoryLog.Op.fromMap((Map<?, ?>) o));
      }
    }
    return ops;
  }

  /** "ENOENT" for -2, null for results that are not errors. */
  public static String errnoName(long result) {
    if (result >= 0 || result < -4095) {
      return null;
    }
    try {
      return Errno.of((int) -result).name();
    } catch (IllegalArgumentException ex) {
      return "errno " + -result;
    }
  }

  /**
   * Reads a trace file.
   *
   * @throws IllegalArgumentException (with the line number) if it is not one
   */
  public static Trace read(Path file) throws IOException {
    List<String> lines;
    try (var in = new BufferedReader(new InputStreamReader(open(file), StandardCharsets.UTF_8))) {
      lines = in.lines().toList();
    }
    if (lines.isEmpty()) {
      throw new IllegalArgumentException(file + ": empty, not an iommufd4j trace");
    }
    Header header;
    try {
      Map<?, ?> h = (Map<?, ?>) Json.parse(lines.get(0));
      if (!FORMAT.equals(h.get("format"))) {
        throw new IllegalArgumentException(
            "not an iommufd4j trace (format is not \"" + FORMAT + "\")");
      }
      if (!Long.valueOf(VERSION).equals(h.get("version"))) {
        throw new IllegalArgumentException(
            "trace version " + h.get("version") + ", this reads " + VERSION);
      }
      header =
          new Header(
              flag(h, "testAbi"),
              flag(h, "vfioContainer"),
              flag(h, "selftestCompat"),
              flag(h, "faultInjection"),
              flag(h, "kernel"),
              devices(h.get("devices")));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(file + ":1: " + e.getMessage(), e);
    }
    List<Event> events = new ArrayList<>();
    for (int n = 1; n < lines.size(); n++) {
      String line = lines.get(n).strip();
      if (line.isEmpty()) {
        continue;
      }
      try {
        events.add(parse((Map<?, ?>) Json.parse(line)));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException(file + ":" + (n + 1) + ": " + e.getMessage(), e);
      }
    }
    return new Trace(header, events);
  }

  /** A trace named {@code *.gz} is gzip-compressed (kernel recordings of suites are large). */
  private static boolean gzip(Path file) {
    return file.getFileName().toString().endsWith(".gz");
  }

  private static InputStream open(Path file) throws IOException {
    InputStream in = Files.newInputStream(file);
    return gzip(file) ? new GZIPInputStream(in, 1 << 16) : in;
  }

  private static OutputStream create(Path file) throws IOException {
    OutputStream out = Files.newOutputStream(file);
    // sync-flushed, so every line is in the file as soon as it is written
    return gzip(file) ? new GZIPOutputStream(out, 1 << 16, true) : out;
  }

  private static List<Device> devices(Object list) {
    List<Device> devices = new ArrayList<>();
    if (list != null) {
      for (Object o : (List<?>) list) {
        Map<?, ?> d = (Map<?, ?>) o;
        Map<String, String> options = new LinkedHashMap<>();
        Object given = d.get("options");
        if (given != null) {
          ((Map<?, ?>) given).forEach((k, v) -> options.put((String) k, (String) v));
        }
        devices.add(
            new Device(
                (String) d.get("model"),
                (String) d.get("bdf"),
                (int) num(d, "group"),
                (int) num(d, "cdev"),
                options));
      }
    }
    return devices;
  }

  private static boolean flag(Map<?, ?> m, String name) {
    return Boolean.TRUE.equals(m.get(name));
  }

  private static long num(Map<?, ?> m, String name) {
    Object v = m.get(name);
    if (!(v instanceof Long l)) {
      throw new IllegalArgumentException("field " + name + " is not a number");
    }
    return l;
  }

  private static Event parse(Map<?, ?> m) {
    String type = (String) m.get("type");
    if (type == null) {
      throw new IllegalArgumentException("no type");
    }
    return switch (type) {
      case "process" ->
          new Process(
              (int) num(m, "pid"),
              (int) num(m, "uid"),
              flag(m, "capSysResource"),
              flag(m, "capIpcLock"),
              num(m, "memlockLimit"));
      case "open" -> new Open(num(m, "file"), (int) num(m, "pid"), flag(m, "vfio"), num(m, "t"));
      case "ioctl" ->
          new Ioctl(
              num(m, "seq"),
              num(m, "file"),
              (int) num(m, "pid"),
              num(m, "channel"),
              parseHex((String) m.get("request")),
              parseHex((String) m.get("arg")),
              num(m, "result"),
              num(m, "t"),
              num(m, "ns"),
              ops(m.get("memory")));
      case "close" -> new Close(num(m, "file"), num(m, "t"));
      case "exit" -> new Exit((int) num(m, "pid"), num(m, "t"), ops(m.get("memory")));
      case "vfio-open" ->
          new VfioOpen(
              num(m, "seq"),
              num(m, "file"),
              (int) num(m, "pid"),
              (String) m.get("path"),
              num(m, "result"),
              num(m, "t"));
      case "transfer" ->
          new Transfer(
              num(m, "seq"),
              num(m, "file"),
              (String) m.get("device"),
              (int) num(m, "pid"),
              num(m, "channel"),
              Access.valueOf(((String) m.get("access")).toUpperCase(Locale.ROOT)),
              parseHex((String) m.get("offset")),
              parseHex((String) m.get("buffer")),
              num(m, "count"),
              num(m, "result"),
              num(m, "t"),
              ops(m.get("memory")));
      case "mmap" ->
          new Mmap(
              num(m, "seq"),
              num(m, "file"),
              (String) m.get("device"),
              (int) num(m, "pid"),
              parseHex((String) m.get("offset")),
              parseHex((String) m.get("length")),
              (int) num(m, "prot"),
              (int) num(m, "flags"),
              num(m, "result"),
              num(m, "t"));
      case "timer" ->
          new Timer(
              (String) m.get("device"), (int) num(m, "timer"), num(m, "t"), ops(m.get("memory")));
      default -> throw new IllegalArgumentException("unknown event type " + type);
    };
  }

  /** Writes a trace as events arrive (thread-safe; every line is flushed). */
  public static final class Writer implements AutoCloseable {
    private final BufferedWriter out;
    private final Header header;
    private final long start = System.nanoTime();
    private long seq;
    private final Set<Process> processes = new HashSet<>();
    private final Object order = new Object();

    public Writer(Path file, Header header) throws IOException {
      out = new BufferedWriter(new OutputStreamWriter(create(file), StandardCharsets.UTF_8));
      this.header = header;
      write(headerLine(header));
    }

    public Header header() {
      return header;
    }

    /** Nanoseconds since the recording started. */
    public long now() {
      return System.nanoTime() - start;
    }

    public synchronized long nextSeq() {
      return ++seq;
    }

    /** A process line, unless this very one was written already. */
    public synchronized void process(Process p) {
      if (processes.add(p)) {
        write(line(p));
      }
    }

    public synchronized void event(Event e) {
      write(line(e));
    }

    /**
     * Runs {@code call} (which ends by writing its event) while no other call or device timer that
     * runs through here does: with devices, the order of the lines is the order in which the calls
     * and the models' deferred work changed the emulator, which a replay repeats.
     */
    public <T> T inOrder(Supplier<T> call) {
      synchronized (order) {
        return call.get();
      }
    }

    /**
     * Runs timer {@code timer} of the model at {@code device} ({@link #inOrder}), its DMA and
     * interrupts collected, and writes it as a {@link Timer} event.
     */
    public void timer(String device, int timer, Runnable task) {
      inOrder(
          () -> {
            long t = now();
            MemoryLog log = MemoryLog.begin();
            try {
              task.run();
            } finally {
              MemoryLog.end();
              event(new Timer(device, timer, t, log.ops()));
            }
            return null;
          });
    }

    private void write(String line) {
      try {
        out.write(line);
        out.write('\n');
        out.flush();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    public synchronized void close() throws IOException {
      out.close();
    }
  }
}
