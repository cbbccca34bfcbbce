package org.iommufd4j.vfio;

import static org.iommufd4j.uapi.VfioDeviceInfo.VFIO_DEVICE_FLAGS_PCI;
import static org.iommufd4j.uapi.VfioDeviceInfo.VFIO_DEVICE_FLAGS_RESET;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_IRQ_INFO_AUTOMASKED;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_IRQ_INFO_EVENTFD;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_IRQ_INFO_MASKABLE;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_IRQ_INFO_NORESIZE;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_ERR_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_INTX_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_MSIX_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_MSI_IRQ_INDEX;
import static org.iommufd4j.uapi.VfioIrqInfo.VFIO_PCI_NUM_IRQS;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_PCI_BAR5_REGION_INDEX;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_PCI_CONFIG_REGION_INDEX;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_PCI_NUM_REGIONS;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_PCI_ROM_REGION_INDEX;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_PCI_VGA_REGION_INDEX;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_REGION_INFO_FLAG_CAPS;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_REGION_INFO_FLAG_MMAP;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_REGION_INFO_FLAG_READ;
import static org.iommufd4j.uapi.VfioRegionInfo.VFIO_REGION_INFO_FLAG_WRITE;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.engine.SharedRange;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VfioPciConfig;
import org.iommufd4j.uapi.VfioIrqSet;

/**
 * What a bound vfio-pci device file answers for an emulated PCI function: the information ioctls,
 * {@code VFIO_DEVICE_RESET}, and {@code pread}/{@code pwrite} of its regions, as Linux 6.12's
 * {@code drivers/vfio/pci/vfio_pci_core.c} and {@code vfio_pci_rdwr.c} do them. Byte-level ioctl
 * arguments are decoded by {@link VfioPciIoctls}; this class is the Java-level view.
 *
 * <p>Region {@code i} lies at file offset {@code i << 40}: BARs 0-5, the ROM (6), config space (7,
 * through {@link VfioPciConfig}) and VGA (8, which no emulated device has). While the file is open
 * the model's interrupts are routed to the program's eventfds as SET_IRQS wired them; {@link
 * #close()} undoes that. Callers serialise calls per device, as the kernel's locks do; the model
 * may raise interrupts from any thread.
 */
public final class VfioPciDevice {
  // mmap(2) flags (x86-64).
  private static final int MAP_TYPE = 0x0f;
  private static final int MAP_SHARED = 0x01;
  private static final int MAP_SHARED_VALIDATE = 0x03;

  /** Bits of a file offset below the region index ({@code VFIO_PCI_OFFSET_SHIFT}). */
  static final int OFFSET_SHIFT = 40;

  static final long OFFSET_MASK = (1L << OFFSET_SHIFT) - 1;

  // Config-space facts this layer needs (PCI Local Bus and PCI Express specifications).
  private static final int INTERRUPT_PIN = 0x3d;
  private static final int HEADER_END = 0x40;
  private static final int CAP_ID_PM = 0x01;
  private static final int CAP_ID_MSI = 0x05;
  private static final int CAP_ID_EXP = 0x10;
  private static final int CAP_ID_MSIX = 0x11;
  private static final int PM_CTRL = 4;
  private static final int PM_CTRL_NO_SOFT_RESET = 0x0008;
  private static final int MSI_FLAGS = 2;
  private static final int MSIX_FLAGS = 2;
  private static final int MSIX_TABLE = 4;
  private static final int EXP_DEVCAP = 4;
  private static final int EXP_DEVCAP_FLR = 0x1000_0000;

  /** What {@code VFIO_DEVICE_GET_INFO} answers (no capability chain: no zPCI, no AtomicOps). */
  public record DeviceInfo(int flags, int numRegions, int numIrqs) {}

  /**
   * What {@code VFIO_DEVICE_GET_REGION_INFO} answers for one region; {@code msixMappable} is the
   * one capability vfio-pci 6.12 chains for a BAR (the MSI-X table's BAR may be mapped whole).
   */
  public record RegionInfo(int index, int flags, long size, long offset, boolean msixMappable) {}

  /** What {@code VFIO_DEVICE_GET_IRQ_INFO} answers for one interrupt index. */
  public record IrqInfo(int index, int flags, int count) {}

  private final PciFunction function;
  private final ConfigSpace hw;
  private final VfioPciConfig config;
  private final long[] resourceStart = new long[6];
  private final boolean resetWorks;
  private final int msixBar;
  private final long msixOffset;
  private final long msixSize;
  private final VfioPciIrqs irqs;
  private final Interrupts.Sink closedSink;
  private final VfioIoeventfds ioeventfds;
  private boolean lowPower;
  private EventFd wakeup;

  /** Opens {@code function} the way vfio_pci_core_enable() does when the device file is opened. */
  public VfioPciDevice(PciFunction function) {
    this.function = Objects.requireNonNull(function);
    this.hw = function.config();
    for (Bar bar : hw.bars()) {
      resourceStart[bar.index()] = hw.barAddress(bar); // the host's resources, fixed at boot
    }
    this.resetWorks = probeReset(hw);
    int msix = hw.findCapability(CAP_ID_MSIX);
    if (msix != 0) { // vfio_pci_core_enable(): the table is what reads and writes skip
      int table = hw.read(msix + MSIX_TABLE, 4);
      msixBar = table & 0x7;
      msixOffset = table & ~0x7L & 0xffff_ffffL;
      msixSize = ((hw.read(msix + MSIX_FLAGS, 2) & 0x7ff) + 1) * 16L;
    } else {
      msixBar = -1;
      msixOffset = 0;
      msixSize = 0;
    }
    this.config =
        new VfioPciConfig(
            hw,
            new VfioPciConfig.Events() {
              @Override
              public void functionLevelReset() {
                resetFunction();
              }

              @Override
              public void intxMasked(boolean masked) {
                irqs().virtualIntxDisable(masked);
              }
            });
    this.irqs = new VfioPciIrqs(function.interrupts(), config, hw.findCapability(CAP_ID_EXP) != 0);
    this.closedSink = function.interrupts().route(irqs);
    this.ioeventfds = new VfioIoeventfds(this);
  }

  /** For the config-space events, which are made before {@code irqs} is. */
  private VfioPciIrqs irqs() {
    return irqs;
  }

  /**
   * The file's release (vfio_pci_core_close_device() with vfio_pci_core_disable()): interrupts are
   * disabled and go back where they went before the file was opened, and every eventfd the device
   * holds (interrupts, ERR, REQ, ioeventfds, the low-power wakeup) is put.
   */
  public void close() {
    irqs.close();
    ioeventfds.close();
    exitLowPower();
    function.interrupts().route(closedSink);
  }

  public PciFunction function() {
    return function;
  }

  public VfioPciConfig config() {
    return config;
  }

  /** vfio_pci_core.c: vfio_pci_ioctl_get_info(). */
  public DeviceInfo info() {
    int flags = VFIO_DEVICE_FLAGS_PCI | (resetWorks ? VFIO_DEVICE_FLAGS_RESET : 0);
    return new DeviceInfo(flags, VFIO_PCI_NUM_REGIONS, VFIO_PCI_NUM_IRQS);
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_region_info(), {@code index} taken as unsigned.
   *
   * @throws IommufdException EINVAL for VGA (never present) and indexes past it
   */
  public RegionInfo regionInfo(int index) {
    long offset = (long) index << OFFSET_SHIFT;
    if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
      int rw = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      return new RegionInfo(index, rw, config.size(), offset, false);
    }
    if (index >= 0 && index <= VFIO_PCI_BAR5_REGION_INDEX) {
      Bar bar = bar(index);
      if (bar == null) {
        return new RegionInfo(index, 0, 0, offset, false);
      }
      int flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
      boolean msixMappable = false;
      if (mmapSupported(bar)) {
        flags |= VFIO_REGION_INFO_FLAG_MMAP;
        msixMappable = index == msixBar;
      }
      return new RegionInfo(
          index,
          msixMappable ? flags | VFIO_REGION_INFO_FLAG_CAPS : flags,
          bar.size(),
          offset,
          msixMappable);
    }
    if (index == VFIO_PCI_ROM_REGION_INDEX) { // no model has an expansion ROM
      return new RegionInfo(index, 0, 0, offset, false);
    }
    // VFIO_PCI_VGA_REGION_INDEX: no VGA; beyond: no device-specific regions
    throw new IommufdException(
        Errno.EINVAL, "no region " + Integer.toUnsignedString(index) + " (VGA is absent)");
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_irq_info() with vfio_pci_get_irq_count(), {@code index}
   * taken as unsigned.
   *
   * @throws IommufdException EINVAL past REQ, and for ERR on a conventional PCI device
   */
  public IrqInfo irqInfo(int index) {
    if (Integer.compareUnsigned(index, VFIO_PCI_NUM_IRQS) >= 0
        || (index == VFIO_PCI_ERR_IRQ_INDEX && hw.findCapability(CAP_ID_EXP) == 0)) {
      throw new IommufdException(
          Errno.EINVAL, "no interrupt index " + Integer.toUnsignedString(index));
    }
    int flags = VFIO_IRQ_INFO_EVENTFD;
    if (index == VFIO_PCI_INTX_IRQ_INDEX) {
      flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
    } else { // MSI-X resizing needs the host's dynamic MSI-X allocation: not modelled
      flags |= VFIO_IRQ_INFO_NORESIZE;
    }
    return new IrqInfo(index, flags, irqCount(index));
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_reset(): a function-level reset, with config space saved and
   * restored around it as pci_reset_function() does.
   *
   * @throws IommufdException EINVAL if the device has no reset method (no FLR, no PM soft reset)
   */
  public void reset() {
    if (!resetWorks) {
      throw new IommufdException(Errno.EINVAL, "the device has no function reset");
    }
    resetFunction();
  }

  /**
   * {@code pread} of {@code dst.byteSize()} bytes at file offset {@code pos}: vfio_pci_core.c:
   * vfio_pci_rw().
   *
   * @return the bytes read, fewer than asked only at the end of a BAR
   * @throws IommufdException EINVAL for an absent region or a position past a BAR's end, EFAULT
   *     outside config space, EIO for a memory BAR while memory decoding is off
   */
  public int read(long pos, MemorySegment dst) {
    return access(pos, dst, false);
  }

  /** {@code pwrite} of {@code src} at file offset {@code pos}; as {@link #read}. */
  public int write(long pos, MemorySegment src) {
    return access(pos, src, true);
  }

  private int access(long pos, MemorySegment buf, boolean write) {
    resume();
    long index = pos >>> OFFSET_SHIFT;
    if (index >= VFIO_PCI_NUM_REGIONS) {
      throw new IommufdException(Errno.EINVAL, "no region " + index);
    }
    long at = pos & OFFSET_MASK;
    if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
      return write ? config.write(at, buf) : config.read(at, buf);
    }
    if (index == VFIO_PCI_VGA_REGION_INDEX) { // vfio_pci_rdwr.c: vfio_pci_vga_rw()
      throw new IommufdException(Errno.EINVAL, "no VGA region");
    }
    if (index == VFIO_PCI_ROM_REGION_INDEX) { // no ROM resource and no shadow ROM
      throw new IommufdException(Errno.EINVAL, "no expansion ROM");
    }
    return barAccess((int) index, at, buf, write);
  }

  /** vfio_pci_rdwr.c: vfio_pci_bar_rw() and vfio_pci_core_do_io_rw(). */
  private int barAccess(int index, long pos, MemorySegment buf, boolean write) {
    Bar bar = bar(index);
    if (bar == null || resourceStart[index] == 0) {
      throw new IommufdException(Errno.EINVAL, "BAR" + index + " is absent");
    }
    if (pos >= bar.size()) {
      throw new IommufdException(
          Errno.EINVAL, "BAR" + index + " offset 0x" + Long.toHexString(pos) + " past its end");
    }
    long count = Math.min(buf.byteSize(), bar.size() - pos);
    boolean testMemory = bar.type() != Bar.Type.IO;
    long xStart = index == msixBar ? msixOffset : 0;
    long xEnd = index == msixBar ? msixOffset + msixSize : 0;
    long done = 0;
    while (done < count) {
      long off = pos + done;
      long left = count - done;
      long fillable = off < xStart ? Math.min(left, xStart - off) : off >= xEnd ? left : 0;
      if (fillable == 0) { // inside the MSI-X table: reads fill with ones, writes are dropped
        long filled = Math.min(left, xEnd - off);
        if (!write) {
          buf.asSlice(done, filled).fill((byte) 0xff);
        }
        done += filled;
        continue;
      }
      int width = widestAligned(off, fillable);
      if (testMemory && !config.memoryEnabled()) { // vfio_pci_iordwr##size()
        throw new IommufdException(Errno.EIO, "BAR" + index + " with memory decoding off");
      }
      if (write) {
        function.barWrite(index, off, width, getLittleEndian(buf, done, width));
      } else {
        putLittleEndian(buf, done, width, function.barRead(index, off, width));
      }
      done += width;
    }
    return (int) done;
  }

  /**
   * The widest of 8, 4, 2, 1 bytes that {@code off} is aligned to and that fits in {@code left}.
   */
  private static int widestAligned(long off, long left) {
    for (int width = 8; width > 1; width /= 2) {
      if (left >= width && off % width == 0) {
        return width;
      }
    }
    return 1;
  }

  /**
   * {@code VFIO_DEVICE_SET_IRQS}: vfio_main.c: vfio_set_irqs_validate_and_prepare() with {@code
   * argsz} the header and {@code data}, then vfio_pci_intrs.c: vfio_pci_set_irqs_ioctl(). {@code
   * data} holds {@code count} bools (one byte each) or eventfd numbers (four bytes, little-endian,
   * -1 for none) as {@code flags} says; eventfds come from {@code files} and are held until
   * disabled, replaced or the file is closed.
   *
   * @throws IommufdException with the kernel's errno, in its order
   */
  public void setIrqs(int flags, int index, int start, int count, byte[] data, FileTable files) {
    long argsz = VfioIrqSet.DATA + data.length;
    int size = setIrqsDataSize(argsz, flags, index, start, count);
    irqs.set(flags, index, start, count, size == 0 ? null : data, files);
  }

  /**
   * vfio_set_irqs_validate_and_prepare(): the checks on the header alone, in the kernel's order.
   *
   * @return the bytes of data that follow the header
   */
  int setIrqsDataSize(long argsz, int flags, int index, int start, int count) {
    long minsz = VfioIrqSet.DATA;
    long first = Integer.toUnsignedLong(start);
    long n = Integer.toUnsignedLong(count);
    int known = VfioIrqSet.VFIO_IRQ_SET_DATA_TYPE_MASK | VfioIrqSet.VFIO_IRQ_SET_ACTION_TYPE_MASK;
    if (argsz < minsz
        || Integer.compareUnsigned(index, VFIO_PCI_NUM_IRQS) >= 0
        || n >= 0xffff_ffffL - first
        || (flags & ~known) != 0) {
      throw ErrnoException.of(Errno.EINVAL, "SET_IRQS header");
    }
    int max = irqCount(index);
    if (first >= max || first + n > max) {
      throw ErrnoException.of(Errno.EINVAL, "vectors past the index's " + max);
    }
    int each =
        switch (flags & VfioIrqSet.VFIO_IRQ_SET_DATA_TYPE_MASK) {
          case VfioIrqSet.VFIO_IRQ_SET_DATA_NONE -> 0;
          case VfioIrqSet.VFIO_IRQ_SET_DATA_BOOL -> 1;
          case VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD -> 4;
          default -> throw ErrnoException.of(Errno.EINVAL, "not one data type");
        };
    if (argsz - minsz < n * each) {
      throw ErrnoException.of(Errno.EINVAL, "argsz leaves no room for the data");
    }
    return (int) (n * each);
  }

  /**
   * Whether {@code mmap(2)} of {@code length} bytes at file {@code offset} may proceed: 0 or {@code
   * -errno} as the syscall's own checks and vfio_pci_core.c: vfio_pci_core_mmap() answer. Only
   * shared mappings of mappable BARs within the BAR's pages; 6.12 lets the MSI-X table be mapped
   * too. An allowed mapping's accesses are {@link #read}/{@link #write} at the same file offset:
   * one access of the load's or store's width when it is naturally aligned, as the CPU makes it.
   */
  public int mmap(long offset, long length, int prot, int flags) {
    final long page = 4096;
    if (length == 0 || (offset & (page - 1)) != 0) { // do_mmap() and the syscall, before vfio
      return -Errno.EINVAL.number();
    }
    long index = offset >>> OFFSET_SHIFT;
    int type = flags & MAP_TYPE;
    if (index >= VFIO_PCI_NUM_REGIONS
        || (type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
        || index >= VFIO_PCI_ROM_REGION_INDEX) {
      return -Errno.EINVAL.number();
    }
    Bar bar = bar((int) index);
    if (bar == null || !mmapSupported(bar)) {
      return -Errno.EINVAL.number();
    }
    long physLen = (bar.size() + page - 1) & -page;
    long reqLen = (length + page - 1) & -page;
    long reqStart = offset & OFFSET_MASK;
    if (reqLen < 0 || reqStart + reqLen > physLen || reqStart + reqLen < 0) {
      return -Errno.EINVAL.number();
    }
    return 0;
  }

  /**
   * Of a mapping {@link #mmap} allowed, the pages that are the model's plain memory ({@link
   * PciFunction#sharedPages}), to be mapped shared instead of trapped. Unlike a trapped access, a
   * store there lands even with memory decoding off or in low power, and does not wake the device.
   */
  public List<SharedRange> sharedRanges(long offset, long length) {
    long index = offset >>> OFFSET_SHIFT;
    if (index > VFIO_PCI_BAR5_REGION_INDEX || bar((int) index) == null) {
      return List.of();
    }
    PciFunction.SharedPages shared = function.sharedPages((int) index);
    if (shared == null) {
      return List.of();
    }
    long start = offset & OFFSET_MASK;
    long end = start + length;
    List<SharedRange> out = new ArrayList<>();
    for (Bar.Range r : shared.pages()) {
      long from = Math.max(start, r.offset());
      long to = Math.min(end, r.offset() + r.length());
      if (from < to) {
        out.add(new SharedRange(offset - start + from, to - from, shared.fd(), from));
      }
    }
    return out;
  }

  /**
   * {@code VFIO_DEVICE_IOEVENTFD}: vfio_pci_rdwr.c: vfio_pci_ioeventfd(), after the ioctl's own
   * checks on flags and fd.
   *
   * @throws IommufdException as the kernel answers
   */
  public void ioeventfd(long offset, long data, int count, int fd, FileTable files) {
    ioeventfds.set(offset, data, count, fd, files);
  }

  /** The BAR's size if it is present, else 0 ({@code pci_resource_len()}). */
  long barLength(int index) {
    Bar bar = bar(index);
    return bar == null || resourceStart[index] == 0 ? 0 : bar.size();
  }

  /** Whether {@code count} bytes at {@code pos} of BAR {@code index} touch the MSI-X table. */
  boolean overlapsMsixTable(int index, long pos, long count) {
    return index == msixBar && !(pos + count <= msixOffset || pos >= msixOffset + msixSize);
  }

  /**
   * {@code VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY} (and {@code _WITH_WAKEUP}): vfio_pci_core.c:
   * vfio_pci_runtime_pm_entry(). The device stays usable: the next access wakes it, signalling
   * {@code wakeup} (then held by the device) and leaving low power if there is one.
   *
   * @throws IommufdException EINVAL if low power is engaged already
   */
  void enterLowPower(EventFd wakeup) {
    if (lowPower) {
      throw ErrnoException.of(Errno.EINVAL, "low power is engaged already");
    }
    lowPower = true;
    this.wakeup = wakeup;
  }

  /** {@code VFIO_DEVICE_FEATURE_LOW_POWER_EXIT}: vfio_pci_runtime_pm_exit(). */
  void exitLowPower() {
    lowPower = false;
    if (wakeup != null) {
      wakeup.close();
      wakeup = null;
    }
  }

  /**
   * An access resumed the device (vfio_pci_core_runtime_resume()): a wakeup eventfd is signalled
   * and low power is left; without one it stays engaged until the program exits it.
   */
  void resume() {
    if (wakeup != null) {
      wakeup.signal();
      exitLowPower();
    }
  }

  /**
   * An ioeventfd fired (vfio_pci_ioeventfd_handler()): its write straight to the device, dropped
   * while memory decoding is off for a memory BAR.
   */
  void ioeventfdWrite(int index, long pos, int count, long data) {
    Bar bar = bar(index);
    if (bar.type() != Bar.Type.IO && !config.memoryEnabled()) {
      return;
    }
    function.barWrite(index, pos, count, data);
  }

  /** How many eventfds the device holds, for tests of their release. */
  int heldEventFds() {
    return irqs.heldEventFds() + ioeventfds.held() + (wakeup == null ? 0 : 1);
  }

  VfioPciIrqs irqState() {
    return irqs;
  }

  int irqCount(int index) {
    return switch (index) {
      case VFIO_PCI_INTX_IRQ_INDEX -> { // the pin as vfio's virtual config space shows it
        byte[] pin = new byte[1];
        config.read(INTERRUPT_PIN, MemorySegment.ofArray(pin));
        yield pin[0] != 0 ? 1 : 0;
      }
      case VFIO_PCI_MSI_IRQ_INDEX -> {
        int msi = hw.findCapability(CAP_ID_MSI);
        yield msi == 0 ? 0 : 1 << ((hw.read(msi + MSI_FLAGS, 2) & 0x000e) >> 1);
      }
      case VFIO_PCI_MSIX_IRQ_INDEX -> {
        int msix = hw.findCapability(CAP_ID_MSIX);
        yield msix == 0 ? 0 : (hw.read(msix + MSIX_FLAGS, 2) & 0x7ff) + 1;
      }
      case VFIO_PCI_ERR_IRQ_INDEX -> hw.findCapability(CAP_ID_EXP) != 0 ? 1 : 0;
      default -> 1; // REQ
    };
  }

  /**
   * pci_reset_function(): the header is saved, the function reset, and the header written back, so
   * a program keeps its BAR addresses and command register.
   */
  private void resetFunction() {
    int[] header = new int[HEADER_END / 4];
    for (int i = 1; i < header.length; i++) {
      header[i] = hw.read(4 * i, 4);
    }
    function.reset();
    for (int i = header.length - 1; i >= 1; i--) { // command last, as pci_restore_config_space()
      hw.write(4 * i, 4, header[i]);
    }
    if (irqs != null) {
      irqs.restoreAfterReset();
    }
  }

  /**
   * pci_probe_reset_function() for an emulated function: FLR if PCI Express advertises it, else a
   * PM D3hot-D0 cycle unless the device says it keeps state (NoSoftRst). Emulated devices sit on
   * the root bus, so there is no slot or bus reset.
   */
  private static boolean probeReset(ConfigSpace hw) {
    int exp = hw.findCapability(CAP_ID_EXP);
    if (exp != 0 && (hw.read(exp + EXP_DEVCAP, 4) & EXP_DEVCAP_FLR) != 0) {
      return true;
    }
    int pm = hw.findCapability(CAP_ID_PM);
    return pm != 0 && (hw.read(pm + PM_CTRL, 2) & PM_CTRL_NO_SOFT_RESET) == 0;
  }

  /**
   * vfio_pci_core.c: vfio_pci_probe_mmaps(): memory BARs can be mapped; one smaller than a page
   * only if it starts on a page (vfio then reserves the rest of the page).
   */
  private boolean mmapSupported(Bar bar) {
    return bar.type() != Bar.Type.IO
        && (bar.size() >= 4096 || (resourceStart[bar.index()] & 4095) == 0);
  }

  private Bar bar(int index) {
    for (Bar b : hw.bars()) {
      if (b.index() == index) {
        return b;
      }
    }
    return null;
  }

  private static long getLittleEndian(MemorySegment buf, long at, int width) {
    long v = 0;
    for (int i = 0; i < width; i++) {
      v |= (buf.get(ValueLayout.JAVA_BYTE, at + i) & 0xffL) << (8 * i);
    }
    return v;
  }

  private static void putLittleEndian(MemorySegment buf, long at, int width, long value) {
    for (int i = 0; i < width; i++) {
      buf.set(ValueLayout.JAVA_BYTE, at + i, (byte) (value >>> (8 * i)));
    }
  }
}
