package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.memory.UserMemory;
import org.iommufd4j.trace.Footprint;
import org.iommufd4j.trace.IovaShadow;
import org.iommufd4j.trace.MemoryLog;
import org.iommufd4j.trace.Trace;
import org.iommufd4j.uapi.IommuTestCmd;

/**
 * {@code exec --record FILE --kernel}: the shim makes every call on the real {@code /dev/iommu} in
 * the program's own process (so the kernel sees the program's address space and credentials) and
 * the server writes down what happened. For each ioctl the server works out the call's {@link
 * Footprint}, reads those bytes before the call, has the shim make it (the {@code CB_KERNEL_CALL}
 * callback), reads the written ones after, and records it all.
 *
 * <p>A file's close is recorded when the last process holding it lets it go: it closed its last
 * descriptor of it, or it exited. A process holds a file it opened or used. Whatever is still open
 * when the recording ends is closed then.
 */
final class KernelRecording {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");
  private static final long PAGE = 4096;

  /** Most bytes of an exiting process's areas recorded with its exit. */
  private static final long EXIT_SNAPSHOT = 64L << 20;

  private final Trace.Writer recorder;
  private final AtomicLong fileNumbers;

  /** Open files and the pids holding them. */
  private final Map<Long, Set<Integer>> holders = new HashMap<>();

  /** The open files that are contexts (opens of the node, not the files calls made). */
  private final Set<Long> contexts = new HashSet<>();

  /** Processes whose exit is recorded (until the pid is seen again). */
  private final Set<Integer> exited = new HashSet<>();

  /** Where IOVAs lie in user memory: the memory an access's IOVA reads and writes touch. */
  private final IovaShadow shadow = new IovaShadow();

  KernelRecording(Trace.Writer recorder, AtomicLong fileNumbers) {
    this.recorder = recorder;
    this.fileNumbers = fileNumbers;
  }

  /** Process {@code pid} opened (or first used, {@code adopted}) a file: its trace number. */
  long open(Caller caller, boolean vfio, boolean adopted) {
    process(caller);
    long file = fileNumbers.incrementAndGet();
    synchronized (holders) {
      holders.computeIfAbsent(file, k -> new HashSet<>()).add(caller.pid());
      contexts.add(file);
    }
    recorder.event(new Trace.Open(file, caller.pid(), vfio, recorder.now()));
    if (adopted) {
      LOG.log(
          System.Logger.Level.INFO,
          "pid {0}: a /dev/iommu descriptor opened before the "
              + "recording began is file {1}; what it did before is not in the trace",
          caller.pid(),
          file);
    }
    return file;
  }

  /** Process {@code pid} closed its last descriptor of {@code file}. */
  void closed(long file, int pid) {
    boolean last;
    synchronized (holders) {
      Set<Integer> h = holders.get(file);
      if (h == null) {
        return;
      }
      h.remove(pid);
      last = h.isEmpty();
      if (last) {
        holders.remove(file);
        contexts.remove(file);
      }
    }
    if (last) {
      shadow.forget(file);
      recorder.event(new Trace.Close(file, recorder.now()));
    }
  }

  /**
   * Process {@code pid} is exiting ({@code memory} still readable) or has exited (null): its memory
   * goes, its descriptors close. What its mapped areas hold is recorded first: the kernel keeps the
   * pinned pages, and an access may read them after.
   */
  void exited(int pid, UserMemory memory) {
    List<Long> files;
    synchronized (holders) {
      if (!exited.add(pid)) {
        return;
      }
      List<MemoryLog.Op> kept = new ArrayList<>();
      if (memory != null) {
        for (IovaShadow.Range r : shadow.ownedBy(pid, EXIT_SNAPSHOT)) {
          readBefore(memory, pid, r.address(), r.length(), kept);
        }
        kept.removeIf(op -> !op.ok()); // unmapped by now: nothing of it is pinned either
      }
      recorder.event(new Trace.Exit(pid, recorder.now(), kept));
      files = new ArrayList<>();
      for (Map.Entry<Long, Set<Integer>> e : holders.entrySet()) {
        if (e.getValue().contains(pid)) {
          files.add(e.getKey());
        }
      }
    }
    files.stream().sorted().forEach(f -> closed(f, pid));
  }

  /** The recording ends: what is still open is closed. */
  void finish() {
    List<Long> files;
    synchronized (holders) {
      files = new ArrayList<>(holders.keySet());
      holders.clear();
      contexts.clear();
    }
    files.stream().sorted().forEach(f -> recorder.event(new Trace.Close(f, recorder.now())));
  }

  /**
   * Whether ioctls on {@code file} are recorded: it is an open context. The files calls make (fault
   * queues, accesses) answer no ioctls, and a replay has no context for them.
   */
  boolean isContext(long file) {
    synchronized (holders) {
      return contexts.contains(file);
    }
  }

  /** What the shim does for the server during one call. */
  interface Client {
    /** Makes the call now: its result (or -errno) and its duration, or null if the link broke. */
    long[] call();

    /** The trace number of the file the client's descriptor {@code fd} is, or 0. */
    long fileOf(int fd);
  }

  /** What a recorded ioctl made: the new file (0 if none) and its descriptor. */
  record Made(long result, long file, int fd) {}

  /**
   * Records one ioctl on {@code file}: returns what it made, or null if the client's link broke
   * (the shim then makes the call itself, unrecorded, if it has not).
   */
  Made ioctl(
      Caller caller,
      long channel,
      long file,
      long request,
      long arg,
      MemorySegment before,
      Client client) {
    process(caller);
    synchronized (holders) {
      Set<Integer> h = holders.get(file);
      if (h != null) {
        h.add(caller.pid());
      }
    }
    Footprint fp = Footprint.of(request, arg, before);
    UserMemory memory = caller.memory();
    int pid = caller.pid();
    List<MemoryLog.Op> ops = new ArrayList<>();
    for (Footprint.Region r : fp.regions()) {
      readBefore(memory, pid, r.address(), r.length(), ops);
    }
    long namedFile = 0;
    if (fp.namedFdOffset() >= 0 && before.byteSize() >= fp.namedFdOffset() + 4) {
      int fd = before.get(JAVA_INT_UNALIGNED, fp.namedFdOffset());
      namedFile = client.fileOf(fd);
      ops.add(new MemoryLog.Op(MemoryLog.Kind.GETFD, 0, 0, 0, false, true, null, fd, namedFile));
    }
    List<IovaShadow.Range> behindIova = shadow.behindAccessRw(request, before, namedFile);
    for (IovaShadow.Range r : behindIova) {
      behind(caller, r, ops, false);
    }
    long t = recorder.now();
    long[] done = client.call();
    if (done == null) {
      return null;
    }
    long result = done[0];
    for (Footprint.Pin p : fp.pins()) {
      pinnable(memory, pid, p, ops);
    }
    byte[] reply = null;
    for (Footprint.Region r : fp.regions()) {
      if (r.written()) {
        byte[] after = readAfter(memory, pid, r.address(), r.length(), ops);
        if (r.address() == arg && reply == null) {
          reply = after;
        }
      }
    }
    if (!behindIova.isEmpty()
        && (before.get(JAVA_INT_UNALIGNED, IommuTestCmd.ACCESS_RW_FLAGS)
                & IommuTestCmd.MOCK_ACCESS_RW_WRITE)
            != 0) {
      for (IovaShadow.Range r : behindIova) { // the access wrote there
        behind(caller, r, ops, true);
      }
    }
    if (ops.stream().anyMatch(op -> op.kind() == MemoryLog.Kind.WRITE && !op.ok())
        && ProcessInfo.awaitExit(pid, 0)) {
      // killed during the call: what it wrote is lost with the process, not refused by it; the
      // regions stay, as ones the call could write whose bytes nobody saw
      ops.replaceAll(
          op ->
              op.kind() == MemoryLog.Kind.WRITE && !op.ok()
                  ? unseenWrite(op.pid(), op.address(), op.length())
                  : op);
    }
    long newFile = 0;
    int newFd = -1;
    if (result >= 0
        && fp.newFdOffset() >= 0
        && reply != null
        && reply.length >= fp.newFdOffset() + 4) {
      newFd = MemorySegment.ofArray(reply).get(JAVA_INT_UNALIGNED, fp.newFdOffset());
      newFile = fileNumbers.incrementAndGet();
      synchronized (holders) {
        holders.computeIfAbsent(newFile, k -> new HashSet<>()).add(pid);
      }
      ops.add(new MemoryLog.Op(MemoryLog.Kind.FD, 0, 0, 0, false, true, null, newFd, newFile));
    }
    shadow.learn(pid, file, request, before, reply, result, newFile, namedFile);
    recorder.event(
        new Trace.Ioctl(
            recorder.nextSeq(), file, pid, channel, request, arg, result, t, done[1], ops));
    return new Made(result, newFile, newFd);
  }

  /**
   * The memory behind an access's IOVAs, before the call or ({@code after}) after it. It may be
   * another process's (an area mapped by a forked child): read directly. If that process is gone,
   * its pinned pages live on in the kernel: where the caller shares the mapping with it (a
   * MAP_SHARED region from before the fork) the caller's view is those pages; otherwise nobody can
   * see them: before the call they are left out (the replay has them as the exit recorded them),
   * after it they are a region the call wrote with unseen bytes.
   */
  private static void behind(
      Caller caller, IovaShadow.Range r, List<MemoryLog.Op> ops, boolean after) {
    boolean own = r.pid() == caller.pid();
    List<MemoryLog.Op> got = read(own ? caller.memory() : ProcessMemory.of(r.pid()), r, after);
    if (!own
        && !got.stream().allMatch(MemoryLog.Op::ok)
        && ProcessInfo.sharedMapping(caller.pid(), r.address(), r.length())) {
      got = read(caller.memory(), r, after);
    }
    if (own || got.stream().allMatch(MemoryLog.Op::ok)) {
      ops.addAll(got);
    } else if (after) {
      ops.add(unseenWrite(r.pid(), r.address(), r.length()));
    }
  }

  /** A region the call could write whose bytes after it nobody could read. */
  private static MemoryLog.Op unseenWrite(int pid, long address, long length) {
    return new MemoryLog.Op(MemoryLog.Kind.WRITE, pid, address, length, false, true, null, 0, 0);
  }

  private static List<MemoryLog.Op> read(UserMemory memory, IovaShadow.Range r, boolean after) {
    List<MemoryLog.Op> got = new ArrayList<>();
    if (after) {
      readAfter(memory, r.pid(), r.address(), r.length(), got);
    } else {
      readBefore(memory, r.pid(), r.address(), r.length(), got);
    }
    return got;
  }

  private void process(Caller c) {
    synchronized (holders) {
      exited.remove(c.pid()); // a new process with a reused pid
    }
    recorder.process(
        new Trace.Process(c.pid(), c.uid(), c.capSysResource(), c.capIpcLock(), c.memlockLimit()));
  }

  /**
   * The region's bytes before the call: whole if readable, else the readable pages and the first
   * page that is not (where the kernel's copy fails, and a replay's must).
   */
  private static void readBefore(
      UserMemory memory, int pid, long address, long length, List<MemoryLog.Op> ops) {
    byte[] bytes = new byte[(int) length];
    if (memory.read(address, MemorySegment.ofArray(bytes))) {
      ops.add(
          new MemoryLog.Op(MemoryLog.Kind.READ, pid, address, length, false, true, bytes, 0, 0));
      return;
    }
    long end = address + length;
    if (Long.compareUnsigned(end, address) < 0) { // wraps: the kernel's range check refuses it
      ops.add(
          new MemoryLog.Op(MemoryLog.Kind.READ, pid, address, length, false, false, null, 0, 0));
      return;
    }
    for (long at = address; at != end; ) {
      int n = (int) Math.min(PAGE - (at & (PAGE - 1)), end - at);
      byte[] chunk = new byte[n];
      boolean ok = memory.read(at, MemorySegment.ofArray(chunk));
      ops.add(
          new MemoryLog.Op(MemoryLog.Kind.READ, pid, at, n, false, ok, ok ? chunk : null, 0, 0));
      if (!ok) {
        return;
      }
      at += n;
    }
  }

  /** The written region's bytes after the call (a failed op if it is not writable). */
  private static byte[] readAfter(
      UserMemory memory, int pid, long address, long length, List<MemoryLog.Op> ops) {
    byte[] bytes = new byte[(int) length];
    boolean ok =
        memory.read(address, MemorySegment.ofArray(bytes))
            && memory.isPinnable(address, length, true);
    ops.add(
        new MemoryLog.Op(
            MemoryLog.Kind.WRITE, pid, address, length, false, ok, ok ? bytes : null, 0, 0));
    return ok ? bytes : null;
  }

  /**
   * Whether the range could be pinned: one op if all of it can, else one for the pinnable pages
   * before the first that cannot, found by bisection, and a failed one from there.
   */
  private static void pinnable(
      UserMemory memory, int pid, Footprint.Pin p, List<MemoryLog.Op> ops) {
    if (memory.isPinnable(p.address(), p.length(), p.write())) {
      ops.add(
          new MemoryLog.Op(
              MemoryLog.Kind.PINNABLE, pid, p.address(), p.length(), p.write(), true, null, 0, 0));
      return;
    }
    long first = p.address() & -PAGE;
    long pages = Long.divideUnsigned(p.address() + p.length() - 1 - first, PAGE) + 1;
    if (Long.compareUnsigned(p.address() + p.length(), p.address()) < 0 || pages <= 0) {
      ops.add(
          new MemoryLog.Op(
              MemoryLog.Kind.PINNABLE, pid, p.address(), p.length(), p.write(), false, null, 0, 0));
      return;
    }
    long good = 0; // pages [0, good) pinnable, page `bad` not
    long bad = pages - 1;
    while (good < bad) {
      long mid = (good + bad) >>> 1;
      long length = (mid + 1) * PAGE - (p.address() - first);
      if (memory.isPinnable(p.address(), length, p.write())) {
        good = mid + 1;
      } else {
        bad = mid;
      }
    }
    long okLength = bad * PAGE - (p.address() - first);
    if (okLength > 0) {
      ops.add(
          new MemoryLog.Op(
              MemoryLog.Kind.PINNABLE, pid, p.address(), okLength, p.write(), true, null, 0, 0));
    }
    long failAt = Math.max(p.address(), first + bad * PAGE);
    ops.add(
        new MemoryLog.Op(
            MemoryLog.Kind.PINNABLE,
            pid,
            failAt,
            p.length() - (failAt - p.address()),
            p.write(),
            false,
            null,
            0,
            0));
  }
}
