package org.iommufd4j.engine;

import static org.iommufd4j.Errno.ENOENT;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import org.iommufd4j.inspect.Snapshot;

/**
 * Emulated devices of the typed API ({@code EmulatedDevice}): the driver side the kernel's {@code
 * device.c} serves, bind, attach to an IOAS or HWPT (device.c: iommufd_device_auto_get_domain()),
 * detach, unbind, and the device's DMA through its IOMMU. Attachments change under the context's
 * attach lock, as the test ABI's mock devices do.
 */
public final class DeviceCommands {
  private final Context ctx;
  private final ObjectTable table;
  private final Host host;
  private final ReentrantLock attachLock;

  DeviceCommands(Context ctx) {
    this.ctx = ctx;
    this.table = ctx.table;
    this.host = ctx.host;
    this.attachLock = ctx.attachLock;
  }

  private Device device(int devId) {
    return (Device) table.get(devId, ObjectType.DEVICE);
  }

  /** Binds a new emulated device behind {@code spec} hardware; returns its DEVICE id. */
  public int bind(DomainSpec spec) {
    Device d = new Device(table, host, 0, spec);
    d.boundByApi = true;
    table.reserve(d);
    table.publish(d);
    return d.id;
  }

  /**
   * Binds a device of VFIO (vfio/iommufd.c: vfio_iommufd_physical_bind(); device.c:
   * iommufd_device_bind()) behind {@code spec} hardware that GET_HW_INFO describes as {@code
   * hwData}; returns its DEVICE id. The device holds the context's file until {@link #unbind}, as
   * the kernel's holds the iommufd: closing the descriptor does not tear the context down under it.
   * {@code inspect} shows the device with what {@code vfio} answers (called without the engine's
   * locks).
   *
   * @throws ErrnoException EBADF if the context is gone already
   */
  public int bindVfio(
      DomainSpec spec, HwInfoReport.VtdData hwData, Supplier<Snapshot.VfioState> vfio) {
    ctx.getFile();
    Device d = new Device(table, host, 0, spec, hwData, Objects.requireNonNull(vfio));
    table.reserve(d);
    table.publish(d);
    return d.id;
  }

  /**
   * Attaches device {@code devId} to an IOAS or HWPT; returns the HWPT id used (device.c:
   * iommufd_device_attach()).
   */
  public int attach(int devId, int ptId) {
    attachLock.lock();
    try {
      Device d = device(devId);
      IommufdObject target = table.find(ptId);
      if (target == null) {
        throw ErrnoException.of(ENOENT, "no object with id " + ptId);
      }
      return (d.attached == null ? d.attach(target) : d.replace(target)).id;
    } finally {
      attachLock.unlock();
    }
  }

  /** Detaches device {@code devId}: its DMA is blocked until it attaches again. */
  public void detach(int devId) {
    attachLock.lock();
    try {
      device(devId).detach();
    } finally {
      attachLock.unlock();
    }
  }

  /** Detaches and unbinds device {@code devId} (its id becomes free). */
  public void unbind(int devId) {
    Device d;
    attachLock.lock();
    try {
      d = device(devId);
      d.detach();
      table.removeOwned(d);
    } finally {
      attachLock.unlock();
    }
    if (d.hwData != null) {
      ctx.putFile(); // may tear the context down: outside the attach lock
    }
  }

  /** The HWPT id device {@code devId} is attached to, or 0. */
  public int attachedHwpt(int devId) {
    HwptObject h = device(devId).attached;
    return h == null ? 0 : h.id;
  }

  /** The user address {@code iova} reaches through device {@code devId}'s domain, or -1. */
  public long translate(int devId, long iova) {
    return device(devId).translate(iova);
  }

  /**
   * DMA by device {@code devId}; {@link org.iommufd4j.IommuFaultException} when the IOMMU refuses
   * it.
   */
  public void dma(int devId, long iova, MemorySegment buffer, boolean write) {
    device(devId).dma(iova, buffer, write);
  }
}
