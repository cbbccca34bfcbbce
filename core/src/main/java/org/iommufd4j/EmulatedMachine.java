package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.Host;
import org.iommufd4j.engine.SharedRange;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.pci.ExecutorClock;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.uapi.Dispatcher;
import org.iommufd4j.vfio.VfioHost;

/**
 * An emulated host with PCI devices bound to vfio-pci, for a Java VFIO driver: it opens {@code
 * /dev/iommu}, {@code /dev/vfio/vfio}, {@code /dev/vfio/N} and {@code /dev/vfio/devices/vfioN} and
 * makes on the descriptors the calls a C program makes ({@code ioctl}, {@code pread}, {@code
 * pwrite}, {@code close}), with arguments in this process's native memory. A failing call throws
 * {@link IommufdException} with the errno the kernel would set. Devices sit at {@code 0000:00:04.0}
 * upwards, each in an IOMMU group of its own numbered from 0, with cdevs {@code vfio0} upwards,
 * behind QEMU 7.2's {@code intel-iommu}; their timers run on real time.
 *
 * <p>Eventfds are this process's own ({@link LibC#eventfd}): SET_IRQS and IOEVENTFD take the
 * descriptor numbers the driver got from {@code eventfd(2)}, the machine holds a duplicate of each
 * (the driver may close its own), signals a device's interrupts on it, and watches the INTx unmask
 * eventfds and ioeventfds the driver writes with a thread asleep in {@code poll(2)}. Thread safe.
 */
public final class EmulatedMachine implements AutoCloseable {
  private static final Pattern GROUP = Pattern.compile("/dev/vfio/(\\d+)");
  private static final Pattern CDEV = Pattern.compile("/dev/vfio/devices/vfio(\\d+)");
  private static final int O_RDWR = 2;

  private final Host host = new Host();
  private final ExecutorClock clock = new ExecutorClock("iommufd4j-machine");

  /** The machine's descriptors: iommufd contexts, and the files VFIO hands out. */
  private final VirtualFileTable files = new VirtualFileTable(ProcessEventFd::of);

  private final Caller caller =
      new Caller(ProcessMemory.self(), (int) ProcessHandle.current().pid(), 0, false, true, -1);
  private final VfioHost vfio;
  private final List<String> addresses;
  private final Syscalls syscalls = new MachineSyscalls();

  private EmulatedMachine(List<Function<PciDevice.Ports, ? extends PciDevice>> models) {
    VfioHost.Builder b = VfioHost.builder();
    List<String> bdfs = new ArrayList<>();
    for (int i = 0; i < models.size(); i++) {
      String bdf = String.format("0000:00:%02x.0", 4 + i);
      var model = models.get(i);
      b.add(bdf, i, i, dma -> PciFunction.create(model, dma, clock, Interrupts.Sink.DISCARD));
      bdfs.add(bdf);
    }
    this.vfio = b.build();
    this.addresses = List.copyOf(bdfs);
  }

  /**
   * A machine with one device per model, in the order given ({@code EduDevice::new} for QEMU's
   * edu).
   */
  @SafeVarargs
  public static EmulatedMachine withDevices(
      Function<PciDevice.Ports, ? extends PciDevice>... models) {
    if (models.length > 28) {
      throw new IllegalArgumentException("more devices than free slots 04-1f on bus 00");
    }
    return new EmulatedMachine(List.of(models));
  }

  /** The devices' PCI addresses: device {@code i} is in group {@code i} with cdev {@code vfioi}. */
  public List<String> addresses() {
    return addresses;
  }

  /**
   * {@code open(path, O_RDWR)}: an iommufd, the VFIO container, a group or a device cdev.
   *
   * @return the descriptor (numbered by the emulator, never one of this process's own)
   * @throws IommufdException ENOENT for another path, EBUSY for a group in use
   */
  public int open(String path) {
    return run(
        () -> {
          if (path.equals("/dev/iommu") || path.equals("/dev/vfio/vfio")) {
            return files.openContext(host, path.equals("/dev/vfio/vfio"));
          }
          Matcher group = GROUP.matcher(path);
          Matcher cdev = CDEV.matcher(path);
          EmulatedFile file;
          if (group.matches()) {
            file = vfio.openGroup(caller, Integer.parseInt(group.group(1)), O_RDWR);
          } else if (cdev.matches()) {
            file = vfio.openCdev(caller, Integer.parseInt(cdev.group(1)), O_RDWR);
          } else {
            throw ErrnoException.of(Errno.ENOENT, path);
          }
          int fd = files.reserve();
          files.install(fd, file);
          return fd;
        });
  }

  /**
   * An {@link Iommufd} of this machine ({@code open("/dev/iommu")}): the typed API over its byte
   * ABI, and what {@link VfioDevice#bind} binds this machine's devices to.
   */
  public Iommufd openIommufd() {
    return DescriptorIommufd.open(syscalls, "/dev/iommu");
  }

  /**
   * Opens device {@code cdevOrBdf} ({@code /dev/vfio/devices/vfioN} or one of {@link #addresses()})
   * through the typed VFIO API, as {@link VfioDevice#open} opens one of the kernel.
   *
   * @throws IommufdException ENOENT for no such device, EBUSY while its group is open
   */
  public VfioDevice openDevice(String cdevOrBdf) {
    int index = addresses.indexOf(cdevOrBdf);
    return VfioDevice.open(syscalls, index >= 0 ? "/dev/vfio/devices/vfio" + index : cdevOrBdf);
  }

  /** This machine's VFIO container ({@code /dev/vfio/vfio}) through the typed API. */
  public VfioContainer openContainer() {
    return VfioContainer.open(syscalls);
  }

  /**
   * IOMMU group {@code number} ({@code /dev/vfio/N}; device {@code i} is in group {@code i})
   * through the typed API.
   *
   * @throws IommufdException ENOENT for no such group, EBUSY while it is open or its device is
   *     bound through the cdev
   */
  public VfioGroup openGroup(int number) {
    return VfioGroup.open(syscalls, number);
  }

  /**
   * {@code ioctl(fd, request, arg)} with a struct in native memory.
   *
   * @return the call's result (0, or a descriptor or value some requests return)
   */
  public long ioctl(int fd, long request, MemorySegment arg) {
    return ioctl(fd, request, arg.address());
  }

  /** {@code ioctl(fd, request, value)} for requests that take a number (or nothing). */
  public long ioctl(int fd, long request, long value) {
    return check(rawIoctl(fd, request, value), fd);
  }

  /** {@code pread(fd, dst, dst.byteSize(), offset)}: the bytes read. */
  public long pread(int fd, MemorySegment dst, long offset) {
    return check(rawPread(fd, dst, offset), fd);
  }

  /** {@code pwrite(fd, src, src.byteSize(), offset)}: the bytes written. */
  public long pwrite(int fd, MemorySegment src, long offset) {
    return check(rawPwrite(fd, src, offset), fd);
  }

  private long rawIoctl(int fd, long request, long value) {
    Context ctx = files.contextOf(fd);
    if (ctx != null) {
      return Dispatcher.ioctl(ctx, caller, request, value, null);
    }
    EmulatedFile f = files.get(fd);
    return f == null ? -Errno.EBADF.number() : f.ioctl(caller, files, request, value);
  }

  private long rawPread(int fd, MemorySegment dst, long offset) {
    EmulatedFile f = files.get(fd);
    return f == null
        ? -Errno.EBADF.number()
        : f.pread(caller, dst.address(), dst.byteSize(), offset);
  }

  private long rawPwrite(int fd, MemorySegment src, long offset) {
    EmulatedFile f = files.get(fd);
    return f == null
        ? -Errno.EBADF.number()
        : f.pwrite(caller, src.address(), src.byteSize(), offset);
  }

  /**
   * {@code mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset)} of pages a device
   * keeps as plain memory (NVMe's doorbells): the memory the model itself uses, so plain stores
   * into the segment reach it as a program's stores through a mapped BAR do. Registers cannot be
   * trapped in this process: a range with any of them is refused.
   *
   * @return the mapping, unmapped when {@code arena} is closed
   * @throws IommufdException as the kernel's mmap checks answer, or ENODEV if the range is not
   *     wholly a device's plain memory
   */
  public MemorySegment mmap(int fd, long offset, long length, Arena arena) {
    EmulatedFile f = files.get(fd);
    if (f == null) {
      throw new IommufdException(Errno.EBADF, "descriptor " + fd + " is not open");
    }
    check(f.mmap(offset, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED), fd);
    List<SharedRange> shared = f.sharedRanges(offset, length);
    if (shared.size() != 1 || shared.getFirst().length() != length) {
      throw new IommufdException(
          Errno.ENODEV, "not wholly plain memory: registers cannot be mapped in this process");
    }
    SharedRange r = shared.getFirst();
    long address =
        LibC.mmap(
            0, length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, r.fd(), r.fdOffset());
    if (address < 0) {
      throw new IommufdException(Errno.of((int) -address), "mmap of the shared memory");
    }
    return MemorySegment.ofAddress(address)
        .reinterpret(length, arena, m -> LibC.munmap(m.address(), length));
  }

  /**
   * What {@code inspect} shows of the iommufd (or container) {@code fd}: its objects, IOVA spaces
   * and the functions VFIO bound to it.
   *
   * @throws IommufdException EBADF if {@code fd} is not an open iommufd or container
   */
  public Snapshot inspect(int fd) {
    Context ctx = files.contextOf(fd);
    if (ctx == null) {
      throw new IommufdException(Errno.EBADF, "descriptor " + fd + " is no iommufd");
    }
    return ctx.snapshot();
  }

  /** {@code close(fd)}; EBADF if it is not open. */
  public void close(int fd) {
    if (!files.close(fd)) {
      throw new IommufdException(Errno.EBADF, "descriptor " + fd + " is not open");
    }
  }

  /** Closes every descriptor still open, then stops the devices' clock. */
  @Override
  public void close() {
    files.closeAll();
    clock.close();
  }

  private static long check(long result, int fd) {
    if (result == -Errno.EBADF.number()) {
      throw new IommufdException(Errno.EBADF, "descriptor " + fd + " is not open");
    }
    return Failures.check(result, "descriptor " + fd);
  }

  /**
   * The machine's descriptors as system calls, for the typed API: {@code mmap} checks what vfio-pci
   * checks and answers 0, the accesses through the mapping then being pread and pwrite.
   */
  private final class MachineSyscalls implements Syscalls {
    @Override
    public String name() {
      return "machine";
    }

    @Override
    public int open(String path) {
      try {
        return EmulatedMachine.this.open(path);
      } catch (IommufdException e) {
        return -e.errno().number();
      }
    }

    @Override
    public int ioctl(int fd, long request, MemorySegment arg) {
      return (int) rawIoctl(fd, request, arg.address());
    }

    @Override
    public long read(int fd, MemorySegment buffer) {
      EmulatedFile f = files.get(fd);
      return f == null
          ? -Errno.EBADF.number()
          : f.read(caller, buffer.address(), buffer.byteSize());
    }

    @Override
    public long write(int fd, MemorySegment buffer) {
      EmulatedFile f = files.get(fd);
      return f == null
          ? -Errno.EBADF.number()
          : f.write(caller, buffer.address(), buffer.byteSize());
    }

    @Override
    public long pread(int fd, MemorySegment buffer, long offset) {
      return rawPread(fd, buffer, offset);
    }

    @Override
    public long pwrite(int fd, MemorySegment buffer, long offset) {
      return rawPwrite(fd, buffer, offset);
    }

    @Override
    public long mmap(int fd, long offset, long length, int prot) {
      EmulatedFile f = files.get(fd);
      return f == null ? -Errno.EBADF.number() : f.mmap(offset, length, prot, LibC.MAP_SHARED);
    }

    @Override
    public void munmap(long address, long length) {}

    @Override
    public int close(int fd) {
      return files.close(fd) ? 0 : -Errno.EBADF.number();
    }
  }

  private static int run(java.util.function.IntSupplier call) {
    try {
      return call.getAsInt();
    } catch (ErrnoException e) {
      throw new IommufdException(e.errno(), e.getMessage());
    }
  }

  @Override
  public String toString() {
    return "EmulatedMachine" + Objects.toString(addresses);
  }
}
