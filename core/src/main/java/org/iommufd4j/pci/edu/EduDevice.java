package org.iommufd4j.pci.edu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.pci.DmaFaultException;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;

/**
 * QEMU's {@code edu} device (1234:11e8, revision 0x10, class 0x00ff): the register behaviour of
 * QEMU's {@code hw/misc/edu.c}, described in its {@code docs/specs/edu.rst}.
 *
 * <p>BAR0 is 1 MiB of 32-bit, non-prefetchable registers. Accesses of 1 or 2 bytes, and unaligned
 * ones, never reach edu in QEMU (its memory core refuses them: {@code edu_mmio_ops} declares 4 to
 * 8-byte aligned accesses valid): they read 0 and writes are dropped. Of the rest, edu itself takes
 * only 4-byte accesses below 0x80 and 4 or 8-byte ones from there; anything else, and any unknown
 * offset, reads as all ones and ignores writes. The 4 KiB buffer at 0x40000 is reachable by the DMA
 * engine only (MMIO reads of it are all ones, as in QEMU).
 *
 * <table>
 * <caption>Registers</caption>
 * <tr><th>offset<th>access<th>meaning
 * <tr><td>0x00<td>RO<td>identification 0x010000ed (version 1.0)
 * <tr><td>0x04<td>RW<td>liveness: reads the bitwise inverse of the last write
 * <tr><td>0x08<td>RW<td>factorial: a write starts computing (ignored while computing); reads
 *     the argument until done, then the factorial in 32-bit arithmetic
 * <tr><td>0x20<td>RW<td>status: 0x01 computing (read-only), 0x80 raise interrupt 0x1 when done
 * <tr><td>0x24<td>RO<td>interrupt status
 * <tr><td>0x60<td>WO<td>interrupt raise: ORs the value into the status and interrupts
 * <tr><td>0x64<td>WO<td>interrupt acknowledge: clears the value's bits
 * <tr><td>0x80, 0x88, 0x90<td>RW<td>DMA source, destination, count (writes ignored while a
 *     transfer runs)
 * <tr><td>0x98<td>RW<td>DMA command: 0x1 start, 0x2 direction (0: to the buffer, 1: from it),
 *     0x4 raise interrupt 0x100 when done; a write without 0x1 is ignored
 * </table>
 *
 * <p>Asynchrony is QEMU's: the factorial completes on the clock as soon as it gets to it (QEMU
 * computes it on a thread of its own), a transfer 100 ms after its start command (QEMU's virtual
 * timer). The bus address of a transfer is masked with the DMA mask (28 bits by default). A
 * transfer whose buffer side leaves the 4 KiB buffer does nothing but complete (QEMU 7.2 aborts the
 * whole VM there, later versions log and copy out of bounds); a transfer the IOMMU refuses is
 * recorded ({@link #dmaFaults}) and completes too: the device carries on, as QEMU's ignores the
 * result of its DMA calls. Interrupts go out as MSI vector 0 when MSI is enabled, else on INTA#.
 *
 * <p>Reset leaves all of this as it is: QEMU's edu registers no reset handler, so only the PCI
 * core's state (config space, the interrupt pin) is reset.
 */
public final class EduDevice implements PciDevice {
  /** QEMU's default {@code dma_mask}: 28 bits, 256 MiB. */
  public static final long DEFAULT_DMA_MASK = (1L << 28) - 1;

  /** Offset of the DMA buffer in the device's address space. */
  public static final long DMA_START = 0x40000;

  /** Size of the DMA buffer. */
  public static final int DMA_SIZE = 4096;

  static final int ID = 0x010000ed;
  static final int STATUS_COMPUTING = 0x01;
  static final int STATUS_IRQFACT = 0x80;
  static final int FACT_IRQ = 0x001;
  static final int DMA_IRQ = 0x100;
  static final long DMA_RUN = 0x1;
  static final long DMA_TO_PCI = 0x2;
  static final long DMA_RAISE_IRQ = 0x4;
  static final long DMA_DELAY_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  private static final int MAX_RECORDED_FAULTS = 64;
  private static final System.Logger LOG = System.getLogger(EduDevice.class.getName());

  private final ConfigSpace config;
  private final Interrupts interrupts;
  private final DmaPort dma;
  private final DeviceClock.Timer factorialDone;
  private final DeviceClock.Timer dmaDone;
  private final long dmaMask;
  private final MemorySegment buffer = Arena.ofAuto().allocate(DMA_SIZE, 8);
  private final List<DmaFaultException> faults = new ArrayList<>();

  private int addr4;
  private int fact;
  private int status;
  private int irqStatus;
  private long dmaSrc;
  private long dmaDst;
  private long dmaCnt;
  private long dmaCmd;

  /** An edu with QEMU's default 28-bit DMA mask. */
  public EduDevice(Ports ports) {
    this(ports, DEFAULT_DMA_MASK);
  }

  /** An edu whose bus addresses are masked with {@code dmaMask} (QEMU's {@code dma_mask}). */
  public EduDevice(Ports ports, long dmaMask) {
    this.interrupts = ports.interrupts();
    this.dma = ports.dma();
    this.dmaMask = dmaMask;
    this.factorialDone = ports.clock().timer(this::computeFactorial);
    this.dmaDone = ports.clock().timer(this::runDma);
    // pci_edu_realize(): INTA#, MSI with 1 vector, 64-bit, no per-vector mask; BAR0 1 MiB.
    // Subsystem 1af4:1100 is what QEMU's PCI core gives devices that set none.
    this.config =
        ConfigSpace.builder(0x1234, 0x11e8)
            .subsystem(0x1af4, 0x1100)
            .classCode(0x00ff00)
            .revision(0x10)
            .interruptPin(1)
            .bar(Bar.memory32(0, 1 << 20))
            .msi(1, true, false)
            .build();
  }

  @Override
  public ConfigSpace configSpace() {
    return config;
  }

  @Override
  public synchronized long read(int bar, long addr, int size) {
    if (!reachesEdu(addr, size)) {
      return 0;
    }
    if (!validSize(addr, size)) {
      return -1L;
    }
    return switch ((int) addr) {
      case 0x00 -> ID;
      case 0x04 -> addr4 & 0xffff_ffffL;
      case 0x08 -> fact & 0xffff_ffffL;
      case 0x20 -> status & 0xffff_ffffL;
      case 0x24 -> irqStatus & 0xffff_ffffL;
      case 0x80 -> dmaSrc;
      case 0x88 -> dmaDst;
      case 0x90 -> dmaCnt;
      case 0x98 -> dmaCmd;
      default -> -1L;
    };
  }

  @Override
  public synchronized void write(int bar, long addr, int size, long val) {
    if (!reachesEdu(addr, size) || !validSize(addr, size)) {
      return;
    }
    switch ((int) addr) {
      case 0x04 -> addr4 = ~(int) val;
      case 0x08 -> {
        if ((status & STATUS_COMPUTING) == 0) {
          fact = (int) val;
          status |= STATUS_COMPUTING;
          factorialDone.arm(0);
        }
      }
      case 0x20 ->
          status = (val & STATUS_IRQFACT) != 0 ? status | STATUS_IRQFACT : status & ~STATUS_IRQFACT;
      case 0x60 -> raiseIrq((int) val);
      case 0x64 -> lowerIrq((int) val);
      case 0x80 -> dmaSrc = idle() ? val : dmaSrc;
      case 0x88 -> dmaDst = idle() ? val : dmaDst;
      case 0x90 -> dmaCnt = idle() ? val : dmaCnt;
      case 0x98 -> {
        if ((val & DMA_RUN) != 0 && idle()) {
          dmaCmd = val;
          dmaDone.arm(DMA_DELAY_NANOS);
        }
      }
      default -> {}
    }
  }

  /** Nothing: QEMU's edu has no reset handler (see the class comment). */
  @Override
  public void reset() {}

  /** The transfers the IOMMU refused, oldest first (the last 64). */
  public synchronized List<DmaFaultException> dmaFaults() {
    return List.copyOf(faults);
  }

  /** A copy of the 4 KiB DMA buffer, which the device's registers cannot show. */
  public synchronized byte[] dmaBuffer() {
    return buffer.toArray(ValueLayout.JAVA_BYTE);
  }

  /**
   * QEMU's memory_region_access_valid() for edu_mmio_ops (4 to 8 bytes, aligned); what fails it is
   * answered by unassigned_mem_read() (0) without calling edu.
   */
  private static boolean reachesEdu(long addr, int size) {
    return size >= 4 && (addr & (size - 1)) == 0;
  }

  /** edu_mmio_read()/write(): 4 bytes below 0x80, 4 or 8 from there (nothing past 0x9f). */
  private static boolean validSize(long addr, int size) {
    if (addr < 0 || addr > 0xff) {
      return false;
    }
    return addr < 0x80 ? size == 4 : size == 4 || size == 8;
  }

  private boolean idle() {
    return (dmaCmd & DMA_RUN) == 0;
  }

  private synchronized void computeFactorial() {
    fact = factorial(fact);
    status &= ~STATUS_COMPUTING;
    if ((status & STATUS_IRQFACT) != 0) {
      raiseIrq(FACT_IRQ);
    }
  }

  /**
   * {@code n!} in unsigned 32-bit arithmetic, as edu's loop computes it. From 34 on the product
   * holds at least 32 factors of two, so it is 0 there; the loop (up to 2^32 steps in QEMU) is not
   * needed to know that.
   */
  static int factorial(int n) {
    if (Integer.compareUnsigned(n, 34) >= 0) {
      return 0;
    }
    int result = 1;
    for (int i = n; i > 0; i--) {
      result *= i;
    }
    return result;
  }

  private synchronized void runDma() {
    if (idle()) {
      return;
    }
    boolean toPci = (dmaCmd & DMA_TO_PCI) != 0;
    long bufferSide = toPci ? dmaSrc : dmaDst;
    long busAddress = (toPci ? dmaDst : dmaSrc) & dmaMask;
    if (insideBuffer(bufferSide, dmaCnt)) {
      MemorySegment slice = buffer.asSlice(bufferSide - DMA_START, dmaCnt);
      try {
        if (toPci) {
          dma.write(busAddress, slice);
        } else {
          dma.read(busAddress, slice);
        }
      } catch (DmaFaultException e) {
        recordFault(e);
      }
    } else {
      LOG.log(
          System.Logger.Level.DEBUG,
          () ->
              "edu: DMA range 0x"
                  + Long.toHexString(bufferSide)
                  + "+0x"
                  + Long.toHexString(dmaCnt)
                  + " outside the buffer, transfer dropped");
    }
    dmaCmd &= ~DMA_RUN;
    if ((dmaCmd & DMA_RAISE_IRQ) != 0) {
      raiseIrq(DMA_IRQ);
    }
  }

  /** edu_check_range(): no wrap-around, and the whole transfer inside the buffer. */
  private static boolean insideBuffer(long start, long count) {
    long end = start + count;
    return Long.compareUnsigned(end, start) >= 0
        && Long.compareUnsigned(start, DMA_START) >= 0
        && Long.compareUnsigned(end, DMA_START + DMA_SIZE) <= 0;
  }

  private void recordFault(DmaFaultException e) {
    LOG.log(System.Logger.Level.DEBUG, () -> "edu: DMA fault " + e.getMessage());
    if (faults.size() == MAX_RECORDED_FAULTS) {
      faults.remove(0);
    }
    faults.add(e);
  }

  private void raiseIrq(int bits) {
    irqStatus |= bits;
    if (irqStatus != 0) {
      if (interrupts.msiEnabled()) {
        interrupts.msi(0);
      } else {
        interrupts.raiseIntx();
      }
    }
  }

  private void lowerIrq(int bits) {
    irqStatus &= ~bits;
    if (irqStatus == 0 && !interrupts.msiEnabled()) {
      interrupts.lowerIntx();
    }
  }
}
