package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioDeviceAttachIommufdPt;
import org.iommufd4j.uapi.VfioDeviceBindIommufd;
import org.iommufd4j.uapi.VfioDeviceDetachIommufdPt;
import org.iommufd4j.uapi.VfioDeviceInfo;
import org.iommufd4j.uapi.VfioIrqInfo;
import org.iommufd4j.uapi.VfioIrqSet;

/**
 * A VFIO device opened through its cdev ({@code /dev/vfio/devices/vfioN}), as a user-space driver
 * drives it (Linux 6.12, {@code device_cdev.c}, {@code vfio_pci_core.c}): {@link #bind} to an
 * {@link Iommufd}, {@link #attach} to an IOAS or HWPT, then {@link #info}, {@link #region}s to
 * read, write and map, interrupts wired to {@link EventFd}s and {@link #reset}. Every call is the
 * ioctl, {@code pread}, {@code pwrite} or {@code mmap} a C program makes, and fails with the
 * kernel's errno as an {@link IommufdException}: before {@link #bind} everything but binding is
 * EINVAL; a bad region or IRQ index is EINVAL; after {@link #close()} every call is EBADF.
 *
 * <p>Two backends, the same code above the system calls: {@link #open(String)} opens a device of
 * the real kernel, {@link EmulatedMachine#openDevice} one of an emulated machine (whose iommufd is
 * {@link EmulatedMachine#openIommufd()}). Thread safe; {@link #close()} waits for calls in
 * progress.
 *
 * {@snippet :
 * try (EmulatedMachine machine = EmulatedMachine.withDevices(EduDevice::new);
 *     Iommufd iommufd = machine.openIommufd();                  // or Iommufd.kernel()
 *     VfioDevice edu = machine.openDevice("0000:00:04.0")) {     // or VfioDevice.open(bdf)
 *   edu.bind(iommufd);
 *   edu.attach(iommufd.createIoas());
 *   edu.region(VfioRegion.CONFIG).writeShort(0x04, (short) 0x2); // memory decoding
 *   int id = edu.region(0).readInt(0);                           // 0x010000ed
 * }
 * }
 */
public final class VfioDevice implements AutoCloseable {
  /** vfio-pci's IRQ indexes ({@code VFIO_PCI_*_IRQ_INDEX}). */
  public static final int INTX = VfioIrqInfo.VFIO_PCI_INTX_IRQ_INDEX;

  public static final int MSI = VfioIrqInfo.VFIO_PCI_MSI_IRQ_INDEX;
  public static final int MSIX = VfioIrqInfo.VFIO_PCI_MSIX_IRQ_INDEX;
  public static final int ERR = VfioIrqInfo.VFIO_PCI_ERR_IRQ_INDEX;
  public static final int REQ = VfioIrqInfo.VFIO_PCI_REQ_IRQ_INDEX;

  private static final ValueLayout.OfInt U32 =
      JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final Pattern BDF =
      Pattern.compile("\\p{XDigit}{4}:\\p{XDigit}{2}:\\p{XDigit}{2}\\.[0-7]");

  /** What {@code VFIO_DEVICE_SET_IRQS} does to the interrupts it names. */
  public enum IrqAction {
    MASK(VfioIrqSet.VFIO_IRQ_SET_ACTION_MASK),
    UNMASK(VfioIrqSet.VFIO_IRQ_SET_ACTION_UNMASK),
    TRIGGER(VfioIrqSet.VFIO_IRQ_SET_ACTION_TRIGGER);

    final int flag;

    IrqAction(int flag) {
      this.flag = flag;
    }
  }

  /** {@code VFIO_DEVICE_GET_INFO}: {@code VFIO_DEVICE_FLAGS_*}, region and IRQ index counts. */
  public record Info(int flags, int regions, int irqs) {
    /** {@code VFIO_DEVICE_FLAGS_RESET}: {@link #reset()} can work. */
    public boolean resettable() {
      return (flags & VfioDeviceInfo.VFIO_DEVICE_FLAGS_RESET) != 0;
    }

    /** {@code VFIO_DEVICE_FLAGS_PCI}: a vfio-pci device. */
    public boolean pci() {
      return (flags & VfioDeviceInfo.VFIO_DEVICE_FLAGS_PCI) != 0;
    }
  }

  /** {@code VFIO_DEVICE_GET_IRQ_INFO}: {@code VFIO_IRQ_INFO_*} flags and the interrupt count. */
  public record IrqInfo(int index, int flags, int count) {
    /** {@code VFIO_IRQ_INFO_EVENTFD}: can signal an eventfd. */
    public boolean eventfd() {
      return (flags & VfioIrqInfo.VFIO_IRQ_INFO_EVENTFD) != 0;
    }

    /** {@code VFIO_IRQ_INFO_MASKABLE}. */
    public boolean maskable() {
      return (flags & VfioIrqInfo.VFIO_IRQ_INFO_MASKABLE) != 0;
    }

    /** {@code VFIO_IRQ_INFO_AUTOMASKED}: masked when it fires (INTx), until unmasked. */
    public boolean automasked() {
      return (flags & VfioIrqInfo.VFIO_IRQ_INFO_AUTOMASKED) != 0;
    }

    /** {@code VFIO_IRQ_INFO_NORESIZE}: the vector count is fixed once enabled. */
    public boolean noResize() {
      return (flags & VfioIrqInfo.VFIO_IRQ_INFO_NORESIZE) != 0;
    }
  }

  private final Descriptor descriptor;

  /** What {@link #bind} bound to (for {@link #hwInfo()}), or null. */
  private volatile DescriptorIommufd iommufd;

  private volatile int deviceId = -1;

  /** A device on {@code descriptor}: a cdev, or a device fd a {@link VfioGroup} handed out. */
  VfioDevice(Descriptor descriptor) {
    this.descriptor = descriptor;
  }

  /**
   * Opens a device of the real kernel: its cdev ({@code /dev/vfio/devices/vfioN}) or its PCI
   * address ({@code 0000:01:00.0}, found through {@code /sys/bus/pci/devices/BDF/vfio-dev/}).
   *
   * @throws IommufdException ENOENT where the kernel has no VFIO cdevs (no {@code /dev/vfio}: the
   *     message says to use {@link EmulatedMachine}) or the device is not bound to vfio-pci, EACCES
   *     without permission, EBUSY while the device's group is open
   */
  public static VfioDevice open(String cdevOrBdf) {
    Objects.requireNonNull(cdevOrBdf, "cdevOrBdf");
    return open(Syscalls.KERNEL, BDF.matcher(cdevOrBdf).matches() ? cdevOf(cdevOrBdf) : cdevOrBdf);
  }

  private static String cdevOf(String bdf) {
    Path vfioDev = Path.of("/sys/bus/pci/devices", bdf, "vfio-dev");
    try (Stream<Path> entries = Files.list(vfioDev)) {
      List<Path> cdevs = entries.toList();
      if (cdevs.size() == 1) {
        return "/dev/vfio/devices/" + cdevs.getFirst().getFileName();
      }
    } catch (IOException e) {
      // not bound to vfio-pci, or no such device: reported below
    }
    throw new IommufdException(
        Errno.ENOENT,
        bdf
            + " has no VFIO cdev ("
            + vfioDev
            + "): not a PCI device bound to vfio-pci on this kernel"
            + Descriptor.hint(Syscalls.KERNEL, Errno.ENOENT, "VFIO"));
  }

  /** {@code open(path, O_RDWR | O_CLOEXEC)} through {@code syscalls}. */
  static VfioDevice open(Syscalls syscalls, String path) {
    return new VfioDevice(
        Descriptor.open(syscalls, path, "VFIO device cdevs (CONFIG_VFIO_DEVICE_CDEV)"));
  }

  /**
   * {@code VFIO_DEVICE_BIND_IOMMUFD}: makes the device a DEVICE object of {@code iommufd} (which
   * must be of the same backend: {@link Iommufd#kernel()} for {@link #open}, the machine's {@link
   * EmulatedMachine#openIommufd()} for its devices). The binding holds the iommufd's context past
   * its close, as the kernel does.
   *
   * @return the device id ({@code out_devid}), for {@link Iommufd#hwInfo}, {@link
   *     Iommufd#allocHwpt} and the like
   * @throws IommufdException EINVAL if bound already, EBADF if {@code iommufd} is closed, EBUSY
   *     while the device's group is open
   * @throws IllegalArgumentException for an iommufd of another backend
   */
  public int bind(Iommufd iommufd) {
    if (!(iommufd instanceof DescriptorIommufd d)
        || d.descriptor().syscalls != descriptor.syscalls) {
      throw new IllegalArgumentException(
          iommufd
              + " is not an iommufd of this device's backend ("
              + descriptor.syscalls.name()
              + ")");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment bind = argument(arena, VfioDeviceBindIommufd.SIZE);
      long rc =
          d.descriptor() // held open until the kernel has taken its reference
              .raw(
                  iommufdFd -> {
                    bind.set(U32, VfioDeviceBindIommufd.IOMMUFD, iommufdFd);
                    return descriptor.raw(
                        fd -> descriptor.syscalls.ioctl(fd, Vfio.VFIO_DEVICE_BIND_IOMMUFD, bind));
                  });
      Failures.check(rc, "VFIO_DEVICE_BIND_IOMMUFD to " + d);
      int id = bind.get(U32, VfioDeviceBindIommufd.OUT_DEVID);
      this.iommufd = d;
      this.deviceId = id;
      return id;
    }
  }

  /**
   * The device id {@link #bind} returned.
   *
   * @throws IllegalStateException if the device is not bound
   */
  public int deviceId() {
    int id = deviceId;
    if (id < 0) {
      throw new IllegalStateException(this + " is not bound to an iommufd");
    }
    return id;
  }

  /**
   * {@code VFIO_DEVICE_ATTACH_IOMMUFD_PT} to an IOAS (or HWPT) id: the device's DMA then goes
   * through it. Attaching again replaces the attachment.
   *
   * @return the HWPT the device is attached to (for an IOAS, the one the kernel chose or made)
   * @throws IommufdException EINVAL before {@link #bind}, ENOENT for an unknown id
   */
  public int attach(int ptId) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment attach = argument(arena, VfioDeviceAttachIommufdPt.SIZE);
      attach.set(U32, VfioDeviceAttachIommufdPt.PT_ID, ptId);
      ioctl(
          Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT,
          attach,
          "VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=" + Integer.toUnsignedString(ptId));
      return attach.get(U32, VfioDeviceAttachIommufdPt.PT_ID);
    }
  }

  /** {@link #attach(int)} to {@code ioas}. */
  public int attach(Ioas ioas) {
    return attach(ioas.id());
  }

  /** {@link #attach(int)} to {@code hwpt}. */
  public int attach(Hwpt hwpt) {
    return attach(hwpt.id());
  }

  /**
   * {@code VFIO_DEVICE_DETACH_IOMMUFD_PT}: the device's DMA faults until it is attached again.
   *
   * @throws IommufdException EINVAL before {@link #bind}
   */
  public void detach() {
    try (Arena arena = Arena.ofConfined()) {
      ioctl(
          Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT,
          argument(arena, VfioDeviceDetachIommufdPt.SIZE),
          "VFIO_DEVICE_DETACH_IOMMUFD_PT");
    }
  }

  /** {@code VFIO_DEVICE_GET_INFO}. */
  public Info info() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info = argument(arena, VfioDeviceInfo.SIZE);
      ioctl(Vfio.VFIO_DEVICE_GET_INFO, info, "VFIO_DEVICE_GET_INFO");
      return new Info(
          info.get(U32, VfioDeviceInfo.FLAGS),
          info.get(U32, VfioDeviceInfo.NUM_REGIONS),
          info.get(U32, VfioDeviceInfo.NUM_IRQS));
    }
  }

  /**
   * {@code VFIO_DEVICE_GET_REGION_INFO} with its capability chain: region {@code index} ({@code
   * 0}-{@code 5} the BARs, {@link VfioRegion#ROM}, {@link VfioRegion#CONFIG}).
   *
   * @throws IommufdException EINVAL for an index the device does not have
   */
  public VfioRegion region(int index) {
    return VfioRegion.query(this, index);
  }

  /**
   * {@code VFIO_DEVICE_GET_IRQ_INFO} of IRQ index {@code index} ({@link #INTX}, {@link #MSI}, ...).
   *
   * @throws IommufdException EINVAL for an index the device does not have
   */
  public IrqInfo irqInfo(int index) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info = argument(arena, VfioIrqInfo.SIZE);
      info.set(U32, VfioIrqInfo.INDEX, index);
      ioctl(Vfio.VFIO_DEVICE_GET_IRQ_INFO, info, "VFIO_DEVICE_GET_IRQ_INFO index=" + index);
      return new IrqInfo(index, info.get(U32, VfioIrqInfo.FLAGS), info.get(U32, VfioIrqInfo.COUNT));
    }
  }

  /**
   * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_NONE}: {@code action} on interrupts {@code start
   * .. start + count - 1} of {@code index}. {@code TRIGGER} fires them (loopback); with {@code
   * count} 0 it disables the index.
   *
   * @throws IommufdException EINVAL for what vfio-pci refuses (an index or range the device does
   *     not have, TRIGGER of an index not enabled), ENOTTY for an action the index lacks (MASK or
   *     UNMASK of MSI)
   */
  public void setIrqs(int index, IrqAction action, int start, int count) {
    setIrqs(index, action, start, count, null);
  }

  /**
   * {@code VFIO_DEVICE_SET_IRQS} with {@code DATA_EVENTFD}: for {@code TRIGGER}, interrupt {@code
   * start + i} of {@code index} signals {@code eventfds[i]} (null: none); for {@code UNMASK}
   * (INTx), a signal of the eventfd unmasks. The device holds its own reference to each eventfd.
   *
   * @throws IommufdException EINVAL for what vfio-pci refuses, EBADF for a closed eventfd
   */
  public void setIrqs(int index, IrqAction action, int start, EventFd... eventfds) {
    int[] fds = new int[eventfds.length];
    for (int i = 0; i < fds.length; i++) {
      fds[i] = eventfds[i] == null ? -1 : fdOrClosed(eventfds[i]);
    }
    setIrqs(index, action, start, fds.length, fds);
  }

  private static int fdOrClosed(EventFd eventfd) {
    try {
      return eventfd.fd();
    } catch (IllegalStateException e) {
      return Integer.MAX_VALUE; // a number no descriptor has: EBADF, as for a closed descriptor
    }
  }

  /** SET_IRQS with {@code eventfds} as DATA_EVENTFD, or DATA_NONE if null. */
  private void setIrqs(int index, IrqAction action, int start, int count, int[] eventfds) {
    Objects.requireNonNull(action, "action");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment set =
          argument(arena, VfioIrqSet.SIZE + (eventfds == null ? 0 : Integer.BYTES * count));
      int data =
          eventfds == null
              ? VfioIrqSet.VFIO_IRQ_SET_DATA_NONE
              : VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD;
      set.set(U32, VfioIrqSet.FLAGS, data | action.flag);
      set.set(U32, VfioIrqSet.INDEX, index);
      set.set(U32, VfioIrqSet.START, start);
      set.set(U32, VfioIrqSet.COUNT, count);
      for (int i = 0; eventfds != null && i < count; i++) {
        set.set(U32, VfioIrqSet.DATA + (long) Integer.BYTES * i, eventfds[i]);
      }
      ioctl(
          Vfio.VFIO_DEVICE_SET_IRQS,
          set,
          "VFIO_DEVICE_SET_IRQS index="
              + index
              + " "
              + action
              + " start="
              + Integer.toUnsignedString(start)
              + " count="
              + count);
    }
  }

  /**
   * {@code VFIO_DEVICE_RESET}.
   *
   * @throws IommufdException EINVAL for a device without a reset method ({@link Info#resettable()}
   *     false)
   */
  public void reset() {
    ioctl(Vfio.VFIO_DEVICE_RESET, MemorySegment.NULL, "VFIO_DEVICE_RESET");
  }

  /**
   * {@code IOMMU_GET_HW_INFO} of this device on the iommufd it is bound to: on Intel VT-d (and the
   * emulated machines' QEMU {@code intel-iommu}) {@link HwInfo#vtdCapReg()} and {@link
   * HwInfo#vtdEcapReg()}.
   *
   * @throws IllegalStateException if the device is not bound
   */
  public HwInfo hwInfo() {
    int id = deviceId();
    return iommufd.hwInfo(id);
  }

  // ---- for VfioRegion and MappedRegion -------------------------------------------------------

  /** An ioctl on the device; throws the errno, the message naming {@code call}. */
  long ioctl(long request, MemorySegment arg, String call) {
    return descriptor.call(fd -> descriptor.syscalls.ioctl(fd, request, arg), call);
  }

  /** {@code pread} at device file offset {@code offset}: the bytes read. */
  long pread(MemorySegment dst, long offset) {
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("pread into a read-only segment");
    }
    if (!dst.isNative()) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment copy = arena.allocate(dst.byteSize(), 8);
        long n = pread(copy, offset);
        MemorySegment.copy(copy, 0, dst, 0, n);
        return n;
      }
    }
    return descriptor.call(
        fd -> descriptor.syscalls.pread(fd, dst, offset), "pread at 0x" + Long.toHexString(offset));
  }

  /** {@code pwrite} at device file offset {@code offset}: the bytes written. */
  long pwrite(MemorySegment src, long offset) {
    if (!src.isNative()) {
      try (Arena arena = Arena.ofConfined()) {
        return pwrite(arena.allocate(src.byteSize(), 8).copyFrom(src), offset);
      }
    }
    return descriptor.call(
        fd -> descriptor.syscalls.pwrite(fd, src, offset),
        "pwrite at 0x" + Long.toHexString(offset));
  }

  /** {@link Syscalls#mmap} of the device file. */
  long mmap(long offset, long length, int prot) {
    return descriptor.call(
        fd -> descriptor.syscalls.mmap(fd, offset, length, prot),
        "mmap of 0x" + Long.toHexString(length) + " bytes at 0x" + Long.toHexString(offset));
  }

  void munmap(long address, long length) {
    descriptor.syscalls.munmap(address, length);
  }

  /** A zeroed VFIO argument of {@code size} bytes with {@code argsz} set. */
  static MemorySegment argument(Arena arena, int size) {
    MemorySegment s = arena.allocate(size, 8);
    s.set(U32, 0, size);
    return s;
  }

  /**
   * {@code close(2)}: the kernel detaches and unbinds the device, and drops its interrupts'
   * eventfds. A kernel mapping of a region keeps the device open until it is closed; an emulated
   * machine's mapping ends with the device (its accesses are then EBADF). Idempotent.
   */
  @Override
  public void close() {
    descriptor.close();
    deviceId = -1;
  }

  @Override
  public String toString() {
    return "VfioDevice[" + descriptor + "]";
  }
}
