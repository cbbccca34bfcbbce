package org.iommufd4j.vfio;

import static org.iommufd4j.vfio.UserArg.U32;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.engine.SharedRange;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioDeviceAttachIommufdPt;
import org.iommufd4j.uapi.VfioDeviceBindIommufd;
import org.iommufd4j.uapi.VfioDeviceDetachIommufdPt;

/**
 * A VFIO device file (vfio_main.c: vfio_device_fops): an open cdev {@code /dev/vfio/devices/vfioN},
 * which has access once {@code VFIO_DEVICE_BIND_IOMMUFD} bound it, or a descriptor from {@code
 * VFIO_GROUP_GET_DEVICE_FD}, which has it from the start. Without access every call but the bind is
 * EINVAL (vfio_main.c: vfio_device_fops_unl_ioctl(), _read(), _write(), _mmap()); with it, what
 * vfio-pci answers.
 */
final class DeviceFile implements EmulatedFile {
  /** {@code pread}/{@code pwrite} move at most this much per call, as the kernel may. */
  private static final long MAX_TRANSFER = 1L << 26;

  private final VfioFunction function;

  /** The group file this came from, or null for a cdev (vfio_device_file: df->group). */
  private final GroupFile groupFile;

  /** df->access_granted; set under the function's monitor. */
  private volatile boolean accessGranted;

  /** Set once the descriptor was closed: later calls from racing threads find no access. */
  private boolean released;

  DeviceFile(VfioFunction function, GroupFile groupFile) {
    this.function = function;
    this.groupFile = groupFile;
    this.accessGranted = groupFile != null;
  }

  @Override
  public String device() {
    return function.bdf;
  }

  /**
   * vfio_main.c: vfio_device_fops_release(): a group's device file closes its open (group.c:
   * vfio_df_group_close()); a bound cdev is unbound (device_cdev.c: vfio_df_unbind_iommufd()).
   */
  @Override
  public void release() {
    synchronized (function) {
      if (released) {
        return;
      }
      released = true;
      if (!accessGranted) {
        return;
      }
      accessGranted = false;
    }
    if (groupFile != null) {
      groupFile.group().closeDevice(function);
      groupFile.put();
    } else {
      function.close();
      function.group.unblockForCdev();
    }
  }

  @Override
  public long ioctl(Caller caller, FileTable files, long request, long arg) {
    try {
      if (request == Vfio.VFIO_DEVICE_BIND_IOMMUFD) {
        bind(caller, files, arg);
        return 0;
      }
      requireAccess();
      if (groupFile == null && request == Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT) {
        attach(caller, arg);
        return 0;
      }
      if (groupFile == null && request == Vfio.VFIO_DEVICE_DETACH_IOMMUFD_PT) {
        detach(caller, arg);
        return 0;
      }
      synchronized (function) {
        return function.ioctls().ioctl(caller, files, request, arg);
      }
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  /** vfio_pci_core.c: vfio_pci_core_read() through vfio_pci_rw(). */
  @Override
  public long pread(Caller caller, long buffer, long count, long offset) {
    try {
      requireAccess();
      MemorySegment data = MemorySegment.ofArray(new byte[(int) transfer(count)]);
      int n;
      synchronized (function) {
        n = function.pci().read(offset, data);
      }
      UserArg.copyOut(caller, buffer, data.asSlice(0, n));
      return n;
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  /** vfio_pci_core.c: vfio_pci_core_write() through vfio_pci_rw(). */
  @Override
  public long pwrite(Caller caller, long buffer, long count, long offset) {
    try {
      requireAccess();
      MemorySegment data = UserArg.copyIn(caller, buffer, transfer(count));
      synchronized (function) {
        return function.pci().write(offset, data);
      }
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  /** vfio_pci_core.c: vfio_pci_core_mmap(), once the file may reach the device. */
  @Override
  public int mmap(long offset, long length, int prot, int flags) {
    if (!accessGranted) {
      return -Errno.EINVAL.number();
    }
    try {
      synchronized (function) {
        return function.pci().mmap(offset, length, prot, flags);
      }
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  @Override
  public List<SharedRange> sharedRanges(long offset, long length) {
    synchronized (function) {
      return accessGranted ? function.pci().sharedRanges(offset, length) : List.of();
    }
  }

  /** How much of {@code count} (a size_t) one call moves. */
  private static long transfer(long count) {
    return Long.compareUnsigned(count, MAX_TRANSFER) > 0 ? MAX_TRANSFER : count;
  }

  private void requireAccess() {
    if (!accessGranted) {
      throw ErrnoException.of(Errno.EINVAL, "the device file is not bound to an iommufd");
    }
  }

  /** device_cdev.c: vfio_df_ioctl_bind_iommufd(), the kernel's order of checks. */
  private void bind(Caller caller, FileTable files, long arg) {
    int minsz = (int) VfioDeviceBindIommufd.OUT_DEVID + 4;
    MemorySegment s = copyInChecked(caller, arg, minsz);
    int iommufd = s.get(U32, VfioDeviceBindIommufd.IOMMUFD);
    if (iommufd < 0) {
      throw ErrnoException.of(Errno.EINVAL, "iommufd");
    }
    if (groupFile != null) {
      throw ErrnoException.of(Errno.EINVAL, "BIND_IOMMUFD is for cdev files");
    }
    function.group.blockForCdev();
    try {
      synchronized (function) {
        if (accessGranted || released) {
          throw ErrnoException.of(Errno.EINVAL, "bound already");
        }
        Context ctx = files.context(iommufd);
        if (ctx == null) {
          throw ErrnoException.of(Errno.EBADFD, "descriptor " + iommufd + " is no iommufd");
        }
        VfioFunction.Binding b = function.open(ctx, false);
        MemorySegment out = MemorySegment.ofArray(new byte[4]);
        out.set(U32, 0, b.devId());
        try {
          UserArg.copyOut(caller, arg + VfioDeviceBindIommufd.OUT_DEVID, out);
        } catch (ErrnoException e) {
          function.close();
          throw e;
        }
        accessGranted = true;
      }
    } catch (RuntimeException e) {
      function.group.unblockForCdev();
      throw e;
    }
  }

  /**
   * device_cdev.c: vfio_df_ioctl_attach_pt(): to an IOAS (through its automatic HWPT) or an HWPT;
   * the HWPT's id is written back, and if it cannot be the device is detached again.
   */
  private void attach(Caller caller, long arg) {
    int minsz = (int) VfioDeviceAttachIommufdPt.PT_ID + 4;
    MemorySegment s = copyInChecked(caller, arg, minsz);
    synchronized (function) {
      VfioFunction.Binding b = function.binding();
      int hwpt = b.ctx().devices().attach(b.devId(), s.get(U32, VfioDeviceAttachIommufdPt.PT_ID));
      MemorySegment out = MemorySegment.ofArray(new byte[4]);
      out.set(U32, 0, hwpt);
      try {
        UserArg.copyOut(caller, arg + VfioDeviceAttachIommufdPt.PT_ID, out);
      } catch (ErrnoException e) {
        b.ctx().devices().detach(b.devId());
        throw e;
      }
    }
  }

  /** device_cdev.c: vfio_df_ioctl_detach_pt(): detaching a detached device does nothing. */
  private void detach(Caller caller, long arg) {
    int minsz = (int) VfioDeviceDetachIommufdPt.FLAGS + 4;
    copyInChecked(caller, arg, minsz);
    synchronized (function) {
      VfioFunction.Binding b = function.binding();
      b.ctx().devices().detach(b.devId());
    }
  }

  /**
   * The first {@code minsz} bytes of a cdev ioctl's struct, all of which start with u32 argsz and
   * u32 flags: EINVAL if argsz is below {@code minsz} or any flag is set (none is defined).
   */
  private static MemorySegment copyInChecked(Caller caller, long arg, int minsz) {
    MemorySegment s = UserArg.copyIn(caller, arg, minsz);
    if (Integer.compareUnsigned(s.get(U32, VfioDeviceBindIommufd.ARGSZ), minsz) < 0
        || s.get(U32, VfioDeviceBindIommufd.FLAGS) != 0) {
      throw ErrnoException.of(Errno.EINVAL, "argsz or flags");
    }
    return s;
  }
}
