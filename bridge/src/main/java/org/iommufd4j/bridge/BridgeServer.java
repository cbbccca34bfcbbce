package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.Host;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.trace.Trace;

/**
 * The emulated {@code /dev/iommu} for native programs: one process, listening on a Unix socket,
 * serving any number of clients (threads of programs running with the shim preloaded). Each open of
 * {@code /dev/iommu} is its own {@link Context}; all contexts share one {@link Host}, as all opens
 * share one kernel.
 *
 * <p>Threads: one accepts connections, one watches every handed-out file for its last close ({@link
 * FileWatcher}), and one serves each connection ({@link Channel}). A client can only occupy its own
 * channel threads.
 *
 * <p>Example:
 *
 * {@snippet :
 * try (BridgeServer server = BridgeServer.start(Path.of("/tmp/iommu.sock"), BridgeConfig.defaults())) {
 *   // run programs with LD_PRELOAD=<shim> IOMMUFD4J_SOCKET=/tmp/iommu.sock
 * }
 * }
 */
public final class BridgeServer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");

  private final BridgeConfig config;
  private final Path path;
  private final Host host = new Host();
  private final BridgeFileTable fileTable = new BridgeFileTable(this);
  private final UnixSocket listener;
  private final int wakeFd;
  private final FileWatcher watcher;
  private final Map<Long, ServerFile> files = new ConcurrentHashMap<>();
  private final Set<Channel> channels = ConcurrentHashMap.newKeySet();
  private final Map<String, ClientProcess> processes = new HashMap<>();
  private final String id;
  private final long idNumber;
  private final AtomicLong fileCounter = new AtomicLong();

  /** Memories of exited processes whose pinned pages are kept (pruned after each teardown). */
  private final Set<RemoteMemory> kept = ConcurrentHashMap.newKeySet();

  /** Notified whenever a file ends. */
  private final Object idle = new Object();

  private final Thread acceptor;
  private final Thread watcherThread;
  private volatile boolean closed;
  private final Hooks hooks;
  private final KernelRecording kernel;

  /**
   * What a server reports besides serving: {@code recorder} (or null) gets every open, ioctl and
   * teardown ({@code exec --record}); {@code atTeardown} (or null) gets each context's state just
   * before its teardown ({@code exec --inspect-at-exit}).
   */
  public record Hooks(Trace.Writer recorder, Consumer<ContextState> atTeardown) {
    public static final Hooks NONE = new Hooks(null, null);
  }

  /**
   * A context's state: {@code file} is the server's number for the open file, {@code pid} the
   * process that opened it, {@code closing} whether this is the state just before its teardown.
   */
  public record ContextState(long file, int pid, boolean closing, Snapshot snapshot) {}

  /** The state of every context not torn down yet, by file number. */
  public List<ContextState> snapshots() {
    List<ContextState> out = new ArrayList<>();
    for (ServerFile f : files.values()) {
      if (f.context != null && !f.isFinished() && !f.context.isClosed()) {
        out.add(new ContextState(f.number, f.openerPid, false, f.context.snapshot()));
      }
    }
    out.sort(Comparator.comparingLong(ContextState::file));
    return out;
  }

  Trace.Writer recorder() {
    return hooks.recorder();
  }

  /** The recording of calls the shim makes on the real kernel, or null when emulating. */
  KernelRecording kernelRecording() {
    return kernel;
  }

  private void teardown(ServerFile f, Runnable teardown) {
    try {
      if (f.context != null && hooks.atTeardown() != null) {
        hooks
            .atTeardown()
            .accept(new ContextState(f.number, f.openerPid, true, f.context.snapshot()));
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "observing the teardown of " + f + " failed", e);
    }
    Trace.Writer recorder = hooks.recorder();
    if (recorder == null) {
      teardown.run();
      return;
    }
    recorder.inOrder(
        () -> {
          try {
            recorder.event(new Trace.Close(f.number, recorder.now()));
          } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.ERROR, "recording the teardown of " + f + " failed", e);
          }
          teardown.run();
          return null;
        });
  }

  private BridgeServer(Path path, BridgeConfig config, Hooks hooks) throws IOException {
    this.path = path;
    this.config = config;
    this.hooks = hooks;
    this.kernel =
        hooks.recorder() != null && hooks.recorder().header().kernel()
            ? new KernelRecording(hooks.recorder(), fileCounter)
            : null;
    this.idNumber =
        ProcessHandle.current().pid() << 16 | ThreadLocalRandom.current().nextInt(1 << 16);
    this.id = Long.toHexString(idNumber);
    this.listener = UnixSocket.listen(path, 128);
    int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    if (fd < 0) {
      listener.close();
      throw new IOException("eventfd: errno " + -fd);
    }
    this.wakeFd = fd;
    this.watcher = new FileWatcher(this::fileEnded);
    this.watcherThread = Thread.ofPlatform().daemon().name("iommufd4j-files").start(watcher);
    this.acceptor = Thread.ofPlatform().daemon().name("iommufd4j-accept").start(this::acceptLoop);
  }

  /**
   * Listens on {@code socket} (which must not exist; removed again by {@link #close()}).
   *
   * @throws IOException if the socket cannot be made (path too long, in use, ...)
   */
  public static BridgeServer start(Path socket, BridgeConfig config) throws IOException {
    return start(socket, config, Hooks.NONE);
  }

  /** {@link #start(Path, BridgeConfig)} with a recorder and a teardown observer. */
  public static BridgeServer start(Path socket, BridgeConfig config, Hooks hooks)
      throws IOException {
    Objects.requireNonNull(socket, "socket");
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(hooks, "hooks");
    BridgeServer server = new BridgeServer(socket, config, hooks);
    LOG.log(System.Logger.Level.INFO, "iommufd4j bridge listening on {0}", socket);
    return server;
  }

  public Path socketPath() {
    return path;
  }

  public BridgeConfig config() {
    return config;
  }

  /** The emulated machine every context of this server runs on (pins, memory-lock accounts). */
  public Host host() {
    return host;
  }

  /**
   * Open {@code /dev/iommu} files not yet torn down (last descriptor open, or teardown running).
   */
  public int liveContexts() {
    int n = 0;
    for (ServerFile f : files.values()) {
      if (f.context != null && !f.isFinished()) {
        n++;
      }
    }
    return n;
  }

  /**
   * Waits until no {@code /dev/iommu} file is open (every client's last descriptor closed, by close
   * or by death) or {@code timeout} passes: true if none is.
   */
  public boolean awaitNoContexts(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (idle) {
      while (liveContexts() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        idle.wait(Math.max(1, left / 1_000_000));
      }
      return true;
    }
  }

  /** Connections being served. */
  public int channelCount() {
    return channels.size();
  }

  boolean isClosed() {
    return closed;
  }

  long idNumber() {
    return idNumber;
  }

  // ---- accepting -------------------------------------------------------------------------

  private void acceptLoop() {
    MemorySegment pollfds = Arena.ofAuto().allocate(16, 8);
    MemorySegment eight = Arena.ofAuto().allocate(8, 8);
    while (!closed) {
      pollfds.set(JAVA_INT, 0, listener.fd());
      pollfds.set(JAVA_SHORT, 4, LibC.POLLIN);
      pollfds.set(JAVA_SHORT, 6, (short) 0);
      pollfds.set(JAVA_INT, 8, wakeFd);
      pollfds.set(JAVA_SHORT, 12, LibC.POLLIN);
      pollfds.set(JAVA_SHORT, 14, (short) 0);
      int r = LibC.poll(pollfds, 2, -1);
      if (r == -Errno.EINTR.number()) {
        continue;
      }
      if (r < 0 || closed) {
        break;
      }
      if (pollfds.get(JAVA_SHORT, 14) != 0) {
        LibC.read(wakeFd, eight, 8);
      }
      if (pollfds.get(JAVA_SHORT, 6) == 0) {
        continue;
      }
      try {
        UnixSocket client = listener.accept();
        if (client == null) {
          continue;
        }
        if (channels.size() >= config.maxChannels()) {
          LOG.log(
              System.Logger.Level.WARNING,
              "{0} channels open: connection refused",
              channels.size());
          client.close();
          continue;
        }
        Channel channel = new Channel(this, client);
        channels.add(channel);
        Thread.ofPlatform().daemon().name("iommufd4j-channel").stackSize(256 * 1024).start(channel);
      } catch (IOException | RuntimeException | OutOfMemoryError e) {
        LOG.log(System.Logger.Level.WARNING, "accept failed: {0}", e.toString());
      }
    }
  }

  void channelClosed(Channel channel) {
    channels.remove(channel);
    synchronized (idle) {
      idle.notifyAll();
    }
  }

  /** Waits until at most {@code max} connections are being served: true if so in time. */
  public boolean awaitChannels(int max, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (idle) {
      while (channels.size() > max) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        idle.wait(Math.max(1, left / 1_000_000));
      }
      return true;
    }
  }

  // ---- processes -------------------------------------------------------------------------

  /** A client process: one {@link RemoteMemory} for all its channels. */
  record ClientProcess(String key, RemoteMemory memory, int[] channels) {}

  ClientProcess acquireProcess(int pid) {
    String key = pid + "@" + ProcessInfo.startTime(pid);
    synchronized (processes) {
      ClientProcess p =
          processes.computeIfAbsent(
              key, k -> new ClientProcess(k, new RemoteMemory(pid, host), new int[1]));
      p.channels()[0]++;
      return p;
    }
  }

  /** The memory of client process {@code pid} while it has a channel, or null. */
  RemoteMemory memoryOf(int pid) {
    synchronized (processes) {
      for (ClientProcess p : processes.values()) {
        if (p.memory().pid == pid) {
          return p.memory();
        }
      }
    }
    return null;
  }

  void releaseProcess(ClientProcess p) {
    boolean last;
    synchronized (processes) {
      last = --p.channels()[0] == 0;
      if (last) {
        processes.remove(p.key(), p);
      }
    }
    if (!last) {
      return;
    }
    // every channel of the process ended: if it exited, its kernel descriptors are closed
    if (kernel != null && ProcessInfo.awaitExit(p.memory().pid, 200)) {
      kernel.exited(p.memory().pid, null); // gone: nothing left to read
    }
    // and, by exit() or not, its memory is gone but for the pages still pinned; a process that
    // lives on (its threads that called have ended) is not waited for on this channel's thread
    Thread.ofVirtual()
        .name("iommufd4j-exit-" + p.memory().pid)
        .start(
            () -> {
              if (ProcessInfo.awaitExit(p.memory().pid, 200) && p.memory().ended(host)) {
                kept.add(p.memory());
              }
            });
  }

  /**
   * The caller a channel speaks for: thread {@code tid} of the peer's process. Each privilege is
   * either pinned by the configuration or read from that thread when the engine asks for it
   * (main.c: iommufd_option(); pages.c: do_update_pinned()), so a program that drops a capability
   * or changes its limit is seen at once.
   */
  Caller callerFor(ClientProcess process, UnixSocket.PeerCredentials peer, int tid) {
    Caller.Privileges live = Caller.Privileges.ofThread(peer.pid(), tid);
    Caller.Privileges privileges =
        Caller.Privileges.of(
            held(config.capSysResource(), live::capSysResource),
            held(config.capIpcLock(), live::capIpcLock),
            config.memlockLimit() == BridgeConfig.MEMLOCK_FROM_PROCESS
                ? live::memlockLimit
                : () -> config.memlockLimit());
    return new Caller(process.memory(), peer.pid(), peer.uid(), privileges);
  }

  private static BooleanSupplier held(BridgeConfig.Privilege p, BooleanSupplier fromProcess) {
    return switch (p) {
      case HELD -> () -> true;
      case NOT_HELD -> () -> false;
      case FROM_PROCESS -> fromProcess;
    };
  }

  // ---- files -----------------------------------------------------------------------------

  /** Descriptors of the calling client, for the engine and the emulated VFIO files. */
  BridgeFileTable fileTable() {
    return fileTable;
  }

  Context newContext(boolean vfioContainer) {
    return new Context(host, fileTable, config.testAbi(), vfioContainer, config.selftestCompat());
  }

  /**
   * A new socketpair-backed file: the server end bound to {@code "\0iommufd4j:<kind>:<id>:<n>"} and
   * watched, the client end waiting in {@link ServerFile#clientEnd()} to be handed over.
   */
  ServerFile newFile(int kind, Context context) {
    return newFile(kind, context, null);
  }

  /**
   * A new file opened at the device node {@code nodePath} (or none, null): the path follows the
   * name after an {@code @}, where the shim reads it for fstat and {@code /proc/self/fd/N}.
   */
  ServerFile newFile(int kind, Context context, String nodePath) {
    int[] pair;
    try {
      pair = UnixSocket.pair();
    } catch (IOException e) {
      if (context != null) {
        context.close();
      }
      throw new IllegalStateException("socketpair failed: " + e.getMessage());
    }
    String name;
    int r;
    long number;
    do {
      number = fileCounter.incrementAndGet();
      name =
          Wire.NAME_PREFIX
              + (char) kind
              + ":"
              + id
              + ":"
              + number
              + (nodePath == null ? "" : "@" + nodePath);
      r = UnixSocket.bindAbstract(pair[0], name);
    } while (r == -Errno.EADDRINUSE.number());
    long inode = UnixSocket.inode(pair[1]);
    ServerFile f = new ServerFile(kind, inode, pair[0], pair[1], name, context, number);
    if (kind != Wire.KIND_FAULT) {
      // poll() on the iommufd and on an access fd reports readable, as for files without a
      // poll method (main.c: iommufd_fops): a readiness byte nobody drains keeps the client end
      // readable.
      f.signal();
    }
    f.onFinished = this::forget;
    f.teardown = this::teardown;
    files.put(inode, f);
    watcher.watch(f);
    return f;
  }

  /** A file that was never handed over: it goes when the watcher sees its end. */
  void discard(ServerFile f) {
    f.closeClientEnd();
  }

  /** A client process is exiting: keep what it still has pinned (see {@link RemoteMemory}). */
  void processExiting(ClientProcess process) {
    if (process.memory().freeze(host)) {
      kept.add(process.memory());
    }
  }

  private void forget(ServerFile f) {
    files.remove(f.clientInode, f);
    kept.removeIf(m -> m.prune(host));
    synchronized (idle) {
      idle.notifyAll();
    }
  }

  ServerFile fileByInode(long inode) {
    return inode < 0 ? null : files.get(inode);
  }

  /**
   * A client closed a descriptor of the file with {@code inode}: if that was the last, the file
   * goes now, before the client's close() returns, instead of when the watcher notices.
   */
  void closedByClient(long inode) {
    ServerFile f = fileByInode(inode);
    if (f != null && f.peerGone()) {
      fileEnded(f);
      try {
        f.awaitTeardown(); // the watcher may have got there first
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The file stays findable until its teardown is over, so a racing close can wait for it. */
  private void fileEnded(ServerFile f) {
    f.closeClientEnd();
    f.endOfFile();
    LOG.log(System.Logger.Level.DEBUG, "{0}: last descriptor closed", f.name);
  }

  // ---- shutdown --------------------------------------------------------------------------

  /**
   * Stops accepting, disconnects every client (their calls then fail with EIO), closes every
   * context and removes the socket.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    MemorySegment one = Arena.ofAuto().allocate(8, 8);
    one.set(JAVA_LONG, 0, 1);
    LibC.write(wakeFd, one, 8);
    join(acceptor);
    listener.close();
    LibC.close(wakeFd);
    for (Channel c : List.copyOf(channels)) {
      c.shutdown();
    }
    watcher.stop();
    join(watcherThread);
    if (kernel != null) {
      kernel.finish();
    }
    try {
      Files.deleteIfExists(path);
    } catch (IOException e) {
      LOG.log(System.Logger.Level.WARNING, "cannot remove {0}: {1}", path, e.getMessage());
    }
  }

  private static void join(Thread t) {
    try {
      t.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
