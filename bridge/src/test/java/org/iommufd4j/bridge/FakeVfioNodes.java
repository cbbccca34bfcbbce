package org.iommufd4j.bridge;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.vfio.VfioNodes;

/**
 * A stand-in for the emulated host's VFIO layer, to test the transport alone: group {@link #GROUP}
 * (one open at a time) hands out devices, cdev {@link #CDEV} is one, and a device is a page of a
 * few registers behind region 0 at file offset 0. {@code native/tests/t_vfio.c} knows this layout.
 *
 * <ul>
 *   <li>0x00: the id, {@link #ID}, read-only;
 *   <li>0x08-0x17: sixteen bytes of scratch, any width;
 *   <li>0x20: the doorbell: a store signals the device's eventfd;
 *   <li>0x28: the read counter: each read returns how many reads of it came before.
 * </ul>
 *
 * <p>Ioctls (real request numbers, simplified arguments): {@code VFIO_GROUP_SET_CONTAINER} (an int
 * descriptor: 0 if it is an iommufd, EBADFD for another file, EBADF for none), {@code
 * VFIO_GROUP_GET_DEVICE_FD} (any name: a new device descriptor), {@code VFIO_DEVICE_GET_INFO}
 * (writes {@code argsz, flags = PCI, 1 region, 1 irq}), {@code VFIO_DEVICE_SET_IRQS} ({@code argsz,
 * flags, index, start, count, int fd}: index 0 takes the interrupt's eventfd, index 1 a trigger
 * eventfd whose every signal the device answers with an interrupt; -1 drops it). mmap: region 0's
 * page, shared only.
 */
final class FakeVfioNodes implements VfioNodes {
  static final int GROUP = 7;
  static final int CDEV = 3;
  static final int ID = 0x010000ed;
  static final int PAGE = 4096;

  static final long VFIO_GROUP_SET_CONTAINER = 0x3b68;
  static final long VFIO_GROUP_GET_DEVICE_FD = 0x3b6a;
  static final long VFIO_DEVICE_GET_INFO = 0x3b6b;
  static final long VFIO_DEVICE_SET_IRQS = 0x3b6e;
  private static final int MAP_SHARED = 1;

  private boolean groupOpen;

  /** Files released (their last descriptor and mapping gone). */
  final AtomicInteger released = new AtomicInteger();

  /** Files opened or handed out and not released yet. */
  final AtomicInteger live = new AtomicInteger();

  @Override
  public synchronized EmulatedFile openGroup(Caller caller, int group, int flags) {
    if (group != GROUP) {
      throw ErrnoException.of(Errno.ENOENT, "no group " + group);
    }
    if (groupOpen) {
      throw ErrnoException.of(Errno.EBUSY, "group " + group + " is open");
    }
    groupOpen = true;
    live.incrementAndGet();
    return new Group();
  }

  @Override
  public EmulatedFile openCdev(Caller caller, int index, int flags) {
    if (index != CDEV) {
      throw ErrnoException.of(Errno.ENOENT, "no vfio" + index);
    }
    live.incrementAndGet();
    return new Device();
  }

  private void released() {
    live.decrementAndGet();
    released.incrementAndGet();
  }

  private final class Group implements EmulatedFile {
    @Override
    public void release() {
      synchronized (FakeVfioNodes.this) {
        groupOpen = false;
      }
      released();
    }

    @Override
    public long ioctl(Caller caller, FileTable files, long request, long arg) {
      if (request == VFIO_GROUP_SET_CONTAINER) {
        MemorySegment fd = Arena.ofAuto().allocate(JAVA_INT);
        if (!caller.memory().read(arg, fd)) {
          return -Errno.EFAULT.number();
        }
        Context context = files.context(fd.get(JAVA_INT, 0));
        return context == null ? -Errno.EBADFD.number() : 0;
      }
      if (request == VFIO_GROUP_GET_DEVICE_FD) {
        int fd = files.reserve();
        live.incrementAndGet();
        files.install(fd, new Device());
        return fd;
      }
      return -Errno.ENOTTY.number();
    }
  }

  private final class Device implements EmulatedFile {
    private final byte[] scratch = new byte[16];
    private long reads;
    private EventFd irq;
    private EventFd trigger;

    @Override
    public synchronized void release() {
      if (irq != null) {
        irq.close();
      }
      if (trigger != null) {
        trigger.close();
      }
      released();
    }

    @Override
    public synchronized long ioctl(Caller caller, FileTable files, long request, long arg) {
      if (request == VFIO_DEVICE_GET_INFO) {
        MemorySegment info = Arena.ofAuto().allocate(16);
        info.set(JAVA_INT, 0, 16);
        info.set(JAVA_INT, 4, 2);
        info.set(JAVA_INT, 8, 1);
        info.set(JAVA_INT, 12, 1);
        return caller.memory().write(arg, info) ? 0 : -Errno.EFAULT.number();
      }
      if (request == VFIO_DEVICE_SET_IRQS) {
        MemorySegment set = Arena.ofAuto().allocate(24);
        if (!caller.memory().read(arg, set)) {
          return -Errno.EFAULT.number();
        }
        int index = set.get(JAVA_INT, 8);
        int fd = set.get(JAVA_INT, 20);
        EventFd taken = null;
        if (fd >= 0) {
          try {
            taken = files.eventfd(fd);
          } catch (ErrnoException e) {
            return -e.errno().number();
          }
        }
        if (index == 1) {
          if (taken != null && !taken.onSignal(this::loopback)) {
            taken.close();
            return -Errno.EINVAL.number();
          }
          if (trigger != null) {
            trigger.close();
          }
          trigger = taken;
          return 0;
        }
        if (irq != null) {
          irq.close();
        }
        irq = taken;
        return 0;
      }
      return -Errno.ENOTTY.number();
    }

    /** The program signalled the trigger: the device signals its interrupt. */
    private synchronized void loopback() {
      if (irq != null) {
        irq.signal();
      }
    }

    @Override
    public long pread(Caller caller, long buffer, long count, long offset) {
      long n = clip(count, offset);
      if (n <= 0) {
        return n;
      }
      MemorySegment bytes = Arena.ofAuto().allocate(n);
      synchronized (this) {
        for (long i = 0; i < n; i++) {
          bytes.set(JAVA_BYTE, i, readByte(offset + i));
        }
        if (offset <= 0x28 && 0x28 < offset + n) {
          reads++;
        }
      }
      return caller.memory().write(buffer, bytes) ? n : -Errno.EFAULT.number();
    }

    @Override
    public long pwrite(Caller caller, long buffer, long count, long offset) {
      long n = clip(count, offset);
      if (n <= 0) {
        return n;
      }
      MemorySegment bytes = Arena.ofAuto().allocate(n);
      if (!caller.memory().read(buffer, bytes)) {
        return -Errno.EFAULT.number();
      }
      synchronized (this) {
        for (long i = 0; i < n; i++) {
          long at = offset + i;
          if (at >= 0x08 && at < 0x18) {
            scratch[(int) (at - 0x08)] = bytes.get(JAVA_BYTE, i);
          }
        }
        if (offset <= 0x20 && 0x20 < offset + n && irq != null) {
          irq.signal();
        }
      }
      return n;
    }

    /** Bytes of an access that lie in the page: EINVAL at or past its end. */
    private static long clip(long count, long offset) {
      if (offset < 0 || offset >= PAGE) {
        return -Errno.EINVAL.number();
      }
      return Math.min(count, PAGE - offset);
    }

    private byte readByte(long at) {
      if (at < 4) {
        return (byte) (ID >>> (8 * at));
      }
      if (at >= 0x08 && at < 0x18) {
        return scratch[(int) (at - 0x08)];
      }
      if (at >= 0x28 && at < 0x30) {
        return (byte) (reads >>> (8 * (at - 0x28)));
      }
      return 0;
    }

    @Override
    public int mmap(long offset, long length, int prot, int flags) {
      if ((flags & MAP_SHARED) == 0 || offset != 0 || length > PAGE) {
        return -Errno.EINVAL.number();
      }
      return 0;
    }
  }
}
