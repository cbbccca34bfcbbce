package org.iommufd4j.vfio;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.EventFd;
import org.iommufd4j.engine.FileTable;

/**
 * A device's ioeventfds (vfio_pci_rdwr.c: vfio_pci_ioeventfd()): each is an eventfd that, when the
 * program signals it, writes a fixed value of a fixed width at a fixed BAR offset, as QEMU uses
 * them for doorbells. The write is the one a {@code pwrite} there would make, and is skipped while
 * memory decoding is off (vfio_pci_ioeventfd_handler()).
 */
final class VfioIoeventfds {
  /** VFIO_PCI_IOEVENTFD_MAX. */
  static final int MAX = 1000;

  private record Entry(int bar, long pos, long data, int count, EventFd fd) {}

  private final VfioPciDevice device;
  private final List<Entry> entries = new ArrayList<>();

  VfioIoeventfds(VfioPciDevice device) {
    this.device = device;
  }

  /**
   * Adds the ioeventfd {@code fd} at file offset {@code offset}, or with {@code fd} -1 removes the
   * one with the same place, data and width.
   *
   * @throws ErrnoException EINVAL outside a BAR or over the MSI-X table, EEXIST for a duplicate,
   *     ENODEV removing what is not there, ENOSPC past {@link #MAX}, EBADF/EINVAL for a bad fd
   */
  synchronized void set(long offset, long data, int count, int fd, FileTable files) {
    long pos = offset & VfioPciDevice.OFFSET_MASK;
    long bar = offset >>> VfioPciDevice.OFFSET_SHIFT;
    if (bar > 5) { // ioeventfds only go into BARs
      throw ErrnoException.of(Errno.EINVAL, "region " + bar + " is not a BAR");
    }
    int index = (int) bar;
    if (pos + count > device.barLength(index)) {
      throw ErrnoException.of(Errno.EINVAL, "past the end of BAR" + index);
    }
    if (device.overlapsMsixTable(index, pos, count)) {
      throw ErrnoException.of(Errno.EINVAL, "over the MSI-X table");
    }
    for (Entry e : entries) {
      if (e.pos == pos && e.bar == index && e.data == data && e.count == count) {
        if (fd != -1) {
          throw ErrnoException.of(Errno.EEXIST, "the same ioeventfd exists");
        }
        entries.remove(e);
        e.fd.close();
        return;
      }
    }
    if (fd < 0) {
      throw ErrnoException.of(Errno.ENODEV, "no such ioeventfd to remove");
    }
    if (entries.size() >= MAX) {
      throw ErrnoException.of(Errno.ENOSPC, MAX + " ioeventfds already");
    }
    EventFd eventfd = files.eventfd(fd);
    Entry entry = new Entry(index, pos, data, count, eventfd);
    entries.add(entry);
    eventfd.onSignal(() -> device.ioeventfdWrite(entry.bar, entry.pos, entry.count, entry.data));
  }

  synchronized int held() {
    return entries.size();
  }

  /** Releases every ioeventfd (vfio_pci_core_disable()). */
  synchronized void close() {
    for (Entry e : entries) {
      e.fd.close();
    }
    entries.clear();
  }
}
