package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.FaultInjection;
import org.iommufd4j.engine.SharedRange;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.trace.MemoryLog;
import org.iommufd4j.trace.Trace;
import org.iommufd4j.uapi.Dispatcher;
import org.iommufd4j.vfio.VfioNodes;

/**
 * One client thread's connection, served by one server thread: the handshake, then requests (open,
 * attach, ioctl, read, write, pread, pwrite, mmap), each answered by a result after any callbacks.
 *
 * <p>Nothing a client sends can hurt another client or the server: frames are bounded (anything
 * else closes this channel), handles are this channel's own, and a client that stops answering a
 * callback is dropped after the timeout. The engine call in progress then sees EFAULT or a failed
 * descriptor install and finishes normally, undoing what it must; state shared with other clients
 * is only touched through the engine.
 *
 * <p>The calling process is the one that connected (SO_PEERCRED at connect time); the shim
 * reconnects after fork, so a channel never speaks for two processes.
 */
final class Channel implements Runnable {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.bridge");
  private static final int MAX_HANDLES = 4096;

  private static final AtomicLong NUMBERS = new AtomicLong();

  private final BridgeServer server;
  private final UnixSocket socket;

  /** This channel's number in recorded traces. */
  private final long number = NUMBERS.incrementAndGet();

  /** The socket until the handshake, then the mailbox if the client asked for one. */
  private Transport transport;

  private Mailbox mailbox;
  private final Arena arena = Arena.ofAuto();
  private final MemorySegment in = arena.allocate(Wire.CHUNK + 64, 8);
  private final MemorySegment out = arena.allocate(Wire.CHUNK + 64, 8);
  private final MemorySegment window = arena.allocate(Wire.WINDOW, 8);
  private final Map<Long, ServerFile> handles = new HashMap<>();
  private final Map<ServerFile, Long> handleOf = new IdentityHashMap<>();
  private long nextHandle = 1;
  private UnixSocket.PeerCredentials peer;
  private BridgeServer.ClientProcess process;
  private Caller caller;
  private boolean shimMemory;

  /** The connection failed during a callback: finish the engine call, then drop the channel. */
  private boolean broken;

  Channel(BridgeServer server, UnixSocket socket) {
    this.server = server;
    this.socket = socket;
    this.transport = socket;
  }

  int pid() {
    return peer == null ? 0 : peer.pid();
  }

  boolean shimMemory() {
    return shimMemory;
  }

  /** Whether the shim shares pinned pages as memfds (CB_SHARE). */
  private boolean sharesPins;

  boolean sharesPins() {
    return sharesPins;
  }

  void shutdown() {
    socket.shutdown();
  }

  @Override
  public void run() {
    try {
      peer = socket.peer();
      Thread.currentThread().setName("iommufd4j-channel-" + peer.pid());
      socket.timeouts(server.config().timeoutMillis());
      if (handshake()) {
        serve();
      }
    } catch (UnixSocket.ProtocolException e) {
      LOG.log(
          System.Logger.Level.WARNING,
          "client pid={0}: protocol error, channel closed: {1}",
          pid(),
          e.getMessage());
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.DEBUG, "client pid={0}: channel closed: {1}", pid(), e.getMessage());
    } catch (RuntimeException | Error e) {
      LOG.log(System.Logger.Level.ERROR, "client pid=" + pid() + ": channel failed", e);
    } finally {
      if (mailbox != null) {
        mailbox.close();
      }
      socket.close();
      if (process != null) {
        server.releaseProcess(process);
      }
      server.channelClosed(this);
    }
  }

  // ---- handshake ---------------------------------------------------------------------------

  private boolean handshake() throws IOException {
    UnixSocket.Frame f = receiveRequest();
    if (f == null) {
      return false;
    }
    if (f.type() != Wire.T_HELLO || f.length() < Wire.HELLO_SIZE) {
      throw new UnixSocket.ProtocolException("expected HELLO, got type " + f.type());
    }
    int magic = in.get(JAVA_INT, Wire.HELLO_MAGIC);
    int version = in.get(JAVA_INT, Wire.HELLO_VERSION);
    int flags = in.get(JAVA_INT, Wire.HELLO_FLAGS);
    int probeLength = in.get(JAVA_INT, Wire.HELLO_PROBE_LENGTH);
    long probeAddress = in.get(JAVA_LONG, Wire.HELLO_PROBE_ADDRESS);
    if (magic != Wire.MAGIC || version != Wire.VERSION) {
      sendHelloOk(Wire.MODE_SHIM, -1); // the shim sees the version differ and gives up
      LOG.log(
          System.Logger.Level.WARNING,
          "client pid={0}: magic 0x{1} version {2} refused",
          pid(),
          Integer.toHexString(magic),
          version);
      return false;
    }
    if (probeLength < 0
        || probeLength > Wire.PROBE_MAX
        || f.length() != Wire.HELLO_SIZE + probeLength) {
      throw new UnixSocket.ProtocolException("bad HELLO probe");
    }
    process = server.acquireProcess(peer.pid());
    caller = server.callerFor(process, peer, callingThread(in.get(JAVA_INT, Wire.HELLO_TID)));
    shimMemory =
        (flags & Wire.HELLO_FLAG_FORCE_SHIM_MEMORY) != 0
            || !directReadWorks(probeAddress, in.asSlice(Wire.HELLO_SIZE, probeLength));
    sharesPins = (flags & Wire.HELLO_FLAG_SHARE) != 0;
    int mode = shimMemory ? Wire.MODE_SHIM : Wire.MODE_DIRECT;
    if ((flags & Wire.HELLO_FLAG_MAILBOX) != 0) {
      int[] memfd = {-1};
      mailbox = Mailbox.create(socket, server.config().spinMicros() * 1000, memfd);
      try {
        sendHelloOk(mode | Wire.MODE_MAILBOX, memfd[0]);
      } finally {
        LibC.close(memfd[0]);
      }
      transport = mailbox;
    } else {
      sendHelloOk(mode, -1);
    }
    LOG.log(
        System.Logger.Level.DEBUG,
        "client pid={0} uid={1}: channel open, memory {2}",
        peer.pid(),
        peer.uid(),
        shimMemory ? "served by the shim" : "read directly");
    return true;
  }

  /**
   * The thread whose capabilities this channel's calls are checked against: the one the shim names
   * if it is a thread of the peer's process, else the process's main thread. A shim can only name a
   * thread of its own process, which could make the same call itself.
   */
  private int callingThread(int claimed) {
    if (claimed > 0
        && Files.isDirectory(
            Path.of("/proc", Integer.toString(peer.pid()), "task", Integer.toString(claimed)))) {
      return claimed;
    }
    return peer.pid();
  }

  /** Whether process_vm_readv on the client reads the probe bytes it claims to hold. */
  private boolean directReadWorks(long address, MemorySegment expected) {
    if (expected.byteSize() == 0) {
      return false;
    }
    MemorySegment got = arena.allocate(expected.byteSize());
    return ProcessMemory.of(peer.pid()).read(address, got) && got.mismatch(expected) < 0;
  }

  private void sendHelloOk(int mode, int memfd) throws IOException {
    out.set(JAVA_INT, Wire.HELLO_OK_VERSION, Wire.VERSION);
    out.set(JAVA_INT, Wire.HELLO_OK_MODE, mode);
    out.set(JAVA_LONG, Wire.HELLO_OK_SERVER, server.idNumber());
    socket.send(Wire.T_HELLO_OK, out, Wire.HELLO_OK_SIZE, memfd);
  }

  // ---- requests ----------------------------------------------------------------------------

  /** The next request; null at end of stream. Idle timeouts just keep waiting. */
  private UnixSocket.Frame receiveRequest() throws IOException {
    while (true) {
      try {
        return transport.receive(in);
      } catch (UnixSocket.SocketException e) {
        if (!e.idle() || server.isClosed()) {
          throw e;
        }
      }
    }
  }

  private void serve() throws IOException {
    UnixSocket.Frame f;
    while (!broken && (f = receiveRequest()) != null) {
      if (f.fd() >= 0 && f.type() != Wire.T_ATTACH) {
        LibC.close(f.fd());
      }
      switch (f.type()) {
        case Wire.T_OPEN -> {
          require(f, Wire.OPEN_SIZE);
          int flags = in.get(JAVA_INT, Wire.OPEN_FLAGS);
          int node = in.get(JAVA_INT, Wire.OPEN_NODE);
          if (node == Wire.NODE_VFIO_GROUP || node == Wire.NODE_VFIO_DEVICE) {
            openVfioNode(flags, node, in.get(JAVA_INT, Wire.OPEN_INDEX));
          } else {
            open(flags, node);
          }
        }
        case Wire.T_ATTACH -> attach(f.fd());
        case Wire.T_IOCTL -> {
          require(f, Wire.IOCTL_SIZE);
          MemorySegment argWindow = window(f);
          boolean writable =
              (in.get(JAVA_INT, Wire.IOCTL_FLAGS) & Wire.IOCTL_FLAG_WINDOW_WRITABLE) != 0;
          ioctl(
              in.get(JAVA_LONG, Wire.IOCTL_HANDLE),
              in.get(JAVA_LONG, Wire.IOCTL_REQUEST),
              in.get(JAVA_LONG, Wire.IOCTL_ARG),
              argWindow,
              writable);
        }
        case Wire.T_KOPEN -> {
          require(f, Wire.KOPEN_SIZE);
          kernelOpen(in.get(JAVA_INT, Wire.KOPEN_NODE), in.get(JAVA_INT, Wire.KOPEN_ADOPTED) != 0);
        }
        case Wire.T_KIOCTL -> {
          require(f, Wire.IOCTL_SIZE);
          MemorySegment before = window(f);
          kernelIoctl(
              in.get(JAVA_LONG, Wire.IOCTL_HANDLE),
              in.get(JAVA_LONG, Wire.IOCTL_REQUEST),
              in.get(JAVA_LONG, Wire.IOCTL_ARG),
              before);
        }
        case Wire.T_KCLOSED -> {
          require(f, Wire.KCLOSED_SIZE);
          KernelRecording k = server.kernelRecording();
          if (k != null) {
            k.closed(in.get(JAVA_LONG, Wire.KCLOSED_FILE), pid());
          }
          result(k == null ? -Wire.EPROTO : 0);
        }
        case Wire.T_CLOSED -> {
          require(f, Wire.CLOSED_SIZE);
          server.closedByClient(in.get(JAVA_LONG, Wire.CLOSED_INODE));
          result(0);
        }
        case Wire.T_EXITING -> {
          exiting();
          result(0);
        }
        case Wire.T_FAIL_NTH -> {
          require(f, Wire.FAIL_NTH_SIZE);
          failNth(in.get(JAVA_INT, Wire.FAIL_NTH_OP), in.get(JAVA_INT, Wire.FAIL_NTH_VALUE));
        }
        case Wire.T_READ, Wire.T_WRITE -> {
          require(f, Wire.RW_SIZE);
          readWrite(
              f.type(),
              in.get(JAVA_LONG, Wire.RW_HANDLE),
              in.get(JAVA_LONG, Wire.RW_BUFFER),
              in.get(JAVA_LONG, Wire.RW_COUNT));
        }
        case Wire.T_PREAD, Wire.T_PWRITE -> {
          require(f, Wire.PRW_SIZE);
          long count = in.get(JAVA_LONG, Wire.PRW_COUNT);
          positionedReadWrite(
              f.type() == Wire.T_PWRITE,
              in.get(JAVA_LONG, Wire.PRW_HANDLE),
              in.get(JAVA_LONG, Wire.PRW_BUFFER),
              count,
              in.get(JAVA_LONG, Wire.PRW_OFFSET),
              (in.get(JAVA_INT, Wire.PRW_FLAGS) & Wire.PRW_FLAG_TRAPPED) != 0,
              bufferWindow(f, count));
        }
        case Wire.T_MMAP -> {
          require(f, Wire.MMAP_SIZE);
          mmap(
              in.get(JAVA_LONG, Wire.MMAP_HANDLE),
              in.get(JAVA_LONG, Wire.MMAP_OFFSET),
              in.get(JAVA_LONG, Wire.MMAP_LENGTH),
              in.get(JAVA_INT, Wire.MMAP_PROT),
              in.get(JAVA_INT, Wire.MMAP_FLAGS));
        }
        default -> throw new UnixSocket.ProtocolException("unexpected frame type " + f.type());
      }
    }
  }

  /** The bytes at the ioctl argument that a T_IOCTL or T_KIOCTL frame carries. */
  private MemorySegment window(UnixSocket.Frame f) throws UnixSocket.ProtocolException {
    int windowLength = in.get(JAVA_INT, Wire.IOCTL_WINDOW_LENGTH);
    if (windowLength < 0
        || windowLength > Wire.WINDOW
        || f.length() != Wire.IOCTL_SIZE + windowLength) {
      throw new UnixSocket.ProtocolException("bad IOCTL window of " + windowLength);
    }
    MemorySegment.copy(in, Wire.IOCTL_SIZE, window, 0, windowLength);
    return windowLength == window.byteSize() ? window : window.asSlice(0, windowLength);
  }

  /** The bytes at a T_PREAD or T_PWRITE buffer that the frame carries: none, or all of them. */
  private MemorySegment bufferWindow(UnixSocket.Frame f, long count)
      throws UnixSocket.ProtocolException {
    long windowLength = f.length() - Wire.PRW_SIZE;
    if (windowLength != 0 && (windowLength != count || windowLength > Wire.WINDOW)) {
      throw new UnixSocket.ProtocolException("bad PREAD/PWRITE window of " + windowLength);
    }
    MemorySegment.copy(in, Wire.PRW_SIZE, window, 0, windowLength);
    return window.asSlice(0, windowLength);
  }

  private static void require(UnixSocket.Frame f, int size) throws UnixSocket.ProtocolException {
    if (f.length() < size) {
      throw new UnixSocket.ProtocolException(
          "frame type " + f.type() + " of " + f.length() + " bytes, need " + size);
    }
  }

  private void result(long result, long handle, long inode, int kind, int fd) throws IOException {
    putResult(result, handle, inode, kind, 0);
    transport.send(Wire.T_RESULT, out, Wire.RESULT_SIZE, fd);
  }

  /** The fixed part of a T_RESULT into {@code out}. */
  private void putResult(long result, long handle, long inode, int kind, int writeBackOffset) {
    out.set(JAVA_LONG, Wire.RESULT_VALUE, result);
    out.set(JAVA_LONG, Wire.RESULT_HANDLE, handle);
    out.set(JAVA_LONG, Wire.RESULT_INODE, inode);
    out.set(JAVA_INT, Wire.RESULT_KIND, kind);
    out.set(JAVA_INT, Wire.RESULT_WRITEBACK_OFFSET, writeBackOffset);
  }

  private void result(long result) throws IOException {
    result(result, 0, 0, 0, -1);
  }

  /** T_OPEN: a new context, its file handed over as a descriptor. */
  private void open(int flags, int node) throws IOException {
    if (server.kernelRecording() != null) {
      result(-Wire.EPROTO); // a kernel recording emulates nothing
      return;
    }
    if (node != Wire.NODE_IOMMU && node != Wire.NODE_VFIO) {
      result(-Errno.EINVAL.number());
      return;
    }
    if (node == Wire.NODE_VFIO && !server.config().vfioContainer()) {
      result(-Errno.ENOENT.number());
      return;
    }
    if (handles.size() >= MAX_HANDLES && !pruneHandles()) {
      result(-Wire.EMFILE);
      return;
    }
    Context context = server.newContext(node == Wire.NODE_VFIO);
    ServerFile file =
        server.newFile(
            Wire.KIND_IOMMUFD, context, node == Wire.NODE_VFIO ? "/dev/vfio/vfio" : "/dev/iommu");
    file.openerPid = pid();
    Trace.Writer recorder = server.recorder();
    if (recorder != null) {
      recorder.event(new Trace.Open(file.number, pid(), node == Wire.NODE_VFIO, recorder.now()));
    }
    try {
      result(0, handleFor(file), file.clientInode, file.kind, file.clientEnd());
    } finally {
      file.closeClientEnd(); // the client has it now (or died, and the file goes at once)
    }
    LOG.log(
        System.Logger.Level.DEBUG,
        "client pid={0}: opened {1} (flags 0x{2})",
        pid(),
        file.name,
        Integer.toHexString(flags));
  }

  /**
   * T_OPEN of a VFIO group {@code /dev/vfio/<index>} or device cdev {@code
   * /dev/vfio/devices/vfio<index>}: the emulated host's file, handed over as a descriptor. The
   * node's path goes into the file's name, for the shim's fstat and {@code /proc/self/fd/N}.
   */
  private void openVfioNode(int flags, int node, int index) throws IOException {
    VfioNodes nodes = server.config().vfioNodes();
    if (server.kernelRecording() != null || nodes == null || index < 0) {
      result(-Errno.ENOENT.number());
      return;
    }
    if (handles.size() >= MAX_HANDLES && !pruneHandles()) {
      result(-Wire.EMFILE);
      return;
    }
    boolean group = node == Wire.NODE_VFIO_GROUP;
    String path = group ? "/dev/vfio/" + index : "/dev/vfio/devices/vfio" + index;
    EmulatedFile[] opened = new EmulatedFile[1];
    ServerFile[] made = new ServerFile[1];
    long r;
    try (Call call = Call.enter(this, process.memory(), 0, 0, MemorySegment.NULL, false)) {
      r =
          onDevice(
              () -> {
                try {
                  opened[0] =
                      group
                          ? nodes.openGroup(caller, index, flags)
                          : nodes.openCdev(caller, index, flags);
                } catch (ErrnoException e) {
                  return -e.errno().number();
                }
                made[0] =
                    server.newFile(
                        group ? Wire.KIND_VFIO_GROUP : Wire.KIND_VFIO_DEVICE, null, path);
                return 0;
              },
              (seq, t, nanos, result, memory) ->
                  new Trace.VfioOpen(
                      seq, made[0] == null ? 0 : made[0].number, pid(), path, result, t));
      abandon(call);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "emulator fault opening a VFIO node, answered EIO", e);
      if (made[0] != null) {
        server.discard(made[0]);
      }
      if (opened[0] != null) {
        opened[0].release();
      }
      result(-Errno.EIO.number());
      return;
    }
    if (r < 0) {
      result(r);
      return;
    }
    ServerFile file = made[0];
    if (broken) {
      server.discard(file);
      opened[0].release();
      throw new IOException("connection lost during a callback");
    }
    file.openerPid = pid();
    file.install(opened[0]);
    try {
      result(0, handleFor(file), file.clientInode, file.kind, file.clientEnd());
    } finally {
      file.closeClientEnd();
    }
    LOG.log(
        System.Logger.Level.DEBUG,
        "client pid={0}: opened {1} (flags 0x{2})",
        pid(),
        path,
        Integer.toHexString(flags));
  }

  /** T_EXITING: this process is in exit(); a recording notes it (replays drop its memory). */
  private void exiting() {
    KernelRecording k = server.kernelRecording();
    if (k != null) {
      k.exited(pid(), process.memory());
      return;
    }
    try (Call call = Call.enter(this, process.memory(), 0, 0, MemorySegment.NULL, false)) {
      server.processExiting(process);
    }
    Trace.Writer recorder = server.recorder();
    if (recorder != null) {
      recorder.event(new Trace.Exit(pid(), recorder.now(), List.of()));
    }
  }

  /**
   * T_FAIL_NTH: the client thread's fail-nth file (selftest.c: iommufd_should_fail()). This server
   * thread executes every call of that client thread, so the engine's per-thread countdown is
   * exactly the client thread's.
   */
  private void failNth(int op, int value) throws IOException {
    if (!server.config().faultInjection()) {
      result(-Errno.EPERM.number());
    } else if (op == Wire.FAIL_NTH_OP_SET) {
      FaultInjection.arm(
          Integer.toUnsignedLong(value) > Integer.MAX_VALUE ? Integer.MAX_VALUE : value);
      result(0);
    } else if (op == Wire.FAIL_NTH_OP_GET) {
      result(FaultInjection.remaining());
    } else {
      result(-Errno.EINVAL.number());
    }
  }

  /** T_ATTACH: which file is the descriptor the client sent? */
  private void attach(int fd) throws IOException {
    if (fd < 0) {
      result(-Errno.EBADF.number());
      return;
    }
    long inode = UnixSocket.inode(fd);
    LibC.close(fd);
    ServerFile file = server.fileByInode(inode);
    if (file == null || !file.isLive()) {
      result(-Errno.ENOENT.number());
      return;
    }
    if (handles.size() >= MAX_HANDLES && !handleOf.containsKey(file) && !pruneHandles()) {
      result(-Wire.EMFILE);
      return;
    }
    result(file.kind, handleFor(file), file.clientInode, file.kind, -1);
  }

  private long handleFor(ServerFile file) {
    Long h = handleOf.get(file);
    if (h == null) {
      h = nextHandle++;
      handles.put(h, file);
      handleOf.put(file, h);
    }
    return h;
  }

  /** Forgets handles of files that are gone: true if room was made. */
  private boolean pruneHandles() {
    for (Iterator<Map.Entry<Long, ServerFile>> it = handles.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Long, ServerFile> e = it.next();
      if (!e.getValue().isLive()) {
        handleOf.remove(e.getValue());
        it.remove();
      }
    }
    return handles.size() < MAX_HANDLES;
  }

  private void ioctl(
      long handle, long request, long arg, MemorySegment argWindow, boolean windowWritable)
      throws IOException {
    ServerFile file = handles.get(handle);
    if (file == null || !file.acquire()) {
      result(-Errno.EBADF.number());
      return;
    }
    long r;
    long writeBackLength;
    long offset;
    Trace.Writer recorder = server.recorder();
    try (Call call = Call.enter(this, process.memory(), request, arg, argWindow, windowWritable)) {
      EmulatedFile emulated = file.file();
      if (file.context == null) {
        r =
            emulated == null
                ? -Errno.EBADF.number()
                : onDevice(
                    () -> emulatedIoctl(emulated, request, arg), ioctlEvent(file, request, arg));
      } else if (recorder == null) {
        r = Dispatcher.ioctl(file.context, caller, request, arg, null);
      } else {
        r = recorded(recorder, file, request, arg);
      }
      abandon(call);
      writeBackLength = call.copyWriteBack(out, Wire.RESULT_SIZE);
      offset = call.writeBackOffset();
    } finally {
      file.release();
    }
    if (broken) {
      throw new IOException("connection lost during a callback");
    }
    result(r, writeBackLength, offset);
  }

  /**
   * A result with the bytes a call wrote into its window, for the shim to apply at {@code offset}:
   * {@code writeBackLength} of them (possibly none), already in {@code out} after the fixed part.
   */
  private void result(long r, long writeBackLength, long offset) throws IOException {
    if (writeBackLength == 0) {
      result(r);
      return;
    }
    putResult(r, 0, 0, 0, (int) offset);
    transport.send(Wire.T_RESULT, out, Wire.RESULT_SIZE + writeBackLength, -1);
  }

  /** An ioctl on a VFIO group or device file: the file's own answer, an emulator fault EIO. */
  private long emulatedIoctl(EmulatedFile emulated, long request, long arg) {
    try {
      return emulated.ioctl(caller, server.fileTable(), request, arg);
    } catch (ErrnoException e) {
      return -e.errno().number();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "emulator fault in ioctl, answered EIO", e);
      return -Errno.EIO.number();
    }
  }

  // ---- exec --record --kernel -----------------------------------------------------------------

  /** T_KOPEN: the client opened the real node (or met a descriptor of it): number the file. */
  private void kernelOpen(int node, boolean adopted) throws IOException {
    KernelRecording k = server.kernelRecording();
    if (k == null || (node != Wire.NODE_IOMMU && node != Wire.NODE_VFIO)) {
      result(-Wire.EPROTO);
      return;
    }
    result(0, k.open(caller, node == Wire.NODE_VFIO, adopted), 0, 0, -1);
  }

  /**
   * T_KIOCTL: reads the call's footprint, has the shim make the call (CB_KERNEL_CALL), reads what
   * it wrote, records it. Without a kernel recording, or on a file that is not a context, the
   * answer is EPROTO and no callback: the shim then makes the call unrecorded.
   */
  private void kernelIoctl(long file, long request, long arg, MemorySegment before)
      throws IOException {
    KernelRecording k = server.kernelRecording();
    if (k == null || !k.isContext(file)) {
      result(-Wire.EPROTO);
      return;
    }
    KernelRecording.Made made;
    try (Call call = Call.enter(this, process.memory(), request, arg, before, false)) {
      made =
          k.ioctl(
              caller,
              number,
              file,
              request,
              arg,
              before,
              new KernelRecording.Client() {
                @Override
                public long[] call() {
                  long[] done = kernelCall();
                  call.forgetWindow(); // the kernel may have written there: read it afresh
                  return done;
                }

                @Override
                public long fileOf(int fd) {
                  return kernelFileOf(fd);
                }
              });
    }
    if (broken || made == null) {
      throw new IOException("connection lost during a callback");
    }
    result(made.result(), made.file(), made.fd(), 0, -1);
  }

  private long[] kernelCall() {
    if (!sendCallback(Wire.CB_KERNEL_CALL, 0, -1)) {
      return null;
    }
    int got = awaitReply(-1);
    if (got < Wire.KERNEL_CALL_REPLY_SIZE) {
      broken = true;
      return null;
    }
    return new long[] {
      in.get(JAVA_LONG, Wire.REPLY_STATUS), in.get(JAVA_LONG, Wire.KERNEL_CALL_NANOS)
    };
  }

  private long kernelFileOf(int fd) {
    if (!sendCallback(Wire.CB_FILE_OF, putTarget(fd), -1) || awaitReply(-1) < 0) {
      return 0;
    }
    return Math.max(0, in.get(JAVA_LONG, Wire.REPLY_STATUS));
  }

  /**
   * The ioctl, with what it read, wrote and returned written to the trace (exec --record); with
   * devices, in order with their calls and timers (a model's DMA depends on the IOAS).
   */
  private long recorded(Trace.Writer recorder, ServerFile file, long request, long arg) {
    return recorded(
        recorder,
        server.config().vfioNodes() != null,
        () -> Dispatcher.ioctl(file.context, caller, request, arg, null),
        ioctlEvent(file, request, arg));
  }

  private RecordedEvent ioctlEvent(ServerFile file, long request, long arg) {
    return (seq, t, nanos, result, memory) ->
        new Trace.Ioctl(seq, file.number, pid(), number, request, arg, result, t, nanos, memory);
  }

  /** What a recorded call becomes in the trace. */
  private interface RecordedEvent {
    Trace.Event of(long seq, long t, long nanos, long result, List<MemoryLog.Op> memory);
  }

  /**
   * A call on a VFIO file or device: run as it is, or under {@code exec --record} in order with the
   * other device calls and the models' timers, its memory, descriptors, interrupts and DMA
   * collected into the event {@code event} makes.
   */
  private long onDevice(LongSupplier call, RecordedEvent event) {
    Trace.Writer recorder = server.recorder();
    return recorder == null ? call.getAsLong() : recorded(recorder, true, call, event);
  }

  private long recorded(
      Trace.Writer recorder, boolean inOrder, LongSupplier call, RecordedEvent event) {
    recorder.process(
        new Trace.Process(
            caller.pid(),
            caller.uid(),
            caller.capSysResource(),
            caller.capIpcLock(),
            caller.memlockLimit()));
    Supplier<Long> run =
        () -> {
          long t = recorder.now();
          MemoryLog log = MemoryLog.begin();
          long r;
          long nanos;
          try {
            long start = System.nanoTime();
            r = call.getAsLong();
            nanos = System.nanoTime() - start;
          } finally {
            MemoryLog.end();
          }
          recorder.event(event.of(recorder.nextSeq(), t, nanos, r, log.ops()));
          return r;
        };
    return inOrder ? recorder.inOrder(run) : run.get();
  }

  private void readWrite(int type, long handle, long buffer, long count) throws IOException {
    onFile(
        handle,
        buffer,
        MemorySegment.NULL,
        (file, f) -> {
          if (file.kind == Wire.KIND_VFIO_DEVICE) {
            boolean write = type == Wire.T_WRITE;
            long r =
                transfer(
                    file,
                    f,
                    write ? Trace.Access.WRITE : Trace.Access.READ,
                    buffer,
                    count,
                    file.position);
            if (r > 0) {
              file.position += r;
            }
            return r;
          }
          if (type == Wire.T_READ) {
            file.drained(); // the shim empties the readiness bytes before each read
            long r = f.read(caller, buffer, count);
            if (f.readable()) {
              file.signal();
            }
            return r;
          }
          return f.write(caller, buffer, count);
        });
  }

  /**
   * T_PREAD, T_PWRITE: at {@code offset}, the file position untouched; {@code trapped}: a load or
   * store through a mapping, which the shim trapped.
   */
  private void positionedReadWrite(
      boolean write,
      long handle,
      long buffer,
      long count,
      long offset,
      boolean trapped,
      MemorySegment bufferWindow)
      throws IOException {
    Trace.Access access =
        trapped
            ? (write ? Trace.Access.STORE : Trace.Access.LOAD)
            : (write ? Trace.Access.PWRITE : Trace.Access.PREAD);
    onFile(
        handle,
        buffer,
        bufferWindow,
        (file, f) ->
            offset < 0
                ? -Errno.EINVAL.number() // read_write.c: ksys_pread64()
                : transfer(file, f, access, buffer, count, offset));
  }

  /** A region access on a VFIO file, recorded as a {@link Trace.Transfer} under a recording. */
  private long transfer(
      ServerFile file, EmulatedFile f, Trace.Access access, long buffer, long count, long offset) {
    return onDevice(
        () -> positioned(f, access.toDevice(), buffer, count, offset),
        (seq, t, nanos, result, memory) ->
            new Trace.Transfer(
                seq,
                file.number,
                f.device(),
                pid(),
                number,
                access,
                offset,
                buffer,
                count,
                result,
                t,
                memory));
  }

  /** A read or write of an emulated file: its result or {@code -errno}. */
  private interface FileTransfer {
    long run(ServerFile file, EmulatedFile f);
  }

  /**
   * Answers {@code transfer} on the emulated file {@code handle} names, in a call whose memory is
   * the caller's from {@code buffer}, the bytes there that the shim sent along in {@code
   * bufferWindow} (possibly none), which the call reads and writes in place: EBADF when there is no
   * such file, EINVAL for an iommufd (it has no read or write: main.c: iommufd_fops), EIO when the
   * emulator faults.
   */
  private void onFile(long handle, long buffer, MemorySegment bufferWindow, FileTransfer transfer)
      throws IOException {
    ServerFile file = handles.get(handle);
    if (file == null || !file.acquire()) {
      result(-Errno.EBADF.number());
      return;
    }
    long r;
    long writeBackLength = 0;
    long offset = 0;
    try (Call call =
        Call.enter(this, process.memory(), 0, buffer, bufferWindow, bufferWindow.byteSize() > 0)) {
      EmulatedFile f = file.file();
      if (file.context != null) {
        r = -Errno.EINVAL.number();
      } else if (f == null) {
        r = -Errno.EBADF.number();
      } else {
        r = transfer.run(file, f);
      }
      abandon(call);
      writeBackLength = call.copyWriteBack(out, Wire.RESULT_SIZE);
      offset = call.writeBackOffset();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "emulator fault in read/write, answered EIO", e);
      r = -Errno.EIO.number();
    } finally {
      file.release();
    }
    if (broken) {
      throw new IOException("connection lost during a callback");
    }
    result(r, writeBackLength, offset);
  }

  private long positioned(EmulatedFile f, boolean write, long buffer, long count, long offset) {
    try {
      return write
          ? f.pwrite(caller, buffer, count, offset)
          : f.pread(caller, buffer, count, offset);
    } catch (ErrnoException e) {
      return -e.errno().number();
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "emulator fault in pread/pwrite, answered EIO", e);
      return -Errno.EIO.number();
    }
  }

  /**
   * T_MMAP: whether the file may be mapped so (its mmap file operation's checks); the shim then
   * makes the mapping: the runs of shared memory the answer lists from their descriptor, the rest
   * trapped, each access a T_PREAD or T_PWRITE.
   */
  private void mmap(long handle, long offset, long length, int prot, int flags) throws IOException {
    ServerFile file = handles.get(handle);
    if (file == null || !file.acquire()) {
      result(-Errno.EBADF.number());
      return;
    }
    long r;
    List<SharedRange> shared = List.of();
    try {
      EmulatedFile f = file.file();
      r =
          file.context != null || f == null
              ? -Errno.ENODEV.number()
              : onDevice(
                  () -> {
                    try {
                      return f.mmap(offset, length, prot, flags);
                    } catch (ErrnoException e) {
                      return -e.errno().number();
                    }
                  },
                  (seq, t, nanos, result, memory) ->
                      new Trace.Mmap(
                          seq,
                          file.number,
                          f.device(),
                          pid(),
                          offset,
                          length,
                          prot,
                          flags,
                          result,
                          t));
      if (r == 0 && server.recorder() == null) {
        // under a recording every page stays trapped: a store into shared memory would not be
        // seen by the recording, so a replay could not follow the model (e.g. NVMe doorbells)
        shared = f.sharedRanges(offset, length);
      }
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.ERROR, "emulator fault in mmap, answered EIO", e);
      r = -Errno.EIO.number();
    } finally {
      file.release();
    }
    if (r != 0 || shared.isEmpty()) {
      result(r);
      return;
    }
    int fd = shared.getFirst().fd();
    int n = 0;
    for (SharedRange s : shared) { // one descriptor per answer; others' pages stay trapped
      if (s.fd() == fd && n < Wire.MMAP_SHARED_MAX) {
        long at = Wire.RESULT_SIZE + (long) n++ * Wire.MMAP_SHARED_SIZE;
        out.set(JAVA_LONG, at + Wire.MMAP_SHARED_AT, s.offset() - offset);
        out.set(JAVA_LONG, at + Wire.MMAP_SHARED_LENGTH, s.length());
        out.set(JAVA_LONG, at + Wire.MMAP_SHARED_FD_OFFSET, s.fdOffset());
      }
    }
    putResult(0, 0, 0, 0, 0);
    transport.send(Wire.T_RESULT, out, Wire.RESULT_SIZE + n * Wire.MMAP_SHARED_SIZE, fd);
  }

  /** Descriptors the engine reserved and neither installed nor released: an engine bug. */
  private void abandon(Call call) {
    Set<Integer> fds = call.takeReservations();
    if (!fds.isEmpty()) {
      LOG.log(System.Logger.Level.ERROR, "descriptors {0} reserved but never installed", fds);
      for (int fd : fds) {
        closeClientFd(fd);
      }
    }
  }

  // ---- callbacks (only while this channel's thread executes a call) ------------------------

  /** The reply to a callback: its length, or -1 when the connection is gone. */
  private int awaitReply(int extraFd) {
    if (broken) {
      return -1;
    }
    try {
      UnixSocket.Frame f = transport.receive(in);
      if (f == null || f.type() != Wire.T_CB_REPLY || f.length() < Wire.REPLY_SIZE) {
        if (f != null && f.fd() >= 0) {
          LibC.close(f.fd());
        }
        throw new UnixSocket.ProtocolException(
            f == null
                ? "end of stream in a callback"
                : "expected a callback reply, got type " + f.type());
      }
      if (extraFd >= 0) {
        lastFd = f.fd();
      } else if (f.fd() >= 0) {
        LibC.close(f.fd());
      }
      return f.length();
    } catch (IOException e) {
      LOG.log(
          System.Logger.Level.DEBUG, "client pid={0}: callback failed: {1}", pid(), e.getMessage());
      broken = true;
      return -1;
    }
  }

  private int lastFd = -1;

  private boolean sendCallback(int type, long length, int fd) {
    if (broken) {
      return false;
    }
    try {
      transport.send(type, out, length, fd);
      return true;
    } catch (IOException e) {
      broken = true;
      return false;
    }
  }

  boolean memRead(long address, MemorySegment dst) {
    long length = dst.byteSize();
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(Wire.CHUNK, length - done);
      out.set(JAVA_LONG, Wire.MEM_READ_ADDRESS, address + done);
      out.set(JAVA_LONG, Wire.MEM_READ_LENGTH, n);
      if (!sendCallback(Wire.CB_MEM_READ, Wire.MEM_READ_SIZE, -1)) {
        return false;
      }
      int got = awaitReply(-1);
      if (got < 0 || in.get(JAVA_LONG, Wire.REPLY_STATUS) != 0) {
        return false;
      }
      if (got != Wire.REPLY_SIZE + n) {
        broken = true;
        return false;
      }
      MemorySegment.copy(in, Wire.REPLY_SIZE, dst, done, n);
      done += n;
    }
    return true;
  }

  boolean memWrite(long address, MemorySegment src) {
    long length = src.byteSize();
    for (long done = 0; done < length; ) {
      int n = (int) Math.min(Wire.CHUNK, length - done);
      out.set(JAVA_LONG, Wire.MEM_WRITE_ADDRESS, address + done);
      MemorySegment.copy(src, done, out, Wire.MEM_WRITE_SIZE, n);
      if (!sendCallback(Wire.CB_MEM_WRITE, Wire.MEM_WRITE_SIZE + n, -1)
          || awaitReply(-1) < 0
          || in.get(JAVA_LONG, Wire.REPLY_STATUS) != 0) {
        return false;
      }
      done += n;
    }
    return true;
  }

  boolean pinnable(long address, long length, boolean write) {
    out.set(JAVA_LONG, Wire.PINNABLE_ADDRESS, address);
    out.set(JAVA_LONG, Wire.PINNABLE_LENGTH, length);
    out.set(JAVA_INT, Wire.PINNABLE_WRITE, write ? 1 : 0);
    out.set(JAVA_INT, Wire.PINNABLE_RESERVED, 0);
    return sendCallback(Wire.CB_PINNABLE, Wire.PINNABLE_SIZE, -1)
        && awaitReply(-1) >= 0
        && in.get(JAVA_LONG, Wire.REPLY_STATUS) == 0;
  }

  /**
   * One part of a range the shim was asked to share: {@code fd} (the caller's to close) holds its
   * pages from {@code offset}, or is -1 when the part is not shared.
   */
  record SharedPart(long address, long length, int fd, long offset) {}

  /**
   * CB_SHARE: the shim makes the page-aligned {@code [address, address + length)} shared memory
   * where it can. The parts in address order; they stop short of the end where the memory is not
   * mapped or the connection broke.
   */
  List<SharedPart> share(long address, long length) {
    List<SharedPart> parts = new ArrayList<>();
    for (long done = 0; done < length; ) {
      out.set(JAVA_LONG, Wire.SHARE_ADDRESS, address + done);
      out.set(JAVA_LONG, Wire.SHARE_LENGTH, length - done);
      if (!sendCallback(Wire.CB_SHARE, Wire.SHARE_SIZE, -1)) {
        break;
      }
      lastFd = -1;
      int got = awaitReply(0);
      int fd = lastFd;
      lastFd = -1;
      long status = got < 0 ? -1 : in.get(JAVA_LONG, Wire.REPLY_STATUS);
      long span = got >= Wire.SHARE_REPLY_SIZE ? in.get(JAVA_LONG, Wire.SHARED_LENGTH) : 0;
      boolean shared = status == Wire.SHARE_SHARED && fd >= 0;
      if (!shared && fd >= 0) {
        LibC.close(fd);
      }
      if (status < 0 || got < Wire.SHARE_REPLY_SIZE) {
        break;
      }
      if (span <= 0 || span > length - done || (span & 4095) != 0) {
        broken = true; // a shim that answers what was not asked
        if (shared) {
          LibC.close(fd);
        }
        break;
      }
      long offset = shared ? in.get(JAVA_LONG, Wire.SHARED_OFFSET) : -1;
      parts.add(new SharedPart(address + done, span, shared ? fd : -1, offset));
      done += span;
    }
    return parts;
  }

  /** Gives the client the file's descriptor: its number there, or -errno. */
  int installFd(ServerFile file, int fdFlags) {
    try {
      out.set(JAVA_INT, Wire.NEW_FD_FLAGS, fdFlags);
      out.set(JAVA_INT, Wire.NEW_FD_KIND, file.kind);
      out.set(JAVA_LONG, Wire.NEW_FD_HANDLE, handleFor(file));
      out.set(JAVA_LONG, Wire.NEW_FD_INODE, file.clientInode);
      if (!sendCallback(Wire.CB_NEW_FD, Wire.NEW_FD_SIZE, file.clientEnd()) || awaitReply(-1) < 0) {
        return -Errno.EIO.number();
      }
      long fd = in.get(JAVA_LONG, Wire.REPLY_STATUS);
      return fd >= 0 && fd <= Integer.MAX_VALUE ? (int) fd : (int) Math.max(fd, -4095);
    } finally {
      file.closeClientEnd();
    }
  }

  void closeClientFd(int fd) {
    if (sendCallback(Wire.CB_CLOSE_FD, putTarget(fd), -1)) {
      awaitReply(-1);
    }
  }

  /** The server file behind the client's descriptor {@code fd}, or null. */
  ServerFile fileBehind(int fd) {
    return fileBehind(fd, false);
  }

  /**
   * The server file behind the client's descriptor {@code fd}, or null; with {@code
   * noDescriptorIsEbadf}, an ErrnoException EBADF when the client has no descriptor {@code fd} at
   * all (null is then for a descriptor of something else).
   */
  ServerFile fileBehind(int fd, boolean noDescriptorIsEbadf) {
    if (!sendCallback(Wire.CB_GET_FD, putTarget(fd), -1)) {
      return null;
    }
    lastFd = -1;
    if (awaitReply(0) < 0 || in.get(JAVA_LONG, Wire.REPLY_STATUS) != 0 || lastFd < 0) {
      if (lastFd >= 0) {
        LibC.close(lastFd);
      }
      lastFd = -1;
      if (noDescriptorIsEbadf
          && !broken
          && in.get(JAVA_LONG, Wire.REPLY_STATUS) == -Errno.EBADF.number()) {
        throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
      }
      return null;
    }
    long inode = UnixSocket.inode(lastFd);
    LibC.close(lastFd);
    lastFd = -1;
    ServerFile f = server.fileByInode(inode);
    return f != null && f.isLive() ? f : null;
  }

  /**
   * A duplicate, in this process, of whatever the client's descriptor {@code fd} is (CB_DUP_FD):
   * the new descriptor, or -1 when the client has no such descriptor.
   */
  int duplicateOf(int fd) {
    if (!sendCallback(Wire.CB_DUP_FD, putTarget(fd), -1)) {
      return -1;
    }
    lastFd = -1;
    if (awaitReply(0) < 0 || in.get(JAVA_LONG, Wire.REPLY_STATUS) != 0 || lastFd < 0) {
      if (lastFd >= 0) {
        LibC.close(lastFd);
      }
      lastFd = -1;
      return -1;
    }
    int dup = lastFd;
    lastFd = -1;
    return dup;
  }

  /** The payload of a callback about the client's descriptor {@code fd}: its length. */
  private int putTarget(int fd) {
    out.set(JAVA_INT, Wire.TARGET_FD, fd);
    out.set(JAVA_INT, Wire.TARGET_RESERVED, 0);
    return Wire.TARGET_SIZE;
  }
}
