package org.iommufd4j.trace;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiPredicate;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.engine.Host;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.memory.UserMemory;
import org.iommufd4j.uapi.Dispatcher;

/**
 * Re-executes a {@link Trace} on a fresh emulator and reports the first divergence.
 *
 * <p>Each recorded process gets a {@link SimulatedMemory}; before each call, the pages the
 * recording read, wrote or pinned are mapped and seeded with exactly the bytes it read, at the same
 * addresses (the earliest read of a byte wins), and pages where it failed are unmapped (or made
 * read-only where only a write failed). Each recorded open file is a context of its own, on one
 * {@link Host}; descriptors the engine makes get the numbers the recording gave them. Then the call
 * runs and its result, and every write it made (reply bytes and other memory), are compared with
 * the recording. A kernel recording ({@link Trace.Header#kernel()}) holds no list of the kernel's
 * writes, only each call's {@link Footprint} before and after it: there the replay must leave every
 * region the call could write holding the kernel's bytes, and write nowhere else.
 *
 * <p>Calls run in the order the recording completed them, on one thread.
 */
public final class Replayer {
  private static final long PAGE = SimulatedMemory.PAGE_SIZE;
  private static final HexFormat HEX = HexFormat.of();

  /** Where the replay first differed from the recording. */
  public record Divergence(
      long seq, long request, long file, String what, String expected, String actual) {
    @Override
    public String toString() {
      return "divergence at ioctl #"
          + seq
          + " (request "
          + Trace.hex(request)
          + " on file "
          + file
          + "): "
          + what
          + "\n  recorded: "
          + expected
          + "\n  replayed: "
          + actual;
    }
  }

  /** A context's state just before its teardown, or at the end of the trace if still open. */
  public record ContextState(long file, int pid, boolean closed, Snapshot snapshot) {}

  /**
   * The outcome: {@code divergence} the first, null if none; {@code divergences} every one found
   * (with {@link #replayAll}: each context's first, that context's later calls skipped); counts of
   * what was replayed; the state of every context (just before its close, or at the end).
   */
  public record Result(
      Divergence divergence,
      List<Divergence> divergences,
      int ioctls,
      int opens,
      int closes,
      int memoryOps,
      int skipped,
      List<ContextState> states) {
    public Result {
      divergences = List.copyOf(divergences);
      states = List.copyOf(states);
    }

    public boolean diverged() {
      return divergence != null;
    }
  }

  private final Trace trace;
  private final Host host = new Host();
  private final Map<Integer, SimulatedMemory> memories = new HashMap<>();
  private final Map<Integer, UserMemory> logged = new HashMap<>();

  /** Processes whose exit was replayed: their address spaces are gone for others' calls. */
  private final Set<Integer> exited = new HashSet<>();

  /** The pid of the call being replayed. */
  private int callerPid;

  private final Map<Integer, Trace.Process> processes = new HashMap<>();
  private final Map<Long, Context> contexts = new LinkedHashMap<>();
  private final Map<Long, Integer> openers = new HashMap<>();
  private final Map<Long, EmulatedFile> files = new HashMap<>();
  private final Map<Long, ContextState> states = new LinkedHashMap<>();
  private final ReplayFiles fileTable = new ReplayFiles();

  /** Contexts that diverged (replayAll): their later calls are skipped. */
  private final Set<Long> diverged = new HashSet<>();

  private final boolean all;

  private Replayer(Trace trace, boolean all) {
    this.trace = trace;
    this.all = all;
  }

  /** Replays {@code trace} on a fresh emulator, up to the first divergence. */
  public static Result replay(Trace trace) {
    return new Replayer(trace, false).run();
  }

  /**
   * Replays all of {@code trace}: a context that diverges is left at its first divergence (its
   * later calls skipped) and the others go on, so one run finds every context that differs (a test
   * suite's trace, one context a test).
   */
  public static Result replayAll(Trace trace) {
    return new Replayer(trace, true).run();
  }

  private Result run() {
    int ioctls = 0;
    int opens = 0;
    int closes = 0;
    int ops = 0;
    int skipped = 0;
    List<Divergence> divergences = new ArrayList<>();
    try {
      for (Trace.Event e : trace.events()) {
        switch (e) {
          case Trace.Process p -> processes.put(p.pid(), p);
          case Trace.Exit x -> {
            seed(x.memory()); // a kernel recording's last look at what stays pinned
            memory(x.pid()).retainOnly(page -> host.pinCount(logged(x.pid()), page) > 0);
            exited.add(x.pid());
          }
          case Trace.Open o -> {
            opens++;
            contexts.put(
                o.file(),
                new Context(
                    host,
                    fileTable,
                    trace.header().testAbi(),
                    o.vfio(),
                    trace.header().selftestCompat()));
            openers.put(o.file(), o.pid());
          }
          case Trace.Close c -> {
            closes++;
            Context ctx = contexts.remove(c.file());
            if (ctx != null) {
              states.put(
                  c.file(),
                  new ContextState(c.file(), openers.get(c.file()), true, ctx.snapshot()));
              ctx.close();
            }
            EmulatedFile f = files.remove(c.file());
            if (f != null) {
              f.release();
            }
          }
          case Trace.Ioctl i -> {
            if (diverged.contains(i.file())) {
              skipped++;
              continue;
            }
            ioctls++;
            ops += i.memory().size();
            Divergence d = execute(i);
            if (d != null) {
              divergences.add(d);
              diverged.add(i.file());
            }
          }
        }
        if (!divergences.isEmpty() && !all) {
          break;
        }
      }
    } finally {
      for (Map.Entry<Long, Context> c : contexts.entrySet()) {
        states.put(
            c.getKey(),
            new ContextState(c.getKey(), openers.get(c.getKey()), false, c.getValue().snapshot()));
        c.getValue().close();
      }
      files.values().forEach(EmulatedFile::release);
    }
    return new Result(
        divergences.isEmpty() ? null : divergences.getFirst(),
        divergences,
        ioctls,
        opens,
        closes,
        ops,
        skipped,
        List.copyOf(states.values()));
  }

  // ---- one call -------------------------------------------------------------------------------

  private Divergence execute(Trace.Ioctl call) {
    Context ctx = contexts.get(call.file());
    if (ctx == null) {
      return new Divergence(
          call.seq(),
          call.request(),
          call.file(),
          "no such open file",
          "file " + call.file(),
          "none (the trace has no open for it)");
    }
    seed(call.memory());
    fileTable.expect(call.memory());
    MemoryLog log = MemoryLog.begin();
    long result;
    callerPid = call.pid();
    try {
      result = Dispatcher.ioctl(ctx, caller(call.pid()), call.request(), call.arg(), null);
    } finally {
      MemoryLog.end();
    }
    if (result != call.result()) {
      return new Divergence(
          call.seq(),
          call.request(),
          call.file(),
          "result",
          describe(call.result()),
          describe(result));
    }
    return trace.header().kernel()
        ? compareMemory(call, log.ops())
        : compareWrites(call, log.ops());
  }

  /** An emulator's recording: the replay must make the same writes and descriptors, in order. */
  private Divergence compareWrites(Trace.Ioctl call, List<MemoryLog.Op> ops) {
    return firstDifference(call, effects(call.memory()), effects(ops), MemoryLog.Op::sameAs);
  }

  /**
   * The first place where {@code want} and {@code got}, op by op, are not {@code same} (or one has
   * an op the other lacks), or null.
   */
  private static Divergence firstDifference(
      Trace.Ioctl call,
      List<MemoryLog.Op> want,
      List<MemoryLog.Op> got,
      BiPredicate<MemoryLog.Op, MemoryLog.Op> same) {
    for (int k = 0; k < Math.max(want.size(), got.size()); k++) {
      MemoryLog.Op w = k < want.size() ? want.get(k) : null;
      MemoryLog.Op g = k < got.size() ? got.get(k) : null;
      if (w == null || g == null || !same.test(w, g)) {
        MemoryLog.Op any = w != null ? w : g;
        String what =
            any.kind() == MemoryLog.Kind.WRITE
                ? (inArg(call, any) ? "reply bytes" : "memory written") + " (write " + (k + 1) + ")"
                : "descriptor " + (k + 1);
        return new Divergence(call.seq(), call.request(), call.file(), what, show(w), show(g));
      }
    }
    return null;
  }

  /**
   * A kernel recording: each region the call could write must hold what it held after the kernel's
   * call, the replay must write nowhere else, and make the same descriptors.
   */
  private Divergence compareMemory(Trace.Ioctl call, List<MemoryLog.Op> ops) {
    List<MemoryLog.Op> want = new ArrayList<>();
    for (MemoryLog.Op op : call.memory()) {
      if (op.kind() == MemoryLog.Kind.WRITE && op.ok()) {
        want.add(op);
        if (op.bytes() == null) {
          continue; // the caller died during the call: nobody saw what it holds
        }
        byte[] now = new byte[op.bytes().length];
        memory(op.pid()).read(op.address(), MemorySegment.ofArray(now));
        int at = Arrays.mismatch(now, op.bytes());
        if (at >= 0) {
          String what =
              (inArg(call, op) ? "reply bytes" : "memory written")
                  + " at "
                  + Trace.hex(op.address() + at);
          return new Divergence(
              call.seq(),
              call.request(),
              call.file(),
              what,
              show(op),
              show(
                  new MemoryLog.Op(
                      MemoryLog.Kind.WRITE,
                      op.pid(),
                      op.address(),
                      op.length(),
                      false,
                      true,
                      now,
                      0,
                      0)));
        }
      }
    }
    for (MemoryLog.Op op : ops) {
      if (op.kind() == MemoryLog.Kind.WRITE && op.ok() && !within(want, op)) {
        return new Divergence(
            call.seq(),
            call.request(),
            call.file(),
            "memory written where the kernel's call cannot write",
            "nothing",
            show(op));
      }
    }
    return firstDifference(
        call, descriptors(call.memory()), descriptors(ops), (w, g) -> w.fd() == g.fd());
  }

  private static boolean within(List<MemoryLog.Op> regions, MemoryLog.Op op) {
    for (MemoryLog.Op r : regions) {
      if (r.pid() == op.pid()
          && Long.compareUnsigned(op.address() - r.address(), r.length()) < 0
          && Long.compareUnsigned(op.address() - r.address() + op.length(), r.length()) <= 0) {
        return true;
      }
    }
    return op.length() == 0;
  }

  private static List<MemoryLog.Op> descriptors(List<MemoryLog.Op> ops) {
    return ops.stream().filter(op -> op.kind() == MemoryLog.Kind.FD).toList();
  }

  private static boolean inArg(Trace.Ioctl call, MemoryLog.Op op) {
    return Long.compareUnsigned(op.address() - call.arg(), 4096) < 0;
  }

  /** What a call changed: its writes and the descriptors it made. */
  private static List<MemoryLog.Op> effects(List<MemoryLog.Op> ops) {
    List<MemoryLog.Op> out = new ArrayList<>();
    for (MemoryLog.Op op : ops) {
      if (op.kind() == MemoryLog.Kind.WRITE || op.kind() == MemoryLog.Kind.FD) {
        out.add(op);
      }
    }
    return out;
  }

  private static String show(MemoryLog.Op op) {
    if (op == null) {
      return "nothing";
    }
    if (op.kind() == MemoryLog.Kind.FD) {
      return "descriptor " + op.fd();
    }
    String bytes = op.bytes() == null ? "" : HEX.formatHex(op.bytes());
    if (bytes.length() > 128) {
      bytes = bytes.substring(0, 128) + "...";
    }
    return "pid "
        + op.pid()
        + " "
        + op.length()
        + " bytes at "
        + Trace.hex(op.address())
        + (op.ok() ? "" : " (failed)")
        + ": "
        + bytes;
  }

  private static String describe(long result) {
    String errno = Trace.errnoName(result);
    return errno == null ? Long.toString(result) : result + " (" + errno + ")";
  }

  private Caller caller(int pid) {
    Trace.Process p = processes.get(pid);
    UserMemory memory = logged(pid);
    return p == null
        ? new Caller(memory, pid, 0, true, true, -1)
        : new Caller(memory, pid, p.uid(), p.capSysResource(), p.capIpcLock(), p.memlockLimit());
  }

  private UserMemory logged(int pid) {
    return logged.computeIfAbsent(pid, k -> new LoggedMemory(k, new ProcessPages(k, memory(k))));
  }

  /**
   * Process {@code pid}'s memory as the kernel reaches it: all of it while the process lives; once
   * it exited, for other processes' calls, only the pages something still pins, each until its last
   * pin goes, and no new pin (the kernel holds page references, not the address space).
   */
  private final class ProcessPages implements UserMemory {
    private final int pid;
    private final SimulatedMemory memory;

    ProcessPages(int pid, SimulatedMemory memory) {
      this.pid = pid;
      this.memory = memory;
    }

    private boolean isGone() {
      return exited.contains(pid) && callerPid != pid;
    }

    /** Whether every page of the range is still pinned; pins of a gone process only drop. */
    private boolean pinned(long address, long length) {
      if (length == 0) {
        return true;
      }
      if (Long.compareUnsigned(address + length, address) <= 0) {
        return false; // wraps
      }
      long first = address & -PAGE;
      long pages = (address + length - 1 - first) / PAGE + 1;
      for (long i = 0; i < pages; i++) {
        if (host.pinCount(logged(pid), first + i * PAGE) == 0) {
          return false;
        }
      }
      return true;
    }

    @Override
    public boolean read(long address, MemorySegment dst) {
      return (!isGone() || pinned(address, dst.byteSize())) && memory.read(address, dst);
    }

    @Override
    public boolean write(long address, MemorySegment src) {
      return (!isGone() || pinned(address, src.byteSize())) && memory.write(address, src);
    }

    @Override
    public boolean isPinnable(long address, long length, boolean write) {
      return isGone() ? length == 0 : memory.isPinnable(address, length, write);
    }
  }

  private SimulatedMemory memory(int pid) {
    return memories.computeIfAbsent(pid, k -> SimulatedMemory.create());
  }

  // ---- seeding memory -------------------------------------------------------------------------

  /**
   * Maps and fills what the recorded call found: pages it read, wrote or pinned become mapped
   * (writable unless only a write failed there), hold the bytes it read (the earliest read of a
   * byte wins), and pages of a failed range that no successful access covers are unmapped (read) or
   * made read-only (write).
   */
  private void seed(List<MemoryLog.Op> ops) {
    Map<Integer, TreeMap<Long, Boolean>> okPages = new HashMap<>(); // page -> written ok
    for (MemoryLog.Op op : ops) {
      if (!op.ok()
          || op.kind() == MemoryLog.Kind.FD
          || op.kind() == MemoryLog.Kind.GETFD
          || op.length() == 0
          || !fits(op.address(), op.length())) {
        continue;
      }
      SimulatedMemory m = memory(op.pid());
      TreeMap<Long, Boolean> pages = okPages.computeIfAbsent(op.pid(), k -> new TreeMap<>());
      boolean writes = op.kind() == MemoryLog.Kind.WRITE || op.write();
      long first = op.address() & -PAGE;
      long count = ((op.address() + op.length() - 1 - first) >>> 12) + 1;
      for (long n = 0; n < count; n++) {
        long p = first + n * PAGE;
        if (!m.isPinnable(p, PAGE, false)) {
          m.map(p, PAGE, true);
        } else if (writes && !m.isPinnable(p, PAGE, true)) {
          m.protect(p, PAGE, true);
        }
        pages.merge(p, writes, Boolean::logicalOr);
      }
    }
    for (int k = ops.size() - 1; k >= 0; k--) {
      MemoryLog.Op op = ops.get(k);
      if (op.kind() == MemoryLog.Kind.READ && op.ok() && op.length() > 0) {
        memory(op.pid()).putBytes(op.address(), op.bytes());
      }
    }
    for (MemoryLog.Op op : ops) {
      if (op.ok()
          || op.length() == 0
          || !fits(op.address(), op.length())
          || op.kind() == MemoryLog.Kind.FD
          || op.kind() == MemoryLog.Kind.GETFD) {
        continue;
      }
      SimulatedMemory m = memory(op.pid());
      TreeMap<Long, Boolean> pages = okPages.getOrDefault(op.pid(), new TreeMap<>());
      boolean writes = op.kind() == MemoryLog.Kind.WRITE || op.write();
      long first = op.address() & -PAGE;
      long count = Math.min(65_536, ((op.address() + op.length() - 1 - first) >>> 12) + 1);
      for (long n = 0; n < count; n++) {
        long p = first + n * PAGE;
        Boolean covered = pages.get(p);
        if (covered == null) {
          if (writes
              && m.isPinnable(p, PAGE, false)
              && !pages.containsKey(p)
              && readOnly(ops, op.pid(), p)) {
            m.protect(p, PAGE, false);
          } else {
            m.unmap(p, PAGE);
          }
          break;
        } else if (writes && !covered) {
          m.protect(p, PAGE, false);
          break;
        }
      }
    }
  }

  /** Whether page {@code p} was read successfully (so it exists) in this call. */
  private static boolean readOnly(List<MemoryLog.Op> ops, int pid, long p) {
    for (MemoryLog.Op op : ops) {
      if (op.pid() == pid
          && op.ok()
          && op.kind() == MemoryLog.Kind.READ
          && Long.compareUnsigned(p - (op.address() & -PAGE), op.length() + PAGE) < 0) {
        return true;
      }
    }
    return false;
  }

  private static boolean fits(long address, long length) {
    return Long.compareUnsigned(address + length, address) >= 0 || address + length == 0;
  }

  // ---- the replay's memory and descriptors ----------------------------------------------------

  /**
   * Descriptors as the recording had them: a reservation gets the number the recorded call got, and
   * a descriptor the call named resolves to the file it named then.
   */
  private final class ReplayFiles implements FileTable {
    private final Deque<MemoryLog.Op> reserved = new ArrayDeque<>();
    private final Deque<MemoryLog.Op> named = new ArrayDeque<>();
    private final Map<Integer, Long> pending = new HashMap<>();
    private int spare = 1_000_000;

    void expect(List<MemoryLog.Op> ops) {
      reserved.clear();
      named.clear();
      pending.clear();
      for (MemoryLog.Op op : ops) {
        if (op.kind() == MemoryLog.Kind.FD) {
          reserved.add(op);
        } else if (op.kind() == MemoryLog.Kind.GETFD) {
          named.add(op);
        }
      }
    }

    @Override
    public int reserve() {
      MemoryLog.Op op = reserved.poll();
      int fd = op == null ? spare++ : op.fd();
      long file = op == null ? -fd : op.file();
      pending.put(fd, file);
      MemoryLog log = MemoryLog.current();
      if (log != null) {
        log.fd(fd, file);
      }
      return fd;
    }

    @Override
    public void unreserve(int fd) {
      pending.remove(fd);
    }

    @Override
    public void install(int fd, EmulatedFile file) {
      Long id = pending.remove(fd);
      if (id != null) {
        files.put(id, file);
      }
    }

    @Override
    public EmulatedFile get(int fd) {
      MemoryLog.Op op = named.poll();
      if (op == null || op.fd() != fd) {
        return null;
      }
      return files.get(op.file());
    }
  }
}
