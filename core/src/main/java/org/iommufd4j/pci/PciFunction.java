package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.iommufd4j.DomainModel;

/**
 * A model on its PCI function: what QEMU's PCI core does around a device. It owns the model's
 * config space and interrupts, routes BAR accesses (MSI-X table and PBA, plain memory, registers),
 * blocks DMA while bus mastering is off, assigns BAR addresses as firmware would, and resets.
 */
public final class PciFunction {
  /**
   * The IOMMU a device sits behind unless said otherwise: QEMU 7.2's {@code intel-iommu} with its
   * default options (39-bit address width, 4 KiB/2 MiB/1 GiB pages, the x86 MSI window reserved).
   */
  public static final DomainModel QEMU_INTEL_IOMMU =
      DomainModel.vtd().withAperture(0, (1L << 39) - 1);

  /** Where firmware puts 32-bit memory BARs (below the x86 I/O APIC and MSI window). */
  static final long MEM32_BASE = 0xfc00_0000L;

  /** Where firmware puts 64-bit memory BARs. */
  static final long MEM64_BASE = 0x80_0000_0000L;

  static final long IO_BASE = 0xc000;

  private final PciDevice model;
  private final ConfigSpace config;
  private final Interrupts interrupts;
  private final PlainMemory memory = new PlainMemory();

  // the bus is little-endian, whatever this machine is
  private static final ValueLayout.OfShort LE_SHORT =
      ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt LE_INT =
      ValueLayout.JAVA_INT.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong LE_LONG =
      ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN);

  /**
   * Pages of a BAR that a program may map as shared memory: {@code fd} holds the BAR's plain memory
   * laid out as the BAR (byte {@code o} of the BAR at offset {@code o}); {@code pages} are the
   * page-aligned ranges wholly of plain memory, in order.
   */
  public record SharedPages(int fd, List<Bar.Range> pages) {}

  private PciFunction(
      Function<PciDevice.Ports, ? extends PciDevice> factory,
      DmaPort dma,
      DeviceClock clock,
      Interrupts.Sink sink) {
    this.interrupts = new Interrupts(sink);
    this.model = factory.apply(new PciDevice.Ports(interrupts, busMastered(dma), clock, memory));
    this.config = Objects.requireNonNull(model.configSpace(), "configSpace()");
    interrupts.bind(config);
    memory.bind(config, model);
    assignBarAddresses();
  }

  /**
   * Makes a model ({@code factory} gets its ports) whose DMA goes through {@code dma}, whose timers
   * run on {@code clock} and whose interrupts go to {@code sink}.
   */
  public static PciFunction create(
      Function<PciDevice.Ports, ? extends PciDevice> factory,
      DmaPort dma,
      DeviceClock clock,
      Interrupts.Sink sink) {
    return new PciFunction(
        factory, Objects.requireNonNull(dma), Objects.requireNonNull(clock), sink);
  }

  public PciDevice model() {
    return model;
  }

  public ConfigSpace config() {
    return config;
  }

  public Interrupts interrupts() {
    return interrupts;
  }

  /**
   * Reads {@code size} (1, 2, 4 or 8) bytes at {@code offset} of BAR {@code bar}, little-endian,
   * zero-extended. Accesses outside the BAR or to a BAR the device lacks read as all ones.
   */
  public long barRead(int bar, long offset, int size) {
    Bar b = checkedBar(bar, offset, size);
    if (b == null) {
      return size == 8 ? -1L : (1L << (8 * size)) - 1;
    }
    MsixTable msix = interrupts.msixTable();
    if (msix != null && msix.covers(bar, offset, size)) {
      synchronized (interrupts) {
        return msix.read(bar, offset, size);
      }
    }
    if (b.isPlainMemory(offset, size)) {
      return load(memory.segment(bar), offset, size);
    }
    long v = model.read(bar, offset, size);
    return size == 8 ? v : v & ((1L << (8 * size)) - 1);
  }

  /** Writes the low {@code size} bytes of {@code value} at {@code offset} of BAR {@code bar}. */
  public void barWrite(int bar, long offset, int size, long value) {
    Bar b = checkedBar(bar, offset, size);
    if (b == null) {
      return;
    }
    MsixTable msix = interrupts.msixTable();
    if (msix != null && msix.covers(bar, offset, size)) {
      synchronized (interrupts) {
        msix.write(bar, offset, size, value);
      }
      interrupts.configChanged();
      return;
    }
    if (b.isPlainMemory(offset, size)) {
      store(memory.segment(bar), offset, size, value);
      memory.stored(bar, offset, size);
      return;
    }
    model.write(bar, offset, size, size == 8 ? value : value & ((1L << (8 * size)) - 1));
  }

  /**
   * A naturally aligned access to plain memory is one load or store of its width, as the CPU makes
   * it: a poller looking meanwhile sees the old value or the new one, never a mix.
   */
  private static long load(MemorySegment m, long offset, int size) {
    if (offset % size == 0) {
      return switch (size) {
        case 1 -> m.get(ValueLayout.JAVA_BYTE, offset) & 0xffL;
        case 2 -> m.get(LE_SHORT, offset) & 0xffffL;
        case 4 -> m.get(LE_INT, offset) & 0xffff_ffffL;
        default -> m.get(LE_LONG, offset);
      };
    }
    long v = 0;
    for (int i = 0; i < size; i++) {
      v |= (m.get(ValueLayout.JAVA_BYTE, offset + i) & 0xffL) << (8 * i);
    }
    return v;
  }

  private static void store(MemorySegment m, long offset, int size, long value) {
    if (offset % size == 0) {
      switch (size) {
        case 1 -> m.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
        case 2 -> m.set(LE_SHORT, offset, (short) value);
        case 4 -> m.set(LE_INT, offset, (int) value);
        default -> m.set(LE_LONG, offset, value);
      }
      return;
    }
    for (int i = 0; i < size; i++) {
      m.set(ValueLayout.JAVA_BYTE, offset + i, (byte) (value >>> (8 * i)));
    }
  }

  /**
   * A function-level reset: config space to its power-on values with the firmware's BAR addresses
   * back, interrupts deasserted and cleared, then the model's own {@link PciDevice#reset}.
   */
  public void reset() {
    config.reset();
    assignBarAddresses();
    interrupts.reset();
    memory.reset();
    model.reset();
  }

  /**
   * The pages of BAR {@code bar} a program may map as shared memory rather than trap, or null if
   * none: pages wholly of plain memory and clear of the MSI-X table and PBA. Asking starts the
   * doorbell poller, since stores through such a mapping reach the model only by being looked at.
   */
  public SharedPages sharedPages(int bar) {
    Bar b = checkedBar(bar, 0, 1);
    if (b == null || b.plainMemory().isEmpty()) {
      return null;
    }
    List<Bar.Range> pages = new ArrayList<>();
    final long page = PlainMemory.PAGE;
    for (long at = 0; at + page <= b.size(); at += page) {
      if (whollyPlain(b, at, page)) {
        Bar.Range last = pages.isEmpty() ? null : pages.getLast();
        if (last != null && last.offset() + last.length() == at) {
          pages.set(pages.size() - 1, new Bar.Range(last.offset(), last.length() + page));
        } else {
          pages.add(new Bar.Range(at, page));
        }
      }
    }
    int fd = pages.isEmpty() ? -1 : memory.shareableFd(bar);
    return fd < 0 ? null : new SharedPages(fd, pages);
  }

  private boolean whollyPlain(Bar b, long start, long length) {
    long covered = start;
    for (Bar.Range r : b.plainMemory()) { // sorted and disjoint: walk the adjacent ones
      if (r.offset() <= covered && r.offset() + r.length() > covered) {
        covered = r.offset() + r.length();
      }
    }
    if (covered < start + length) {
      return false;
    }
    MsixTable msix = interrupts.msixTable();
    for (long at = start; msix != null && at < start + length; at += 8) {
      if (msix.covers(b.index(), at, 8)) {
        return false;
      }
    }
    return true;
  }

  private Bar checkedBar(int bar, long offset, int size) {
    if (size != 1 && size != 2 && size != 4 && size != 8) {
      throw new IllegalArgumentException("access size " + size);
    }
    for (Bar b : config.bars()) {
      if (b.index() == bar) {
        return offset >= 0 && offset + size <= b.size() ? b : null;
      }
    }
    return null;
  }

  private DmaPort busMastered(DmaPort dma) {
    return new DmaPort() {
      @Override
      public void read(long iova, MemorySegment dst) {
        requireBusMaster(iova);
        dma.read(iova, dst);
      }

      @Override
      public void write(long iova, MemorySegment src) {
        requireBusMaster(iova);
        dma.write(iova, src);
      }
    };
  }

  private void requireBusMaster(long iova) {
    if ((config.read(COMMAND, 2) & COMMAND_MASTER) == 0) {
      throw new DmaFaultException(iova, "bus mastering disabled", null);
    }
  }

  /** Naturally aligned, in BAR order, from fixed bases: what a simple firmware does. */
  private void assignBarAddresses() {
    long mem32 = MEM32_BASE;
    long mem64 = MEM64_BASE;
    long io = IO_BASE;
    for (Bar b : config.bars()) {
      int off = BASE_ADDRESS_0 + 4 * b.index();
      switch (b.type()) {
        case MEMORY_32 -> {
          mem32 = align(mem32, b.size());
          config.write(off, 4, (int) mem32);
          mem32 += b.size();
        }
        case MEMORY_64 -> {
          mem64 = align(mem64, b.size());
          config.write(off, 4, (int) mem64);
          config.write(off + 4, 4, (int) (mem64 >>> 32));
          mem64 += b.size();
        }
        case IO -> {
          io = align(io, b.size());
          config.write(off, 4, (int) io);
          io += b.size();
        }
      }
    }
  }

  private static long align(long at, long size) {
    return (at + size - 1) & -size;
  }
}
