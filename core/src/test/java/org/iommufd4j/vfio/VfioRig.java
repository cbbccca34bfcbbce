package org.iommufd4j.vfio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.Host;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.Dispatcher;

/**
 * One process of an emulated host with one edu at 0000:00:04.0 (group 0, vfio0) behind a {@link
 * VfioHost}: its memory, its descriptors (iommufds, containers, a {@code /dev/null}, VFIO files),
 * and the calls a C program makes on them. Each call answers the system call's result.
 */
final class VfioRig {
  static final String BDF = "0000:00:04.0";

  final Host host = new Host();
  final SimulatedMemory memory = SimulatedMemory.create();
  final Caller caller = new Caller(memory, 1, 1000, false, true, -1);
  final VirtualClock clock = new VirtualClock();
  final Files files = new Files();
  final VfioHost vfio;
  final PciFunction edu;

  /** A scratch page for ioctl arguments. */
  final long arg = memory.allocate(4096, true);

  VfioRig() {
    VfioHost.Builder b = VfioHost.builder();
    edu =
        b.add(
            BDF,
            0,
            0,
            dma -> PciFunction.create(EduDevice::new, dma, clock, Interrupts.Sink.DISCARD));
    vfio = b.build();
  }

  /** The caller's descriptor table: iommufd contexts, VFIO files, and other files. */
  final class Files {
    final VirtualFileTable table = new VirtualFileTable();

    /** open("/dev/iommu") or open("/dev/vfio/vfio"). */
    int openIommufd(boolean container) {
      return table.openContext(host, container);
    }

    /** open("/dev/null"): a file that is neither an iommufd nor VFIO's. */
    int openNull() {
      int fd = table.reserve();
      table.install(fd, () -> {});
      return fd;
    }

    Context ctx(int fd) {
      return table.contextOf(fd);
    }

    EmulatedFile get(int fd) {
      return table.get(fd);
    }

    /** open(2) of a VFIO node: the descriptor, or -errno. */
    int open(java.util.function.Supplier<EmulatedFile> opener) {
      try {
        EmulatedFile f = opener.get();
        int fd = table.reserve();
        table.install(fd, f);
        return fd;
      } catch (ErrnoException e) {
        return -e.errno().number();
      }
    }

    /** close(2). */
    int close(int fd) {
      return table.close(fd) ? 0 : -Errno.EBADF.number();
    }
  }

  int openGroup() {
    return files.open(() -> vfio.openGroup(caller, 0, 2));
  }

  int openCdev() {
    return files.open(() -> vfio.openCdev(caller, 0, 2));
  }

  /** ioctl(2) on an iommufd or container descriptor, or on a VFIO file. */
  long ioctl(int fd, long request, long argument) {
    Context ctx = files.ctx(fd);
    if (ctx != null) {
      return Dispatcher.ioctl(ctx, caller, request, argument, null);
    }
    EmulatedFile f = files.get(fd);
    return f == null ? -Errno.EBADF.number() : f.ioctl(caller, files.table, request, argument);
  }

  long ioctl(int fd, Command command) {
    return ioctl(fd, command.request(), arg);
  }

  /** The scratch argument, zeroed, with {@code words} as its first 32-bit fields. */
  long args(int... words) {
    memory.putBytes(arg, new byte[256]);
    for (int i = 0; i < words.length; i++) {
      memory.putInt(arg + 4L * i, words[i]);
    }
    return arg;
  }

  int u32(long offset) {
    return memory.getInt(arg + offset);
  }

  long u64(long offset) {
    return memory.getLong(arg + offset);
  }

  long pread(int fd, long buffer, long count, long offset) {
    return files.get(fd).pread(caller, buffer, count, offset);
  }

  long pwrite(int fd, long buffer, long count, long offset) {
    return files.get(fd).pwrite(caller, buffer, count, offset);
  }

  /** A 4-byte BAR0 register read through the device file (-errno shows as such). */
  long bar0(int fd, long offset) {
    long buf = arg + 2048;
    long rc = pread(fd, buf, 4, offset);
    return rc < 0 ? rc : memory.getInt(buf) & 0xffff_ffffL;
  }

  long bar0Write(int fd, long offset, int size, long value) {
    long buf = arg + 2048;
    memory.putLong(buf, value);
    return pwrite(fd, buf, size, offset);
  }

  /** Sets bus mastering in the command register through the device file's config region. */
  void busMaster(int fd) {
    long config = 7L << 40;
    long buf = arg + 2048;
    pread(fd, buf, 2, config + 4);
    memory.putInt(buf, (memory.getInt(buf) & 0xffff) | 0x4);
    pwrite(fd, buf, 2, config + 4);
  }

  /** edu's DMA engine: one transfer, run to its end on virtual time. */
  void eduDma(int fd, long src, long dst, long count, long cmd) {
    bar0Write(fd, 0x80, 8, src);
    bar0Write(fd, 0x88, 8, dst);
    bar0Write(fd, 0x90, 8, count);
    bar0Write(fd, 0x98, 8, cmd);
    clock.advance(Duration.ofSeconds(1));
  }

  static String result(long rc) {
    return rc >= 0 ? Long.toString(rc) : "-" + Errno.of((int) -rc).name();
  }

  static byte[] bytes(MemorySegment s) {
    return s.toArray(ValueLayout.JAVA_BYTE);
  }
}
