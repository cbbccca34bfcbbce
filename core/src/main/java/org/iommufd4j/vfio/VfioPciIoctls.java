package org.iommufd4j.vfio;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioDeviceInfo;
import org.iommufd4j.uapi.VfioInfoCapHeader;
import org.iommufd4j.uapi.VfioIrqInfo;
import org.iommufd4j.uapi.VfioPciHotResetInfo;
import org.iommufd4j.uapi.VfioRegionInfo;

/**
 * The byte-level ioctls of a vfio-pci device file over a {@link VfioPciDevice}: vfio_pci_core.c:
 * vfio_pci_core_ioctl(). {@code arg} stands for the caller's memory: an argument shorter than what
 * the kernel would copy in or out is EFAULT, as copy_from_user() and copy_to_user() fail. The
 * ioctls vfio_main.c answers itself (BIND_IOMMUFD, ATTACH/DETACH_IOMMUFD_PT, FEATURE), SET_IRQS,
 * PCI_HOT_RESET and IOEVENTFD are not decoded here.
 */
public final class VfioPciIoctls {
  private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
  private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

  private final VfioPciDevice device;

  public VfioPciIoctls(VfioPciDevice device) {
    this.device = device;
  }

  /**
   * Runs {@code request} with {@code arg}.
   *
   * @return 0
   * @throws IommufdException with the kernel's errno: ENOTTY for a request vfio-pci does not know
   */
  public int ioctl(long request, MemorySegment arg) {
    if (request == Vfio.VFIO_DEVICE_GET_INFO) {
      getInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_GET_REGION_INFO) {
      getRegionInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_GET_IRQ_INFO) {
      getIrqInfo(arg);
    } else if (request == Vfio.VFIO_DEVICE_RESET) {
      device.reset();
    } else if (request == Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO) {
      getHotResetInfo(arg);
    } else {
      throw new IommufdException(
          Errno.ENOTTY, "vfio-pci ioctl 0x" + Long.toHexString(request) + " is not decoded");
    }
    return 0;
  }

  // ---- MINIMAL ADAPTER (branch vfiocore): the lead replaces this method with branch vfioirq's
  // caller-memory entry of the same signature at merge. ----
  /**
   * Runs {@code request} with {@code arg} an address in {@code caller}'s memory: the struct is
   * copied in by its {@code argsz} (at least {@link #ADAPTER_MIN_COPY} bytes when readable), run
   * through {@link #ioctl(long, MemorySegment)}, and copied back on success.
   *
   * @return 0, or {@code -errno}
   */
  public long ioctl(Caller caller, FileTable files, long request, long arg) {
    try {
      if (request != Vfio.VFIO_DEVICE_GET_INFO
          && request != Vfio.VFIO_DEVICE_GET_REGION_INFO
          && request != Vfio.VFIO_DEVICE_GET_IRQ_INFO
          && request != Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO) {
        return ioctl(request, MemorySegment.NULL); // RESET, or ENOTTY without touching arg
      }
      MemorySegment head = MemorySegment.ofArray(new byte[4]);
      if (!caller.memory().read(arg, head)) {
        return -Errno.EFAULT.number();
      }
      long argsz = Integer.toUnsignedLong(head.get(U32, 0));
      long size = Math.min(Math.max(argsz, ADAPTER_MIN_COPY), ADAPTER_MAX_COPY);
      MemorySegment struct = MemorySegment.ofArray(new byte[(int) size]);
      if (!caller.memory().read(arg, struct)) {
        struct = MemorySegment.ofArray(new byte[(int) Math.min(argsz, ADAPTER_MAX_COPY)]);
        if (!caller.memory().read(arg, struct)) {
          return -Errno.EFAULT.number();
        }
      }
      ioctl(request, struct);
      return caller.memory().write(arg, struct) ? 0 : -Errno.EFAULT.number();
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  private static final long ADAPTER_MIN_COPY = 32; // the largest fixed part decoded here
  private static final long ADAPTER_MAX_COPY = 1 << 16;

  // ---- end of the minimal adapter ----

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_info(): the struct is copied out up to {@code argsz}, and
   * with no capabilities argsz stays as given.
   */
  private void getInfo(MemorySegment arg) {
    long minsz = VfioDeviceInfo.NUM_IRQS + 4;
    int argsz = argsz(arg, minsz);
    VfioPciDevice.DeviceInfo info = device.info();
    MemorySegment out = MemorySegment.ofArray(new byte[VfioDeviceInfo.SIZE]);
    out.set(U32, VfioDeviceInfo.ARGSZ, argsz);
    out.set(U32, VfioDeviceInfo.FLAGS, info.flags());
    out.set(U32, VfioDeviceInfo.NUM_REGIONS, info.numRegions());
    out.set(U32, VfioDeviceInfo.NUM_IRQS, info.numIrqs());
    long bytes = Math.min(Integer.toUnsignedLong(argsz), VfioDeviceInfo.SIZE);
    requireWritable(arg, bytes);
    arg.copyFrom(out.asSlice(0, bytes));
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_region_info(). A capability chain that does not fit in
   * {@code argsz} is not written: argsz says what would fit it and cap_offset is 0.
   */
  private void getRegionInfo(MemorySegment arg) {
    long minsz = VfioRegionInfo.OFFSET + 8;
    int argsz = argsz(arg, minsz);
    VfioPciDevice.RegionInfo info = device.regionInfo(arg.get(U32, VfioRegionInfo.INDEX));
    int capOffset = 0;
    if (info.msixMappable()) {
      int needed = VfioRegionInfo.SIZE + VfioInfoCapHeader.SIZE;
      if (Integer.compareUnsigned(argsz, needed) < 0) {
        argsz = needed;
      } else {
        capOffset = VfioRegionInfo.SIZE;
        requireWritable(arg, needed);
        arg.set(
            ValueLayout.JAVA_SHORT_UNALIGNED,
            capOffset + VfioInfoCapHeader.ID,
            (short) VfioRegionInfo.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
        arg.set(ValueLayout.JAVA_SHORT_UNALIGNED, capOffset + VfioInfoCapHeader.VERSION, (short) 1);
        arg.set(U32, capOffset + VfioInfoCapHeader.NEXT, 0);
      }
    }
    requireWritable(arg, minsz);
    arg.set(U32, VfioRegionInfo.ARGSZ, argsz);
    arg.set(U32, VfioRegionInfo.FLAGS, info.flags());
    arg.set(U32, VfioRegionInfo.CAP_OFFSET, capOffset);
    arg.set(U64, VfioRegionInfo.SIZE_FIELD, info.size());
    arg.set(U64, VfioRegionInfo.OFFSET, info.offset());
  }

  /** vfio_pci_core.c: vfio_pci_ioctl_get_irq_info(). */
  private void getIrqInfo(MemorySegment arg) {
    argsz(arg, VfioIrqInfo.COUNT + 4); // then the index
    VfioPciDevice.IrqInfo info = device.irqInfo(arg.get(U32, VfioIrqInfo.INDEX));
    arg.set(U32, VfioIrqInfo.FLAGS, info.flags());
    arg.set(U32, VfioIrqInfo.COUNT, info.count());
  }

  /**
   * vfio_pci_core.c: vfio_pci_ioctl_get_pci_hot_reset_info(): emulated devices sit alone on the
   * root bus, which has neither a slot nor a bus reset.
   */
  private static void getHotResetInfo(MemorySegment arg) {
    argsz(arg, VfioPciHotResetInfo.COUNT + 4);
    throw new IommufdException(Errno.ENODEV, "no slot or bus reset on the root bus");
  }

  /** copy_from_user() of {@code minsz} bytes, then {@code argsz < minsz} is EINVAL. */
  private static int argsz(MemorySegment arg, long minsz) {
    requireReadable(arg, minsz);
    int argsz = arg.get(U32, 0);
    if (Integer.toUnsignedLong(argsz) < minsz) {
      throw new IommufdException(
          Errno.EINVAL, "argsz " + Integer.toUnsignedString(argsz) + " < " + minsz);
    }
    return argsz;
  }

  private static void requireReadable(MemorySegment arg, long bytes) {
    if (arg.byteSize() < bytes) {
      throw new IommufdException(Errno.EFAULT, bytes + " bytes of argument unreadable");
    }
  }

  private static void requireWritable(MemorySegment arg, long bytes) {
    if (arg.byteSize() < bytes) {
      throw new IommufdException(Errno.EFAULT, bytes + " bytes of argument unwritable");
    }
  }
}
