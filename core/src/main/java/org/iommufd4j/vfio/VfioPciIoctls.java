package org.iommufd4j.vfio;

import static org.iommufd4j.uapi.VfioDeviceFeature.VFIO_DEVICE_FEATURE_GET;
import static org.iommufd4j.uapi.VfioDeviceFeature.VFIO_DEVICE_FEATURE_MASK;
import static org.iommufd4j.uapi.VfioDeviceFeature.VFIO_DEVICE_FEATURE_PROBE;
import static org.iommufd4j.uapi.VfioDeviceFeature.VFIO_DEVICE_FEATURE_SET;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.memory.UserMemory;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioDeviceFeature;
import org.iommufd4j.uapi.VfioDeviceInfo;
import org.iommufd4j.uapi.VfioInfoCapHeader;
import org.iommufd4j.uapi.VfioIrqInfo;
import org.iommufd4j.uapi.VfioIrqSet;
import org.iommufd4j.uapi.VfioPciHotReset;
import org.iommufd4j.uapi.VfioPciHotResetInfo;
import org.iommufd4j.uapi.VfioRegionInfo;

/**
 * The byte-level ioctls of a vfio-pci device file over a {@link VfioPciDevice}: vfio_pci_core.c:
 * vfio_pci_core_ioctl(), and vfio_main.c: vfio_ioctl_device_feature() with the features vfio-pci
 * has. {@code arg} is an address in the caller's memory: what copy_from_user() or copy_to_user()
 * could not reach is EFAULT, at the point the kernel copies it; variable-length data after a header
 * is read as far as the header's argsz says. The ioctls vfio_main.c answers before the driver
 * (BIND_IOMMUFD, ATTACH/DETACH_IOMMUFD_PT) belong to the file layer.
 */
public final class VfioPciIoctls {
  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
  private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

  /**
   * {@code VFIO_DEVICE_IOEVENTFD} and its struct ({@code <linux/vfio.h>}: u32 argsz, u32 flags, u64
   * offset, u64 data, s32 fd, u32 reserved; flags the access size, one of 1, 2, 4, 8). Kept here
   * until the uapi classes, which the bridge checks against the C headers, gain them.
   */
  static final long VFIO_DEVICE_IOEVENTFD = (Vfio.VFIO_TYPE << 8) | (Vfio.VFIO_BASE + 16);

  private static final long IOEVENTFD_FLAGS = 4;
  private static final long IOEVENTFD_OFFSET = 8;
  private static final long IOEVENTFD_DATA = 16;
  private static final long IOEVENTFD_FD = 24;
  private static final int IOEVENTFD_SIZE_MASK = 0xf;

  /** A file table without descriptors: every eventfd number is EBADF. */
  private static final FileTable NO_FILES =
      new FileTable() {
        @Override
        public int reserve() {
          throw ErrnoException.of(Errno.ENOMEM, "no descriptors");
        }

        @Override
        public void unreserve(int fd) {}

        @Override
        public void install(int fd, EmulatedFile file) {}

        @Override
        public EmulatedFile get(int fd) {
          return null;
        }
      };

  private final VfioPciDevice device;
  private final boolean cdev;

  /** The ioctls of {@code device} opened through its group ({@code VFIO_GROUP_GET_DEVICE_FD}). */
  public VfioPciIoctls(VfioPciDevice device) {
    this(device, false);
  }

  /**
   * The ioctls of {@code device}; {@code cdev} says it was opened through {@code
   * /dev/vfio/devices/vfioN}, which changes what PCI_HOT_RESET accepts.
   */
  public VfioPciIoctls(VfioPciDevice device, boolean cdev) {
    this.device = device;
    this.cdev = cdev;
  }

  /**
   * Runs {@code request} with {@code arg} an address in {@code caller}'s memory; eventfd numbers in
   * the argument are the caller's descriptors in {@code files}.
   *
   * @return 0, or {@code -errno} as Linux 6.12 answers (ENOTTY for a request vfio-pci lacks)
   */
  public long ioctl(Caller caller, FileTable files, long request, long arg) {
    try {
      return run(new Arg(caller.memory(), arg), files, request);
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  /**
   * Runs {@code request} with its argument in {@code arg} (null for none) and no descriptors: a
   * byte past the segment is unreachable memory.
   *
   * @return 0
   * @throws IommufdException with the kernel's errno
   */
  public int ioctl(long request, MemorySegment arg) {
    MemorySegment bytes = arg == null ? MemorySegment.NULL : arg;
    return run(new Arg(new SegmentMemory(bytes), 0), NO_FILES, request);
  }

  private int run(Arg arg, FileTable files, long command) {
    long request = command & 0xffff_ffffL; // the kernel's ioctl command is an unsigned int
    device.resume(); // vfio_device_fops_unl_ioctl(): pm_runtime_resume_and_get()
    if (request == Vfio.VFIO_DEVICE_GET_INFO) {
      getInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_GET_REGION_INFO) {
      getRegionInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_GET_IRQ_INFO) {
      getIrqInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_SET_IRQS) {
      setIrqs(arg, files);
    } else if (request == Vfio.VFIO_DEVICE_RESET) {
      device.reset();
    } else if (request == Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO) {
      getHotResetInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_PCI_HOT_RESET) {
      hotReset(arg);
    } else if (request == VFIO_DEVICE_IOEVENTFD) {
      ioeventfd(arg, files);
    } else if (request == Vfio.VFIO_DEVICE_FEATURE) {
      feature(arg, files);
    } else {
      throw ErrnoException.of(Errno.ENOTTY, "vfio-pci has no ioctl 0x" + Long.toHexString(request));
    }
    return 0;
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_info(): the struct is copied out up to {@code argsz}, and
   * with no capabilities argsz stays as given.
   */
  private void getInfo(Arg arg) {
    long minsz = VfioDeviceInfo.NUM_IRQS + 4;
    MemorySegment in = arg.read(0, minsz);
    int argsz = argsz(in, minsz);
    VfioPciDevice.DeviceInfo info = device.info();
    MemorySegment out = MemorySegment.ofArray(new byte[VfioDeviceInfo.SIZE]);
    out.set(U32, VfioDeviceInfo.ARGSZ, argsz);
    out.set(U32, VfioDeviceInfo.FLAGS, info.flags());
    out.set(U32, VfioDeviceInfo.NUM_REGIONS, info.numRegions());
    out.set(U32, VfioDeviceInfo.NUM_IRQS, info.numIrqs());
    long bytes = Math.min(Integer.toUnsignedLong(argsz), VfioDeviceInfo.SIZE);
    arg.write(0, out.asSlice(0, bytes));
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_region_info(). A capability chain that does not fit in
   * {@code argsz} is not written: argsz says what would fit it and cap_offset is 0.
   */
  private void getRegionInfo(Arg arg) {
    long minsz = VfioRegionInfo.OFFSET + 8;
    MemorySegment info = arg.read(0, minsz);
    int argsz = argsz(info, minsz);
    VfioPciDevice.RegionInfo region = device.regionInfo(info.get(U32, VfioRegionInfo.INDEX));
    int capOffset = 0;
    if (region.msixMappable()) {
      int needed = VfioRegionInfo.SIZE + VfioInfoCapHeader.SIZE;
      if (Integer.compareUnsigned(argsz, needed) < 0) {
        argsz = needed;
      } else {
        capOffset = VfioRegionInfo.SIZE;
        MemorySegment cap = MemorySegment.ofArray(new byte[VfioInfoCapHeader.SIZE]);
        cap.set(
            ValueLayout.JAVA_SHORT_UNALIGNED,
            VfioInfoCapHeader.ID,
            (short) VfioRegionInfo.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
        cap.set(ValueLayout.JAVA_SHORT_UNALIGNED, VfioInfoCapHeader.VERSION, (short) 1);
        arg.write(capOffset, cap);
      }
    }
    info.set(U32, VfioRegionInfo.ARGSZ, argsz);
    info.set(U32, VfioRegionInfo.FLAGS, region.flags());
    info.set(U32, VfioRegionInfo.CAP_OFFSET, capOffset);
    info.set(U64, VfioRegionInfo.SIZE_FIELD, region.size());
    info.set(U64, VfioRegionInfo.OFFSET, region.offset());
    arg.write(0, info);
  }

  /** vfio_pci_core.c: vfio_pci_ioctl_get_irq_info(). */
  private void getIrqInfo(Arg arg) {
    MemorySegment info = arg.read(0, VfioIrqInfo.COUNT + 4);
    argsz(info, info.byteSize());
    VfioPciDevice.IrqInfo irq = device.irqInfo(info.get(U32, VfioIrqInfo.INDEX));
    info.set(U32, VfioIrqInfo.FLAGS, irq.flags());
    info.set(U32, VfioIrqInfo.COUNT, irq.count());
    arg.write(0, info);
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_set_irqs(): the header's checks, then the data copied in (as
   * far as the header says), then the action.
   */
  private void setIrqs(Arg arg, FileTable files) {
    MemorySegment hdr = arg.read(0, VfioIrqSet.DATA);
    int flags = hdr.get(U32, VfioIrqSet.FLAGS);
    int index = hdr.get(U32, VfioIrqSet.INDEX);
    int start = hdr.get(U32, VfioIrqSet.START);
    int count = hdr.get(U32, VfioIrqSet.COUNT);
    long argsz = Integer.toUnsignedLong(hdr.get(U32, VfioIrqSet.ARGSZ));
    int size = device.setIrqsDataSize(argsz, flags, index, start, count);
    byte[] data = arg.read(VfioIrqSet.DATA, size).toArray(ValueLayout.JAVA_BYTE);
    device.setIrqs(flags, index, start, count, data, files);
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_pci_hot_reset_info(): emulated devices sit alone on the
   * root bus, which has neither a slot nor a bus reset.
   */
  private static void getHotResetInfo(Arg arg) {
    long minsz = VfioPciHotResetInfo.COUNT + 4;
    argsz(arg.read(0, minsz), minsz);
    throw ErrnoException.of(Errno.ENODEV, "no slot or bus reset on the root bus");
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_pci_hot_reset(): a group-opened device names groups (count >
   * 0), a cdev-opened one none; then the root bus has no reset to offer.
   */
  private void hotReset(Arg arg) {
    MemorySegment hdr = arg.read(0, VfioPciHotReset.GROUP_FDS);
    argsz(hdr, VfioPciHotReset.GROUP_FDS);
    if (hdr.get(U32, VfioPciHotReset.FLAGS) != 0) {
      throw ErrnoException.of(Errno.EINVAL, "flags");
    }
    if ((hdr.get(U32, VfioPciHotReset.COUNT) != 0) == cdev) {
      throw ErrnoException.of(
          Errno.EINVAL, cdev ? "a cdev-opened device names no groups" : "no groups named");
    }
    throw ErrnoException.of(Errno.ENODEV, "no slot or bus reset on the root bus");
  }

  /** vfio_pci_core.c: vfio_pci_ioctl_ioeventfd(). */
  private void ioeventfd(Arg arg, FileTable files) {
    MemorySegment in = arg.read(0, IOEVENTFD_FD + 4);
    argsz(in, in.byteSize());
    int flags = in.get(U32, IOEVENTFD_FLAGS);
    if ((flags & ~IOEVENTFD_SIZE_MASK) != 0) {
      throw ErrnoException.of(Errno.EINVAL, "unknown flags");
    }
    int count = flags & IOEVENTFD_SIZE_MASK;
    int fd = in.get(U32, IOEVENTFD_FD);
    if (Integer.bitCount(count) != 1 || fd < -1) {
      throw ErrnoException.of(Errno.EINVAL, "size bits 0x" + Integer.toHexString(count));
    }
    device.ioeventfd(in.get(U64, IOEVENTFD_OFFSET), in.get(U64, IOEVENTFD_DATA), count, fd, files);
  }

  /**
   * vfio_main.c: vfio_ioctl_device_feature(), then vfio_pci_core.c: vfio_pci_core_ioctl_feature().
   * The device has no migration and no DMA logging, so those features are ENOTTY before any check
   * of their own; of vfio-pci's own, the low-power ones work and the VF token does not (no SR-IOV).
   */
  private void feature(Arg arg, FileTable files) {
    long minsz = VfioDeviceFeature.DATA;
    MemorySegment hdr = arg.read(0, minsz);
    long argsz = Integer.toUnsignedLong(argsz(hdr, minsz)) - minsz;
    int flags = hdr.get(U32, VfioDeviceFeature.FLAGS);
    int ops = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
    if ((flags & ~(VFIO_DEVICE_FEATURE_MASK | ops | VFIO_DEVICE_FEATURE_PROBE)) != 0) {
      throw ErrnoException.of(Errno.EINVAL, "unknown feature flags");
    }
    if ((flags & VFIO_DEVICE_FEATURE_PROBE) == 0 && (flags & ops) == ops) {
      throw ErrnoException.of(Errno.EINVAL, "GET and SET without PROBE");
    }
    switch (flags & VFIO_DEVICE_FEATURE_MASK) {
      case VfioDeviceFeature.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY -> {
        if (checkFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0)) {
          device.enterLowPower(null);
        }
      }
      case VfioDeviceFeature.VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP -> {
        // struct vfio_device_low_power_entry_with_wakeup: s32 wakeup_eventfd, u32 reserved
        if (checkFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 8)) {
          int fd = arg.read(minsz, 8).get(U32, 0);
          if (fd < 0) {
            throw ErrnoException.of(Errno.EINVAL, "wakeup eventfd " + fd);
          }
          EventFd wakeup = files.eventfd(fd);
          try {
            device.enterLowPower(wakeup);
          } catch (RuntimeException e) {
            wakeup.close();
            throw e;
          }
        }
      }
      case VfioDeviceFeature.VFIO_DEVICE_FEATURE_LOW_POWER_EXIT -> {
        if (checkFeature(flags, argsz, VFIO_DEVICE_FEATURE_SET, 0)) {
          device.exitLowPower();
        }
      }
      default -> // migration, its state and data size, DMA logging, the VF token, beyond
          throw ErrnoException.of(Errno.ENOTTY, "no feature " + (flags & VFIO_DEVICE_FEATURE_MASK));
    }
  }

  /**
   * include/linux/vfio.h: vfio_check_feature(): whether to go on (PROBE stops with 0).
   *
   * @throws ErrnoException EINVAL for an unsupported operation, none, or data shorter than {@code
   *     minsz}
   */
  private static boolean checkFeature(int flags, long argsz, int supported, long minsz) {
    int ops = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET;
    if ((flags & ops & ~supported) != 0) {
      throw ErrnoException.of(Errno.EINVAL, "operation not supported by the feature");
    }
    if ((flags & VFIO_DEVICE_FEATURE_PROBE) != 0) {
      return false;
    }
    if ((flags & ops) == 0 || argsz < minsz) {
      throw ErrnoException.of(Errno.EINVAL, "no operation, or data too short");
    }
    return true;
  }

  /** {@code argsz < minsz} is EINVAL; {@code header} holds at least minsz bytes. */
  private static int argsz(MemorySegment header, long minsz) {
    int argsz = header.get(U32, 0);
    if (Integer.toUnsignedLong(argsz) < minsz) {
      throw ErrnoException.of(
          Errno.EINVAL, "argsz " + Integer.toUnsignedString(argsz) + " < " + minsz);
    }
    return argsz;
  }

  /** An ioctl argument at {@code address} of the caller's memory. */
  private record Arg(UserMemory memory, long address) {
    /** copy_from_user() of {@code length} bytes at {@code offset}. */
    MemorySegment read(long offset, long length) {
      MemorySegment bytes = MemorySegment.ofArray(new byte[(int) length]);
      if (!memory.read(address + offset, bytes)) {
        throw ErrnoException.of(Errno.EFAULT, length + " bytes of argument unreadable");
      }
      return bytes;
    }

    /** copy_to_user() of {@code bytes} at {@code offset}. */
    void write(long offset, MemorySegment bytes) {
      if (!memory.write(address + offset, bytes)) {
        throw ErrnoException.of(Errno.EFAULT, bytes.byteSize() + " bytes of argument unwritable");
      }
    }
  }

  /** A segment as caller memory at addresses 0 .. size: what lies beyond is unmapped. */
  private record SegmentMemory(MemorySegment segment) implements UserMemory {
    @Override
    public boolean read(long address, MemorySegment dst) {
      if (!fits(address, dst.byteSize())) {
        return false;
      }
      dst.copyFrom(segment.asSlice(address, dst.byteSize()));
      return true;
    }

    @Override
    public boolean write(long address, MemorySegment src) {
      if (!fits(address, src.byteSize())) {
        return false;
      }
      segment.asSlice(address, src.byteSize()).copyFrom(src);
      return true;
    }

    @Override
    public boolean isPinnable(long address, long length, boolean write) {
      return fits(address, length);
    }

    private boolean fits(long address, long length) {
      return address >= 0 && length >= 0 && address + length <= segment.byteSize();
    }
  }
}
