package org.iommufd4j.vfio;

import static org.iommufd4j.vfio.UserArg.U32;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioGroupStatus;

/**
 * An open {@code /dev/vfio/N} (vfio/group.c: vfio_group_fops). Device files opened through it hold
 * it: the group is released when the descriptor and all of them are closed.
 */
final class GroupFile implements EmulatedFile {
  private final VfioGroup group;

  /** The descriptor's reference and one per device file opened through it; guarded by this. */
  private int refs = 1;

  GroupFile(VfioGroup group) {
    this.group = group;
  }

  @Override
  public void release() {
    put();
  }

  void put() {
    synchronized (this) {
      if (--refs > 0) {
        return;
      }
    }
    group.released();
  }

  /** group.c: vfio_group_fops_unl_ioctl(). */
  @Override
  public long ioctl(Caller caller, FileTable files, long request, long arg) {
    try {
      if (request == Vfio.VFIO_GROUP_GET_DEVICE_FD) {
        return deviceFd(caller, files, arg);
      }
      if (request == Vfio.VFIO_GROUP_GET_STATUS) {
        status(caller, arg);
      } else if (request == Vfio.VFIO_GROUP_SET_CONTAINER) {
        int fd = UserArg.copyIn(caller, arg, 4).get(U32, 0);
        group.setContainer(files.context(fd));
      } else if (request == Vfio.VFIO_GROUP_UNSET_CONTAINER) {
        group.unsetContainer();
      } else {
        return -Errno.ENOTTY.number();
      }
      return 0;
    } catch (IommufdException e) {
      return -e.errno().number();
    }
  }

  /** group.c: vfio_group_ioctl_get_status(). */
  private void status(Caller caller, long arg) {
    MemorySegment s = UserArg.copyIn(caller, arg, VfioGroupStatus.SIZE);
    if (Integer.compareUnsigned(s.get(U32, VfioGroupStatus.ARGSZ), VfioGroupStatus.SIZE) < 0) {
      throw ErrnoException.of(Errno.EINVAL, "argsz below " + VfioGroupStatus.SIZE);
    }
    s.set(U32, VfioGroupStatus.FLAGS, group.status());
    UserArg.copyOut(caller, arg, s);
  }

  /**
   * group.c: vfio_group_ioctl_get_device_fd(): the name (ENODEV if no function matches), a
   * descriptor number, then the open (vfio_device_open_file()), then the descriptor names it.
   */
  private long deviceFd(Caller caller, FileTable files, long arg) {
    VfioFunction f = group.byName(UserArg.string(caller, arg));
    int fd = files.reserve();
    try {
      synchronized (this) {
        refs++;
      }
      try {
        group.openDevice(f);
      } catch (RuntimeException e) {
        put();
        throw e;
      }
    } catch (RuntimeException e) {
      files.unreserve(fd);
      throw e;
    }
    files.install(fd, new DeviceFile(f, this));
    return fd;
  }

  VfioGroup group() {
    return group;
  }
}
