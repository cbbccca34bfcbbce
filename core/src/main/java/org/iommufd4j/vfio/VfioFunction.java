package org.iommufd4j.vfio;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.iommufd4j.Errno;
import org.iommufd4j.IommuFaultException;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.DomainSpec;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.HwInfoReport;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.DmaFaultException;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.trace.MemoryLog;

/**
 * One presented function as VFIO knows it (vfio_main.c: struct vfio_device with vfio-pci's core
 * device): its open count, the iommufd it is bound to while open, and the DMA port its model was
 * made with, which reaches memory through that binding's DEVICE object. Its monitor is the device
 * set's lock (vfio_main.c: dev_set->lock); a group's lock is taken before it.
 */
final class VfioFunction {
  private static final int VENDOR_ID = 0x00; // PCI header
  private static final int DEVICE_ID = 0x02;
  private static final int COMMAND = 0x04; // PCI header: command register and its bus-master bit
  private static final int COMMAND_MASTER = 0x04;

  /** The iommufd a function is bound to: the context and its DEVICE object's id. */
  record Binding(Context ctx, int devId, DmaCounters counters) {}

  /** The model's DMA through one binding, for {@code inspect}. */
  static final class DmaCounters {
    private final AtomicLong reads = new AtomicLong();
    private final AtomicLong readBytes = new AtomicLong();
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong writeBytes = new AtomicLong();
    private final AtomicLong faults = new AtomicLong();
    private volatile long lastFaultIova;

    void transferred(boolean write, long bytes) {
      (write ? writes : reads).incrementAndGet();
      (write ? writeBytes : readBytes).addAndGet(bytes);
    }

    void faulted(long iova) {
      lastFaultIova = iova;
      faults.incrementAndGet();
    }

    Snapshot.DmaState state() {
      return new Snapshot.DmaState(
          reads.get(),
          readBytes.get(),
          writes.get(),
          writeBytes.get(),
          faults.get(),
          lastFaultIova);
    }
  }

  final String bdf;
  final VfioGroup group;
  final DomainSpec iommu;
  final HwInfoReport.VtdData iommuInfo;
  final DmaPort dma = new Dma();
  private PciFunction function;

  /** Open device files that were granted access (vfio_main.c: device->open_count). */
  private int openCount;

  /** Set while open (written under the monitor, read by DMA on the model's threads). */
  private volatile Binding binding;

  private VfioPciDevice pci;
  private VfioPciIoctls ioctls;

  VfioFunction(String bdf, VfioGroup group, DomainSpec iommu, HwInfoReport.VtdData iommuInfo) {
    this.bdf = bdf;
    this.group = group;
    this.iommu = iommu;
    this.iommuInfo = iommuInfo;
  }

  void setFunction(PciFunction function) {
    this.function = function;
  }

  boolean isOpen() {
    return binding != null;
  }

  /** The iommufd the function is bound to, or null while no file has it open. */
  Binding binding() {
    return binding;
  }

  /**
   * vfio_main.c: vfio_df_open(): the first open binds the function to {@code ctx} (iommufd.c:
   * vfio_df_iommufd_bind()) and enables it (vfio_pci_core.c: vfio_pci_core_enable()); later opens
   * are the group path's only (EINVAL for a cdev).
   */
  synchronized Binding open(Context ctx, boolean fromGroup) {
    if (openCount != 0) {
      if (!fromGroup) {
        throw ErrnoException.of(Errno.EINVAL, bdf + " is open already");
      }
      openCount++;
      return binding;
    }
    DmaCounters counters = new DmaCounters();
    Snapshot.OpenPath via = fromGroup ? Snapshot.OpenPath.GROUP : Snapshot.OpenPath.CDEV;
    int devId = ctx.devices().bindVfio(iommu, iommuInfo, () -> inspect(via, counters));
    openCount = 1;
    binding = new Binding(ctx, devId, counters);
    pci = new VfioPciDevice(function);
    ioctls = new VfioPciIoctls(pci, !fromGroup);
    return binding;
  }

  /**
   * vfio_main.c: vfio_df_close(): the last close detaches and unbinds (iommufd.c:
   * vfio_iommufd_physical_unbind()) and leaves bus mastering off, as vfio_pci_core_disable() does.
   */
  synchronized void close() {
    if (--openCount > 0) {
      return;
    }
    Binding b = binding;
    binding = null;
    pci.close(); // puts its eventfds and gives the model's interrupts back
    pci = null;
    ioctls = null;
    clearBusMaster();
    b.ctx().devices().unbind(b.devId());
  }

  /** What {@code inspect} shows of the function while bound (its DEVICE id and HWPT aside). */
  private synchronized Snapshot.VfioState inspect(Snapshot.OpenPath via, DmaCounters counters) {
    var config = function.config();
    List<Snapshot.BarState> bars = new ArrayList<>();
    for (Bar b : config.bars()) {
      Snapshot.BarType type =
          switch (b.type()) {
            case MEMORY_32 -> Snapshot.BarType.MEM32;
            case MEMORY_64 -> Snapshot.BarType.MEM64;
            case IO -> Snapshot.BarType.IO;
          };
      bars.add(new Snapshot.BarState(b.index(), type, b.prefetchable(), b.size()));
    }
    Snapshot.IrqState irqs =
        pci == null
            ? new Snapshot.IrqState(Snapshot.IrqType.NONE, 0, 0, false)
            : pci.irqState().state();
    return new Snapshot.VfioState(
        bdf,
        config.read(VENDOR_ID, 2),
        config.read(DEVICE_ID, 2),
        group.number,
        via,
        bars,
        irqs,
        counters.state(),
        function.model().summary());
  }

  private void clearBusMaster() {
    var config = function.config();
    config.write(COMMAND, 2, config.read(COMMAND, 2) & ~COMMAND_MASTER);
  }

  /**
   * The open function's vfio-pci device, for the other calls on it; EINVAL once closed (a call
   * racing the last close). Callers hold the monitor: vfio-pci's state changes one call at a time.
   */
  VfioPciDevice pci() {
    if (pci == null) {
      throw ErrnoException.of(Errno.EINVAL, bdf + " is closed");
    }
    return pci;
  }

  /** The open function's byte-level ioctls, as {@link #pci()}. */
  VfioPciIoctls ioctls() {
    pci();
    return ioctls;
  }

  /**
   * The model's DMA: through the bound DEVICE's domain, or nowhere while the function is closed. A
   * read that faults delivers zeros from the faulting byte on, as the oracle's VT-d did.
   */
  private final class Dma implements DmaPort {
    @Override
    public void read(long iova, MemorySegment dst) {
      transfer(iova, dst, false);
    }

    @Override
    public void write(long iova, MemorySegment src) {
      transfer(iova, src, true);
    }

    private void transfer(long iova, MemorySegment buffer, boolean write) {
      Binding b = binding;
      if (b == null) {
        MemoryLog.dma(iova, buffer.byteSize(), write, false);
        throw new DmaFaultException(iova, bdf + " is not bound to an iommufd", null);
      }
      boolean ok = false;
      try {
        b.ctx().devices().dma(b.devId(), iova, buffer, write);
        b.counters().transferred(write, buffer.byteSize());
        ok = true;
      } catch (IommuFaultException e) {
        b.counters().faulted(e.iova());
        if (!write) { // what QEMU's VT-d delivers for what it cannot read (oracle/FINDINGS.md)
          long delivered = Math.clamp(e.iova() - iova, 0, buffer.byteSize());
          buffer.asSlice(delivered).fill((byte) 0);
        }
        throw new DmaFaultException(e.iova(), e.reason().toString(), e);
      } catch (IommufdException e) { // unbound meanwhile
        throw new DmaFaultException(iova, e.getMessage(), e);
      } finally {
        MemoryLog.dma(iova, buffer.byteSize(), write, ok);
      }
    }
  }
}
