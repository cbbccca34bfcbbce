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
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.engine.Host;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.memory.UserMemory;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.uapi.Dispatcher;
import org.iommufd4j.vfio.VfioNodes;

/**
 * Re-executes a {@link Trace} on a fresh emulator and reports the first divergence.
 *
 * <p>Each recorded process gets a {@link SimulatedMemory}; before each call, the pages the
 * recording read, wrote or pinned are mapped and seeded with exactly the bytes it read, at the same
 * addresses (the earliest read of a byte wins; each later read of a recorded range gets what that
 * read found), and pages where it failed are unmapped (or made read-only where only a write
 * failed). Each recorded open file is a context of its own, on one {@link Host}; descriptors the
 * engine makes get the numbers the recording gave them. Then the call runs and its result, and
 * every write it made (reply bytes and other memory), are compared with the recording. A kernel
 * recording ({@link Trace.Header#kernel()}) holds no list of the kernel's writes, only each call's
 * {@link Footprint} before and after it: there the replay must leave every region the call could
 * write holding the kernel's bytes, and write nowhere else.
 *
 * <p>Calls run in the order the recording completed them, on one thread. A recording with devices
 * ({@link Trace.Header#devices()}) has them made again by a {@link DeviceMaker}, each on a clock
 * whose timers fire only at the trace's {@link Trace.Timer} events; the calls on VFIO files and the
 * timers are compared as calls are, their interrupts and DMA too.
 */
public final class Replayer {
  private static final long PAGE = SimulatedMemory.PAGE_SIZE;
  private static final HexFormat HEX = HexFormat.of();

  /**
   * Where the replay first differed from the recording: {@code call} names the event ("ioctl #5
   * (request 0x3b85 on file 1)", "timer 0 of 0000:00:04.0"), {@code file} the file it was on (0 for
   * a device's timer).
   */
  public record Divergence(
      long seq, String call, long file, String what, String expected, String actual) {
    @Override
    public String toString() {
      return "divergence at "
          + call
          + ": "
          + what
          + "\n  recorded: "
          + expected
          + "\n  replayed: "
          + actual;
    }
  }

  /**
   * Makes the VFIO layer of a recording's devices again ({@link Trace.Header#devices()}), each
   * model on the clock {@code clocks} gives for its address (the replay's, whose timers fire where
   * the recording's did).
   */
  @FunctionalInterface
  public interface DeviceMaker {
    /**
     * @throws IllegalArgumentException for a device this maker cannot make
     */
    VfioNodes make(List<Trace.Device> devices, Function<String, DeviceClock> clocks);

    /** For traces without devices. */
    DeviceMaker NONE =
        (devices, clocks) -> {
          throw new IllegalArgumentException("this replay cannot make the trace's devices");
        };
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
      int deviceEvents,
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

  /** The reads of the call being replayed, in order, not yet matched by the replay's. */
  private final Deque<MemoryLog.Op> reads = new ArrayDeque<>();

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

  /** The recording's devices, or null when it has none. */
  private final VfioNodes vfio;

  /** Each device's clock, by address. */
  private final Map<String, ReplayClock> clocks = new HashMap<>();

  /** The time of the event being replayed (what the device clocks read). */
  private long now;

  private Replayer(Trace trace, boolean all, DeviceMaker devices) {
    this.trace = trace;
    this.all = all;
    this.vfio =
        trace.header().devices().isEmpty()
            ? null
            : devices.make(
                trace.header().devices(),
                bdf -> clocks.computeIfAbsent(bdf, k -> new ReplayClock()));
  }

  /** Replays {@code trace} on a fresh emulator, up to the first divergence. */
  public static Result replay(Trace trace) {
    return replay(trace, DeviceMaker.NONE);
  }

  /**
   * Replays {@code trace}, its devices made by {@code devices}, up to the first divergence.
   *
   * @throws IllegalArgumentException when the trace has devices {@code devices} cannot make
   */
  public static Result replay(Trace trace, DeviceMaker devices) {
    return new Replayer(trace, false, devices).run();
  }

  /**
   * Replays all of {@code trace}: a context that diverges is left at its first divergence (its
   * later calls skipped) and the others go on, so one run finds every context that differs (a test
   * suite's trace, one context a test).
   */
  public static Result replayAll(Trace trace) {
    return replayAll(trace, DeviceMaker.NONE);
  }

  /** {@link #replayAll(Trace)} with devices, as {@link #replay(Trace, DeviceMaker)}. */
  public static Result replayAll(Trace trace, DeviceMaker devices) {
    return new Replayer(trace, true, devices).run();
  }

  private Result run() {
    int ioctls = 0;
    int opens = 0;
    int closes = 0;
    int ops = 0;
    int skipped = 0;
    int deviceEvents = 0;
    List<Divergence> divergences = new ArrayList<>();
    try {
      for (Trace.Event e : trace.events()) {
        now = CallPrinter.time(e);
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
          case Trace.VfioOpen o -> {
            opens++;
            deviceEvents++;
            Divergence d = open(o);
            if (d != null) {
              divergences.add(d);
            }
          }
          case Trace.Transfer x -> {
            if (diverged.contains(x.file())) {
              skipped++;
              continue;
            }
            deviceEvents++;
            ops += x.memory().size();
            Divergence d = transfer(x);
            if (d != null) {
              divergences.add(d);
              diverged.add(x.file());
            }
          }
          case Trace.Mmap m -> {
            deviceEvents++;
            Divergence d = mmap(m);
            if (d != null) {
              divergences.add(d);
            }
          }
          case Trace.Timer t -> {
            deviceEvents++;
            ops += t.memory().size();
            Divergence d = timer(t);
            if (d != null) {
              divergences.add(d);
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
        deviceEvents,
        List.copyOf(states.values()));
  }

  // ---- device events --------------------------------------------------------------------------

  /**
   * What a call on a VFIO file answers, as the bridge makes it: its result, an errno thrown as
   * -errno, an emulator fault as EIO.
   */
  private static long answer(LongSupplier call) {
    try {
      return call.getAsLong();
    } catch (ErrnoException e) {
      return -e.errno().number();
    } catch (RuntimeException e) {
      return -Errno.EIO.number();
    }
  }

  private Divergence open(Trace.VfioOpen o) {
    String call = "open #" + o.seq() + " (" + o.path() + ")";
    long result;
    EmulatedFile opened = null;
    if (vfio == null) {
      result = -Errno.ENOENT.number();
    } else {
      try {
        opened = openNode(o.path(), caller(o.pid()));
        result = opened == null ? -Errno.ENOENT.number() : 0;
      } catch (ErrnoException e) {
        result = -e.errno().number();
      }
    }
    if (result != o.result()) {
      if (opened != null) {
        opened.release();
      }
      return new Divergence(
          o.seq(), call, o.file(), "result", describe(o.result()), describe(result));
    }
    if (opened != null) {
      files.put(o.file(), opened);
    }
    return null;
  }

  /** The group {@code /dev/vfio/N} or cdev {@code /dev/vfio/devices/vfioN}; null for others. */
  private EmulatedFile openNode(String path, Caller caller) {
    String cdev = "/dev/vfio/devices/vfio";
    String group = "/dev/vfio/";
    try {
      if (path.startsWith(cdev)) {
        return vfio.openCdev(caller, Integer.parseInt(path.substring(cdev.length())), 0);
      }
      if (path.startsWith(group)) {
        return vfio.openGroup(caller, Integer.parseInt(path.substring(group.length())), 0);
      }
    } catch (NumberFormatException e) {
      return null;
    }
    return null;
  }

  private Divergence transfer(Trace.Transfer x) {
    String call =
        x.access().name().toLowerCase(Locale.ROOT)
            + " #"
            + x.seq()
            + " ("
            + CallPrinter.region(x.offset())
            + " of "
            + x.device()
            + " on file "
            + x.file()
            + ")";
    EmulatedFile f = files.get(x.file());
    if (f == null) {
      return noFile(x.seq(), call, x.file());
    }
    seed(x.memory());
    callerPid = x.pid();
    Caller caller = caller(x.pid());
    MemoryLog log = MemoryLog.begin();
    long result;
    try {
      result =
          answer(
              () ->
                  x.access().toDevice()
                      ? f.pwrite(caller, x.buffer(), x.count(), x.offset())
                      : f.pread(caller, x.buffer(), x.count(), x.offset()));
    } finally {
      MemoryLog.end();
    }
    return compare(x.seq(), call, x.file(), x.result(), result, x.buffer(), x.memory(), log.ops());
  }

  private Divergence mmap(Trace.Mmap m) {
    String call =
        "mmap #" + m.seq() + " (" + CallPrinter.region(m.offset()) + " on file " + m.file() + ")";
    EmulatedFile f = files.get(m.file());
    if (f == null) {
      return noFile(m.seq(), call, m.file());
    }
    long result = answer(() -> f.mmap(m.offset(), m.length(), m.prot(), m.flags()));
    return result == m.result()
        ? null
        : new Divergence(m.seq(), call, m.file(), "result", describe(m.result()), describe(result));
  }

  /**
   * A model's timer fires where the recording's did; what it did (DMA, the program memory that
   * reached, interrupts) must be what it did then.
   */
  private Divergence timer(Trace.Timer t) {
    String call = "timer " + t.timer() + " of " + t.device() + " at " + t.t() + " ns";
    ReplayClock clock = clocks.get(t.device());
    seed(t.memory());
    callerPid = 0;
    MemoryLog log = MemoryLog.begin();
    boolean fired;
    try {
      fired = clock != null && clock.fire(t.timer());
    } finally {
      MemoryLog.end();
    }
    if (!fired) {
      return new Divergence(0, call, 0, "timer", "armed and fired", "not armed");
    }
    return firstDifference(
        0, call, 0, 0, effects(t.memory()), effects(log.ops()), MemoryLog.Op::sameAs);
  }

  private static Divergence noFile(long seq, String call, long file) {
    return new Divergence(
        seq,
        call,
        file,
        "no such open file",
        "file " + file,
        "none (the trace has no open for it)");
  }

  /**
   * The clock of one model in a replay: time is the replayed event's, and a timer fires only when
   * the trace says it fired ({@link Trace.Timer}); timers are numbered as the model made them.
   */
  private final class ReplayClock implements DeviceClock {
    private final List<ReplayTimer> timers = new ArrayList<>();

    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public synchronized Timer timer(Runnable task) {
      ReplayTimer t = new ReplayTimer(task);
      timers.add(t);
      return t;
    }

    /** Fires timer {@code n} if it is armed. */
    boolean fire(int n) {
      ReplayTimer t;
      synchronized (this) {
        if (n < 0 || n >= timers.size() || !timers.get(n).armed) {
          return false;
        }
        t = timers.get(n);
        t.armed = false;
      }
      t.task.run();
      return true;
    }

    private final class ReplayTimer implements Timer {
      private final Runnable task;
      private boolean armed;

      ReplayTimer(Runnable task) {
        this.task = task;
      }

      @Override
      public void arm(long delayNanos) {
        synchronized (ReplayClock.this) {
          armed = true;
        }
      }

      @Override
      public void cancel() {
        synchronized (ReplayClock.this) {
          armed = false;
        }
      }

      @Override
      public boolean isArmed() {
        synchronized (ReplayClock.this) {
          return armed;
        }
      }
    }
  }

  // ---- one call -------------------------------------------------------------------------------

  private static String describe(Trace.Ioctl call) {
    return "ioctl #"
        + call.seq()
        + " (request "
        + Trace.hex(call.request())
        + " on file "
        + call.file()
        + ")";
  }

  private Divergence execute(Trace.Ioctl call) {
    Context ctx = contexts.get(call.file());
    EmulatedFile file = ctx == null ? files.get(call.file()) : null;
    if (ctx == null && file == null) {
      return noFile(call.seq(), describe(call), call.file());
    }
    seed(call.memory());
    fileTable.expect(call.memory());
    MemoryLog log = MemoryLog.begin();
    long result;
    callerPid = call.pid();
    try {
      result =
          ctx != null
              ? Dispatcher.ioctl(ctx, caller(call.pid()), call.request(), call.arg(), null)
              : fileIoctl(file, call);
    } finally {
      MemoryLog.end();
    }
    if (trace.header().kernel()) {
      return result != call.result()
          ? new Divergence(
              call.seq(),
              describe(call),
              call.file(),
              "result",
              describe(call.result()),
              describe(result))
          : compareMemory(call, log.ops());
    }
    return compare(
        call.seq(),
        describe(call),
        call.file(),
        call.result(),
        result,
        call.arg(),
        call.memory(),
        log.ops());
  }

  /** An ioctl on a VFIO group or device file, as the bridge makes it (an emulator fault EIO). */
  private long fileIoctl(EmulatedFile file, Trace.Ioctl call) {
    return answer(() -> file.ioctl(caller(call.pid()), fileTable, call.request(), call.arg()));
  }

  /**
   * An emulator's recording: the replay must return the same and make the same writes, descriptors,
   * interrupts and DMA, in order.
   */
  private static Divergence compare(
      long seq,
      String call,
      long file,
      long recorded,
      long result,
      long arg,
      List<MemoryLog.Op> want,
      List<MemoryLog.Op> got) {
    if (result != recorded) {
      return new Divergence(seq, call, file, "result", describe(recorded), describe(result));
    }
    return firstDifference(seq, call, file, arg, effects(want), effects(got), MemoryLog.Op::sameAs);
  }

  /**
   * The first place where {@code want} and {@code got}, op by op, are not {@code same} (or one has
   * an op the other lacks), or null.
   */
  private static Divergence firstDifference(
      long seq,
      String call,
      long file,
      long arg,
      List<MemoryLog.Op> want,
      List<MemoryLog.Op> got,
      BiPredicate<MemoryLog.Op, MemoryLog.Op> same) {
    for (int k = 0; k < Math.max(want.size(), got.size()); k++) {
      MemoryLog.Op w = k < want.size() ? want.get(k) : null;
      MemoryLog.Op g = k < got.size() ? got.get(k) : null;
      if (w == null || g == null || !same.test(w, g)) {
        MemoryLog.Op any = w != null ? w : g;
        String what =
            switch (any.kind()) {
              case WRITE ->
                  (inArg(arg, any) ? "reply bytes" : "memory written") + " (write " + (k + 1) + ")";
              case IRQ -> "interrupt (effect " + (k + 1) + ")";
              case DMA -> "DMA (effect " + (k + 1) + ")";
              default -> "descriptor " + (k + 1);
            };
        return new Divergence(seq, call, file, what, show(w), show(g));
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
              describe(call),
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
            describe(call),
            call.file(),
            "memory written where the kernel's call cannot write",
            "nothing",
            show(op));
      }
    }
    return firstDifference(
        call.seq(),
        describe(call),
        call.file(),
        call.arg(),
        descriptors(call.memory()),
        descriptors(ops),
        (w, g) -> w.fd() == g.fd());
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
    return inArg(call.arg(), op);
  }

  private static boolean inArg(long arg, MemoryLog.Op op) {
    return Long.compareUnsigned(op.address() - arg, 4096) < 0;
  }

  /** What a call changed: its writes, the descriptors it made, interrupts and DMA. */
  private static List<MemoryLog.Op> effects(List<MemoryLog.Op> ops) {
    List<MemoryLog.Op> out = new ArrayList<>();
    for (MemoryLog.Op op : ops) {
      switch (op.kind()) {
        case WRITE, FD, IRQ, DMA -> out.add(op);
        default -> {}
      }
    }
    return out;
  }

  private static String show(MemoryLog.Op op) {
    if (op == null) {
      return "nothing";
    }
    switch (op.kind()) {
      case FD -> {
        return "descriptor " + op.fd();
      }
      case IRQ, DMA -> {
        return CallPrinter.effect(op);
      }
      default -> {}
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
      if (isGone() && !pinned(address, dst.byteSize())) {
        return false;
      }
      resupply(pid, address, dst.byteSize());
      return memory.read(address, dst);
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
    reads.clear();
    if (!trace.header().kernel()) { // a kernel recording's reads are its footprint's, not calls'
      for (MemoryLog.Op op : ops) {
        if (op.kind() == MemoryLog.Kind.READ && op.ok() && op.bytes() != null) {
          reads.add(op);
        }
      }
    }
    Map<Integer, TreeMap<Long, Boolean>> okPages = new HashMap<>(); // page -> written ok
    for (MemoryLog.Op op : ops) {
      if (!op.ok()
          || !op.kind().onMemory()
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
          || !op.kind().onMemory()) {
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

  /**
   * Gives the range the bytes the recorded call's next read of it found: the program may change
   * memory while a call runs (a device polls a ring that the program's other threads fill), so two
   * reads of one range in one call can see different bytes, and the seed holds only the first.
   */
  private void resupply(int pid, long address, long length) {
    int k = 0;
    for (MemoryLog.Op op : reads) {
      if (op.pid() == pid && op.address() == address && op.length() == length) {
        for (int n = 0; n <= k; n++) {
          reads.poll();
        }
        memory(pid).putBytes(address, op.bytes());
        return;
      }
      k++;
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
    private final Deque<MemoryLog.Op> eventfds = new ArrayDeque<>();
    private final Map<Integer, Long> pending = new HashMap<>();
    private int spare = 1_000_000;

    void expect(List<MemoryLog.Op> ops) {
      reserved.clear();
      named.clear();
      eventfds.clear();
      pending.clear();
      for (MemoryLog.Op op : ops) {
        switch (op.kind()) {
          case FD -> reserved.add(op);
          case GETFD -> named.add(op);
          case EVENTFD -> eventfds.add(op);
          default -> {}
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

    /** The context the recorded call found behind {@code fd} (an iommufd to bind to). */
    @Override
    public Context context(int fd) {
      MemoryLog.Op op = named.poll();
      if (op == null || op.fd() != fd || op.file() == -1) {
        throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
      }
      return contexts.get(op.file());
    }

    /**
     * The eventfd the recorded call took over: one that goes nowhere (the interrupts vfio-pci
     * signals on it are compared as the call's effects), or the recorded refusal.
     */
    @Override
    public EventFd eventfd(int fd) {
      MemoryLog.Op op = eventfds.poll();
      if (op == null || op.fd() != fd) {
        throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd + " in the recording");
      }
      if (op.file() < 0) {
        throw ErrnoException.of(Errno.of((int) -op.file()), "as recorded");
      }
      return new EventFd() {
        @Override
        public void signal() {}

        @Override
        public void close() {}
      };
    }
  }
}
