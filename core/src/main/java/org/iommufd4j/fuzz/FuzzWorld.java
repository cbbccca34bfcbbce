package org.iommufd4j.fuzz;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.engine.Host;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Dispatcher;
import org.iommufd4j.vfio.VfioHost;

/**
 * A fresh emulated machine for a fuzz case: one context on a private host, whose caller's address
 * space is simulated with a fixed layout, so that a case replays identically anywhere. The host
 * also has QEMU's edu at {@link #EDU_BDF} behind vfio-pci (group 0, cdev vfio0) on a virtual clock
 * that moves on by {@link #TICK} after every call, so its factorial, DMA and interrupts happen at
 * the same step of every replay; its DMA goes through whatever the case bound and attached it to.
 * Descriptors {@link #EVENTFDS} are the caller's eventfds, which count their signals.
 *
 * <pre>
 *   ARGS     0x10000 .. +4 pages  RW   structs; the page after it is unmapped (partly mapped args)
 *   ARRAYS   0x20000 .. +4 pages  RW   allowed_iovas / iova_ranges arrays, bitmaps
 *   BUFFER   0x200000 .. +2 MiB   RW   user memory to map (2 MiB aligned)
 *   READONLY 0x400000 .. +8 pages RO
 *   HOLE     0x500000 ..          unmapped
 * </pre>
 */
final class FuzzWorld implements AutoCloseable {
  static final long ARGS = 0x10000;
  static final long ARGS_SIZE = 4 * 4096;
  static final long ARRAYS = 0x20000;
  static final long ARRAYS_SIZE = 4 * 4096;
  static final long BUFFER = 0x200000;
  static final long BUFFER_SIZE = 2 << 20;
  static final long READONLY = 0x400000;
  static final long READONLY_SIZE = 8 * 4096;
  static final long HOLE = 0x500000;

  final SimulatedMemory memory = SimulatedMemory.create();
  final Host host = new Host();
  final VirtualFileTable files = new VirtualFileTable();
  static final String EDU_BDF = "0000:00:04.0";

  /** The caller's eventfds: descriptors 10 to 13. */
  static final int[] EVENTFDS = {10, 11, 12, 13};

  static final Duration TICK = Duration.ofMillis(1);
  private static final int O_RDWR = 2;

  final Context context;
  final Caller caller;
  final Descriptors descriptors = new Descriptors();
  private final VirtualClock clock = new VirtualClock();
  private final VfioHost vfio;

  /** Every eventfd reference the emulator took, and what went wrong with them. */
  private final List<CountingEventFd> references = new ArrayList<>();

  private final List<String> eventfdMisuse = new ArrayList<>();

  FuzzWorld(boolean testAbi) {
    memory.map(ARGS, ARGS_SIZE, true);
    memory.map(ARRAYS, ARRAYS_SIZE, true);
    memory.map(BUFFER, BUFFER_SIZE, true);
    memory.map(READONLY, READONLY_SIZE, false);
    context = new Context(host, descriptors, testAbi, false);
    caller = new Caller(memory, 4242, 4242, true, false, 1L << 20);
    VfioHost.Builder b = VfioHost.builder();
    b.add(
        EDU_BDF,
        0,
        0,
        dma -> PciFunction.create(EduDevice::new, dma, clock, Interrupts.Sink.DISCARD));
    vfio = b.build();
  }

  /** Runs one call; returns the system call's result (or -errno), then lets the devices run. */
  long execute(FuzzCall call) {
    for (FuzzCall.Write w : call.writes()) {
      memory.write(w.address(), MemorySegment.ofArray(w.bytes()));
    }
    try {
      return dispatch(call);
    } finally {
      clock.advance(TICK);
    }
  }

  private long dispatch(FuzzCall call) {
    long request = call.request();
    if (request == FuzzCall.CLOSE_FD) {
      return files.close((int) call.arg()) ? 0 : -Errno.EBADF.number();
    }
    if (request == FuzzCall.OPEN_CDEV || request == FuzzCall.OPEN_GROUP) {
      int index = (int) call.arg();
      try {
        EmulatedFile f =
            request == FuzzCall.OPEN_CDEV
                ? vfio.openCdev(caller, index, O_RDWR)
                : vfio.openGroup(caller, index, O_RDWR);
        int fd = files.reserve();
        files.install(fd, f);
        return fd;
      } catch (ErrnoException e) {
        return -e.errno().number();
      }
    }
    if (call.fd() == FuzzCall.IOMMUFD && !call.isPseudo()) {
      return Dispatcher.ioctl(context, caller, request, call.arg(), null);
    }
    EmulatedFile f = files.get(call.fd());
    if (f == null) {
      return -Errno.EBADF.number();
    }
    if (request == FuzzCall.PREAD) {
      return f.pread(caller, call.arg(), call.count(), call.offset());
    } else if (request == FuzzCall.PWRITE) {
      return f.pwrite(caller, call.arg(), call.count(), call.offset());
    } else if (request == FuzzCall.MMAP) {
      return f.mmap(call.offset(), call.count(), (int) call.arg(), (int) (call.arg() >>> 32));
    }
    return f.ioctl(caller, descriptors, request, call.arg());
  }

  /** Reads back what the call left at {@code address}, or null if unreadable. */
  byte[] read(long address, int length) {
    byte[] b = new byte[length];
    return memory.read(address, MemorySegment.ofArray(b)) ? b : null;
  }

  List<String> invariantViolations() {
    List<String> broken = new ArrayList<>(context.checkInvariants());
    synchronized (references) {
      broken.addAll(eventfdMisuse);
    }
    return broken;
  }

  /** Eventfd references taken and not yet put. */
  int heldEventFds() {
    synchronized (references) {
      return (int) references.stream().filter(r -> !r.closed).count();
    }
  }

  /**
   * Closes everything the case left open and reports what survived: objects, pins, charges. Returns
   * null when nothing leaked.
   */
  String closeAndCheckLeaks() {
    files.closeAll();
    context.close();
    if (host.totalPins() != 0) {
      return "pins survived the close: " + host.totalPins();
    }
    if (host.lockedPagesOfUser(caller.uid()) != 0 || host.lockedPagesOfProcess(caller.pid()) != 0) {
      return "memlock charges survived the close";
    }
    if (context.objectCount() != 0) {
      return context.objectCount() + " objects survived the close";
    }
    if (heldEventFds() != 0) {
      return heldEventFds() + " eventfd references survived the close";
    }
    return null;
  }

  /** The caller's descriptor table: the iommufd, the files the emulator handed out, eventfds. */
  final class Descriptors implements FileTable {
    @Override
    public int reserve() {
      return files.reserve();
    }

    @Override
    public void unreserve(int fd) {
      files.unreserve(fd);
    }

    @Override
    public void install(int fd, EmulatedFile file) {
      files.install(fd, file);
    }

    @Override
    public EmulatedFile get(int fd) {
      return files.get(fd);
    }

    @Override
    public Context context(int fd) {
      if (fd == FuzzCall.IOMMUFD) {
        return context;
      }
      if (files.get(fd) != null || isEventFd(fd)) {
        return null;
      }
      throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
    }

    @Override
    public EventFd eventfd(int fd) {
      if (isEventFd(fd)) {
        CountingEventFd e = new CountingEventFd(fd);
        synchronized (references) {
          references.add(e);
        }
        return e;
      }
      if (fd == FuzzCall.IOMMUFD || files.get(fd) != null) {
        throw ErrnoException.of(Errno.EINVAL, "descriptor " + fd + " is no eventfd");
      }
      throw ErrnoException.of(Errno.EBADF, "no descriptor " + fd);
    }

    private static boolean isEventFd(int fd) {
      return fd >= EVENTFDS[0] && fd <= EVENTFDS[EVENTFDS.length - 1];
    }
  }

  /** One reference to a caller's eventfd: a signal after the put is a use after free. */
  private final class CountingEventFd implements EventFd {
    private final int fd;
    private boolean closed;

    CountingEventFd(int fd) {
      this.fd = fd;
    }

    @Override
    public void signal() {
      synchronized (references) {
        if (closed) {
          eventfdMisuse.add("eventfd " + fd + " signalled after its reference was put");
        }
      }
    }

    @Override
    public void close() {
      synchronized (references) {
        if (closed) {
          eventfdMisuse.add("eventfd " + fd + " reference put twice");
        }
        closed = true;
      }
    }
  }

  @Override
  public void close() {
    files.closeAll();
    context.close();
  }
}
