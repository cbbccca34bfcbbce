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
import java.util.Map;
import java.util.Set;
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
 */
public final class Trace {
  public static final String FORMAT = "iommufd4j-trace";
  public static final int VERSION = 1;

  /**
   * How the recording server was configured (what the replay's emulator must be). {@code kernel}:
   * the calls went to the real {@code /dev/iommu} ({@code exec --record --kernel}), so the memory
   * of each call is its {@link Footprint}'s bytes before and after it, not the emulator's own reads
   * and writes, and a replay compares what memory holds after each call.
   */
  public record Header(
      boolean testAbi,
      boolean vfioContainer,
      boolean selftestCompat,
      boolean faultInjection,
      boolean kernel) {
    /** An emulator's recording. */
    public Header(
        boolean testAbi, boolean vfioContainer, boolean selftestCompat, boolean faultInjection) {
      this(testAbi, vfioContainer, selftestCompat, faultInjection, false);
    }
  }

  /** One line after the header. */
  public sealed interface Event permits Process, Open, Ioctl, Close, Exit {}

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
              flag(h, "kernel"));
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
