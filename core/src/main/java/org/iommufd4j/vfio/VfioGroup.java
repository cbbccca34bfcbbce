package org.iommufd4j.vfio;

import static org.iommufd4j.uapi.VfioGroupStatus.VFIO_GROUP_FLAGS_CONTAINER_SET;
import static org.iommufd4j.uapi.VfioGroupStatus.VFIO_GROUP_FLAGS_VIABLE;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.ErrnoException;

/**
 * An IOMMU group as VFIO keeps it (vfio/group.c: struct vfio_group): its functions, the one open
 * group file, the iommufd its container is, and how many of its functions are bound through their
 * cdevs. The group path and the cdev path exclude each other: a bound cdev keeps the group from
 * opening and an open group keeps cdevs from binding (EBUSY both ways). The monitor is the group
 * lock (group.c: group->group_lock), taken before a function's.
 */
final class VfioGroup {
  final int number;
  final List<VfioFunction> functions = new ArrayList<>();

  /** The open group file (group.c: group->opened_file), or null. */
  private GroupFile opened;

  /** The container: an iommufd or iommufd's {@code /dev/vfio/vfio} (group->iommufd), or null. */
  private Context iommufd;

  /** Functions bound through their cdev (group.c: group->cdev_device_open_cnt). */
  private int cdevBound;

  VfioGroup(int number) {
    this.number = number;
  }

  /** group.c: vfio_group_fops_open(). */
  synchronized GroupFile open() {
    if (cdevBound > 0) {
      throw ErrnoException.of(Errno.EBUSY, "group " + number + " is in use through a cdev");
    }
    if (opened != null) {
      throw ErrnoException.of(Errno.EBUSY, "group " + number + " is open already");
    }
    opened = new GroupFile(this);
    return opened;
  }

  /**
   * group.c: vfio_group_fops_release(), once the group file and every device file opened through it
   * are closed: the container is let go.
   */
  synchronized void released() {
    dropContainer();
    opened = null;
  }

  /** group.c: vfio_device_block_group(), before a cdev binds. */
  synchronized void blockForCdev() {
    if (opened != null) {
      throw ErrnoException.of(Errno.EBUSY, "group " + number + " is open");
    }
    cdevBound++;
  }

  /** group.c: vfio_device_unblock_group(). */
  synchronized void unblockForCdev() {
    cdevBound--;
  }

  /**
   * group.c: vfio_group_ioctl_get_status(): with a container, viable and container-set; without,
   * viable unless a function's DMA is owned (a bound device claims it, iommufd's device.c:
   * iommufd_device_bind()).
   */
  synchronized int status() {
    if (iommufd != null) {
      return VFIO_GROUP_FLAGS_VIABLE | VFIO_GROUP_FLAGS_CONTAINER_SET;
    }
    for (VfioFunction f : functions) {
      if (f.isOpen()) {
        return 0;
      }
    }
    return VFIO_GROUP_FLAGS_VIABLE;
  }

  /**
   * group.c: vfio_group_ioctl_set_container() for an iommufd (the only containers there are):
   * EINVAL with one set already, EBADFD for a {@code null} context (a descriptor of something
   * else); the context gets its compat IOAS (vfio_compat.c: iommufd_vfio_compat_ioas_create()) and
   * is held until unset.
   */
  synchronized void setContainer(Context ctx) {
    if (iommufd != null) {
      throw ErrnoException.of(Errno.EINVAL, "group " + number + " has a container");
    }
    if (ctx == null) {
      throw ErrnoException.of(Errno.EBADFD, "the descriptor is neither a container nor an iommufd");
    }
    ctx.retainFile();
    try {
      ctx.vfio().createCompatIoas();
    } catch (RuntimeException e) {
      ctx.releaseFile();
      throw e;
    }
    iommufd = ctx;
  }

  /**
   * group.c: vfio_group_ioctl_unset_container(): EINVAL without one. Devices opened through the
   * group stay bound to it and usable.
   */
  synchronized void unsetContainer() {
    if (iommufd == null) {
      throw ErrnoException.of(Errno.EINVAL, "group " + number + " has no container");
    }
    dropContainer();
  }

  private void dropContainer() {
    if (iommufd != null) {
      Context ctx = iommufd;
      iommufd = null;
      ctx.releaseFile();
    }
  }

  /**
   * group.c: vfio_df_group_open(): EINVAL without a container; the first open binds the function to
   * the container's iommufd and attaches it to the compat IOAS (iommufd.c:
   * vfio_iommufd_compat_attach_ioas()).
   */
  synchronized void openDevice(VfioFunction f) {
    if (iommufd == null) {
      throw ErrnoException.of(Errno.EINVAL, "group " + number + " has no container");
    }
    Context ctx = iommufd;
    synchronized (f) {
      boolean first = !f.isOpen();
      VfioFunction.Binding b = f.open(ctx, true);
      if (first) {
        try {
          b.ctx().devices().attach(b.devId(), b.ctx().vfio().compatIoasId());
        } catch (RuntimeException e) {
          f.close();
          throw e;
        }
      }
    }
  }

  /** group.c: vfio_df_group_close(). */
  synchronized void closeDevice(VfioFunction f) {
    f.close();
  }

  /** The function {@code name} selects (group.c: vfio_device_get_from_name()), or ENODEV. */
  VfioFunction byName(String name) {
    for (VfioFunction f : functions) {
      if (DeviceName.matches(f.bdf, name)) {
        return f;
      }
    }
    throw ErrnoException.of(Errno.ENODEV, "no device '" + name + "' in group " + number);
  }
}
