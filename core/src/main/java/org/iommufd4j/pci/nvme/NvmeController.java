package org.iommufd4j.pci.nvme;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.pci.DmaFaultException;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.PlainMemory;

/**
 * An NVMe 1.4 controller with the identity and BAR layout of QEMU 7.2's {@code nvme} device
 * (1b36:0010, class 010802, its default 64 I/O queue pairs and 65 MSI-X vectors).
 *
 * <p>BAR0 (64-bit, 16 KiB) holds the controller registers, the doorbells from 0x1000 (stride 4:
 * CAP.DSTRD is 0), the MSI-X table at 0x2000 and the pending-bit array at 0x3000. Registers have no
 * read side effects and take aligned 4-byte accesses (8-byte ones at CAP, ASQ and ACQ as well);
 * other writes are dropped.
 *
 * <p>The doorbell page is plain memory ({@link Bar#withDoorbells}): a program that maps BAR0 stores
 * its tails and heads straight into memory shared with the model, and the PCI core's poller tells
 * the controller of each change; the register page, the MSI-X table and the PBA stay trapped. A
 * doorbell change only records the new value and arms the clock; the queues are processed on the
 * clock's thread, so an idle controller costs nothing and a program's doorbell write returns at
 * once. A doorbell reads back the last value stored. Enabling the controller and creating a queue
 * zero the doorbells concerned, so the first store to them is seen whatever was there before.
 *
 * <p>All data moves by DMA through the device's port. A fault while moving a command's data
 * completes the command with Data Transfer Error and the controller carries on; a fault while
 * fetching a command or posting a completion leaves no way to report it, so the controller sets
 * CSTS.CFS (fatal) and stops until it is disabled, as QEMU does.
 */
public final class NvmeController implements PciDevice {
  /** I/O queue pairs, QEMU's default {@code max_ioqpairs}. */
  static final int IO_QUEUE_PAIRS = 64;

  /** MSI-X vectors, QEMU's default {@code msix_qsize}. */
  static final int MSIX_VECTORS = IO_QUEUE_PAIRS + 1;

  static final int BAR0_SIZE = 0x4000;
  static final long MSIX_TABLE = 0x2000;
  static final long MSIX_PBA = 0x3000;
  static final int DOORBELLS = 0x1000;

  /** The doorbells' page: 65 queue pairs use 520 bytes of it, the rest are invalid doorbells. */
  static final int DOORBELL_BYTES = 0x1000;

  /** Maximum queue entries supported, 0-based (CAP.MQES), QEMU's. */
  static final int MQES = 0x7ff;

  static final int MPS_MIN = 0;
  static final int MPS_MAX = 4;

  /** Maximum data transfer size: 2^MDTS minimum pages, QEMU's default of 7 (512 KiB). */
  static final int MDTS = 7;

  static final long CAP =
      MQES
          | 1L << 16 // CQR: queues must be physically contiguous
          | 0xfL << 24 // TO: 7.5 s to become ready
          | 1L << 37 // CSS: the NVM command set
          | (long) MPS_MIN << 48
          | (long) MPS_MAX << 52;

  static final int VERSION = 0x0001_0400;

  /** Number of Queues as allocated: always QEMU's maximum, 0-based, for SQs and CQs. */
  static final int NUMBER_OF_QUEUES = (IO_QUEUE_PAIRS - 1) << 16 | (IO_QUEUE_PAIRS - 1);

  // register offsets
  static final int REG_CAP = 0x00;
  static final int REG_VS = 0x08;
  static final int REG_INTMS = 0x0c;
  static final int REG_INTMC = 0x10;
  static final int REG_CC = 0x14;
  static final int REG_CSTS = 0x1c;
  static final int REG_AQA = 0x24;
  static final int REG_ASQ = 0x28;
  static final int REG_ACQ = 0x30;

  static final int CC_EN = 1;
  static final int CSTS_RDY = 1;
  static final int CSTS_CFS = 1 << 1;
  static final int CSTS_SHST_COMPLETE = 2 << 2;

  static final int SQ_ENTRY = 64;
  static final int CQ_ENTRY = 16;

  /** SGL descriptors: 16 bytes, the type in the high nibble of the last byte. */
  static final int SGL_DESCRIPTOR = 16;

  static final int SGL_DATA_BLOCK = 0;
  static final int SGL_SEGMENT = 2;
  static final int SGL_LAST_SEGMENT = 3;

  /** Descriptors one command's SGL may have: a bound on a loop of segments, beyond MDTS's needs. */
  static final int SGL_DESCRIPTOR_LIMIT = 4096;

  /** Temperatures in kelvin, QEMU's: the composite now, the warning and critical thresholds. */
  static final int TEMPERATURE = 0x143;

  static final int TEMPERATURE_WARNING = 0x157;
  static final int TEMPERATURE_CRITICAL = 0x175;

  /** Commands processed in one go before other work on the clock gets its turn. */
  private static final int PASS_BUDGET = 1024;

  /** Held Asynchronous Event Requests (Identify Controller AERL is this minus one). */
  static final int AER_LIMIT = 4;

  /** Entries of the error log (ELPE is this minus one). */
  static final int ERROR_LOG_ENTRIES = 4;

  // NVMe structures are little-endian whatever the host is
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** What a command handler returns for a command it holds (an AER): no completion yet. */
  private static final int HELD = -1;

  // asynchronous event types, info values and the logs that clear them
  static final int EVENT_ERROR = 0;
  static final int EVENT_SMART = 1;
  static final int EVENT_INVALID_DOORBELL = 0x00;
  static final int EVENT_INVALID_DOORBELL_VALUE = 0x01;
  static final int EVENT_TEMPERATURE = 0x01;
  static final int LOG_ERROR = 0x01;
  static final int LOG_SMART = 0x02;
  static final int LOG_FIRMWARE = 0x03;

  // feature identifiers
  static final int FEAT_ARBITRATION = 0x01;
  static final int FEAT_POWER_MANAGEMENT = 0x02;
  static final int FEAT_TEMPERATURE_THRESHOLD = 0x04;
  static final int FEAT_VOLATILE_WRITE_CACHE = 0x06;
  static final int FEAT_NUMBER_OF_QUEUES = 0x07;
  static final int FEAT_INTERRUPT_COALESCING = 0x08;
  static final int FEAT_INTERRUPT_VECTOR_CONFIG = 0x09;
  static final int FEAT_ASYNC_EVENT_CONFIG = 0x0b;

  static final String SERIAL = "iommufd4j-nvme";
  static final String MODEL = "QEMU NVMe Ctrl";
  static final String FIRMWARE = "1.0";

  private final ConfigSpace config;
  private final Interrupts interrupts;
  private final DmaPort dma;
  private final DeviceClock clock;
  private final PlainMemory memory;
  private final DeviceClock.Timer processing;
  private final DeviceClock.Timer coalescing;
  private final List<NvmeNamespace> namespaces;

  // registers
  private int cc;
  private int csts;
  private int intms;
  private int aqa;
  private long asq;
  private long acq;

  private int pageSize = 4096;
  private final SubmissionQueue[] sqs = new SubmissionQueue[IO_QUEUE_PAIRS + 1];
  private final CompletionQueue[] cqs = new CompletionQueue[IO_QUEUE_PAIRS + 1];

  /** Pin-based interrupt status, one bit per vector (what INTMS masks). */
  private int intxStatus;

  /** Per vector, the completions posted since its last interrupt. */
  private final Unsignalled[] unsignalled = new Unsignalled[MSIX_VECTORS];

  private final Deque<Integer> heldAers = new ArrayDeque<>();
  private final Deque<Integer> abortedAers = new ArrayDeque<>();
  private final Deque<Integer> events = new ArrayDeque<>();

  /** Event types reported and not yet cleared by reading their log (bit per type). */
  private int maskedEventTypes;

  private final Features features = new Features();
  private final Smart smart = new Smart();

  /** Per-command result dword 0, set by handlers that return one. */
  private int result;

  /** A controller with one namespace (NSID 1). */
  public NvmeController(Ports ports, NvmeNamespace namespace) {
    this(ports, List.of(namespace));
  }

  /** A controller with {@code namespaces} as NSIDs 1, 2, ... */
  public NvmeController(Ports ports, List<NvmeNamespace> namespaces) {
    if (namespaces.isEmpty()) {
      throw new IllegalArgumentException("an NVMe controller needs a namespace");
    }
    this.namespaces = List.copyOf(namespaces);
    this.interrupts = ports.interrupts();
    this.dma = ports.dma();
    this.clock = ports.clock();
    this.memory = ports.memory();
    this.processing = clock.timer(this::processQueues);
    this.coalescing = clock.timer(this::signalDueCompletions);
    Arrays.setAll(unsignalled, v -> new Unsignalled());
    // QEMU's nvme_init_pci(): subsystem 1af4:1100, revision 2, INTA#, PM, PCIe endpoint with FLR,
    // MSI-X with table and PBA in BAR0.
    this.config =
        ConfigSpace.builder(0x1b36, 0x0010)
            .subsystem(0x1af4, 0x1100)
            .classCode(0x010802)
            .revision(2)
            .interruptPin(1)
            .bar(Bar.memory64(0, BAR0_SIZE, false).withDoorbells(DOORBELLS, DOORBELL_BYTES))
            .powerManagement()
            .pciExpress(true)
            .msix(MSIX_VECTORS, 0, MSIX_TABLE, 0, MSIX_PBA)
            .build();
  }

  @Override
  public ConfigSpace configSpace() {
    return config;
  }

  @Override
  public synchronized long read(int bar, long offset, int size) {
    if (offset >= DOORBELLS) {
      return 0; // the doorbells are plain memory, the MSI-X table the PCI core's
    }
    long v = 0;
    for (int i = 0; i < size; i++) {
      int at = (int) offset + i;
      v |= ((register(at & ~3) >>> (8 * (at & 3))) & 0xffL) << (8 * i);
    }
    return v;
  }

  private int register(int offset) {
    return switch (offset) {
      case REG_CAP -> (int) CAP;
      case REG_CAP + 4 -> (int) (CAP >>> 32);
      case REG_VS -> VERSION;
      case REG_INTMS, REG_INTMC -> intms;
      case REG_CC -> cc;
      case REG_CSTS -> csts;
      case REG_AQA -> aqa;
      case REG_ASQ -> (int) asq;
      case REG_ASQ + 4 -> (int) (asq >>> 32);
      case REG_ACQ -> (int) acq;
      case REG_ACQ + 4 -> (int) (acq >>> 32);
      default -> 0;
    };
  }

  @Override
  public synchronized void write(int bar, long offset, int size, long value) {
    if ((offset & 3) != 0) {
      return;
    }
    if (offset >= DOORBELLS) {
      return;
    }
    if (size == 8 && (offset == REG_ASQ || offset == REG_ACQ)) {
      writeRegister((int) offset, (int) value);
      writeRegister((int) offset + 4, (int) (value >>> 32));
    } else if (size == 4) {
      writeRegister((int) offset, (int) value);
    }
  }

  private void writeRegister(int offset, int value) {
    switch (offset) {
      case REG_INTMS, REG_INTMC -> {
        if (!interrupts.msiEnabled()) { // with MSI-X on, the spec leaves these undefined
          intms = offset == REG_INTMS ? intms | value : intms & ~value;
          updateIntx();
        }
      }
      case REG_CC -> writeCc(value);
      case REG_AQA -> aqa = value & 0x0fff_0fff;
      case REG_ASQ -> asq = asq & 0xffff_ffff_0000_0000L | value & 0xffff_f000L;
      case REG_ASQ + 4 -> asq = asq & 0xffff_ffffL | (long) value << 32;
      case REG_ACQ -> acq = acq & 0xffff_ffff_0000_0000L | value & 0xffff_f000L;
      case REG_ACQ + 4 -> acq = acq & 0xffff_ffffL | (long) value << 32;
      default -> {} // CAP, VS, CSTS are read-only; NSSR is not advertised
    }
  }

  private void writeCc(int value) {
    boolean wasEnabled = (cc & CC_EN) != 0;
    int oldShutdown = (cc >>> 14) & 3;
    cc = value & 0x00ff_fff1;
    if (!wasEnabled && (cc & CC_EN) != 0) {
      start();
    } else if (wasEnabled && (cc & CC_EN) == 0) {
      resetController();
      csts &= ~(CSTS_RDY | CSTS_CFS);
    }
    int shutdown = (cc >>> 14) & 3;
    if (shutdown != 0 && oldShutdown == 0) {
      for (NvmeNamespace ns : namespaces) {
        try {
          ns.flush();
        } catch (IOException e) {
          // a shutdown cannot fail; what was written stays in the page cache
        }
      }
      csts |= CSTS_SHST_COMPLETE;
    } else if (shutdown == 0) {
      csts &= ~(3 << 2);
    }
  }

  /** CC.EN 0 to 1: checks CC and the admin queue registers, then becomes ready (or fatal). */
  private void start() {
    int mps = (cc >>> 7) & 0xf;
    int css = (cc >>> 4) & 7;
    int ams = (cc >>> 11) & 7;
    int asqs = aqa & 0xfff;
    int acqs = (aqa >>> 16) & 0xfff;
    if (mps < MPS_MIN || mps > MPS_MAX || css != 0 || ams != 0 || asqs == 0 || acqs == 0) {
      csts |= CSTS_CFS;
      return;
    }
    pageSize = 4096 << mps;
    memory.clear(0, DOORBELLS, DOORBELL_BYTES);
    cqs[0] = new CompletionQueue(0, acq, acqs + 1, 0, true);
    sqs[0] = new SubmissionQueue(0, asq, asqs + 1, cqs[0]);
    csts |= CSTS_RDY;
  }

  /** A Controller Level Reset: queues, held commands, events and features are gone. */
  private void resetController() {
    processing.cancel();
    coalescing.cancel();
    Arrays.fill(sqs, null);
    Arrays.fill(cqs, null);
    heldAers.clear();
    abortedAers.clear();
    events.clear();
    maskedEventTypes = 0;
    features.reset();
    for (Unsignalled u : unsignalled) {
      u.clear();
    }
    intxStatus = 0;
    updateIntx();
  }

  @Override
  public synchronized void reset() {
    resetController();
    cc = 0;
    csts = 0;
    intms = 0;
    aqa = 0;
    asq = 0;
    acq = 0;
  }

  /** The namespaces, NSID 1 first. */
  public List<NvmeNamespace> namespaces() {
    return namespaces;
  }

  private boolean ready() {
    return (csts & (CSTS_RDY | CSTS_CFS)) == CSTS_RDY;
  }

  @Override
  public synchronized void doorbell(int bar, long offset, int value) {
    ring((int) (offset - DOORBELLS) / 4, value);
  }

  private void ring(int index, int value) {
    if (!ready()) {
      return;
    }
    int qid = index / 2;
    boolean completion = (index & 1) != 0;
    Queue q = qid > IO_QUEUE_PAIRS ? null : completion ? cqs[qid] : sqs[qid];
    if (q == null) {
      raiseEvent(EVENT_ERROR, EVENT_INVALID_DOORBELL, LOG_ERROR);
      return;
    }
    if (Integer.compareUnsigned(value, q.size) >= 0) {
      raiseEvent(EVENT_ERROR, EVENT_INVALID_DOORBELL_VALUE, LOG_ERROR);
      return;
    }
    if (completion) {
      CompletionQueue cq = (CompletionQueue) q;
      cq.head = value;
      if (cq.head == cq.tail) {
        clearIntx(cq.vector);
      }
    } else {
      ((SubmissionQueue) q).tail = value;
    }
    processing.arm(0);
  }

  // ---- queue processing, on the clock's thread

  private synchronized void processQueues() {
    int budget = PASS_BUDGET;
    boolean progress = true;
    while (ready() && progress && budget > 0) {
      progress = false;
      for (SubmissionQueue sq : sqs) { // round robin: one command per queue per turn
        if (sq != null && sq.head != sq.tail && !sq.cq.full() && ready()) {
          runOne(sq);
          progress = true;
          budget--;
        }
      }
    }
    deliverEvents();
    signalDueCompletions();
    if (budget == 0) {
      processing.arm(0);
    }
  }

  private void runOne(SubmissionQueue sq) {
    MemorySegment command = MemorySegment.ofArray(new byte[SQ_ENTRY]);
    try {
      dma.read(sq.base + (long) sq.head * SQ_ENTRY, command);
    } catch (DmaFaultException e) {
      csts |= CSTS_CFS;
      return;
    }
    sq.head = (sq.head + 1) % sq.size;
    Command c = new Command(command);
    result = 0;
    int status;
    try {
      status =
          c.fused() != 0 || !dataPointerSupported(sq, c) ? Status.INVALID_FIELD : execute(sq, c);
    } catch (Failure f) {
      status = f.status;
    } catch (DmaFaultException e) {
      status = Status.DATA_TRANSFER_ERROR;
    }
    if (status != HELD) {
      post(sq.cq, result, sq, c.cid(), status);
    }
  }

  private int execute(SubmissionQueue sq, Command c) {
    return sq.id == 0 ? admin(c) : io(c);
  }

  private void post(CompletionQueue cq, int dw0, SubmissionQueue sq, int cid, int status) {
    MemorySegment entry = MemorySegment.ofArray(new byte[CQ_ENTRY]);
    entry.set(U32, 0, dw0);
    entry.set(U32, 8, sq.head | sq.id << 16);
    entry.set(U32, 12, cid | (cq.phase ? 1 << 16 : 0) | status << 17);
    try {
      dma.write(cq.base + (long) cq.tail * CQ_ENTRY, entry);
    } catch (DmaFaultException e) {
      csts |= CSTS_CFS;
      return;
    }
    cq.tail = (cq.tail + 1) % cq.size;
    if (cq.tail == 0) {
      cq.phase = !cq.phase;
    }
    if (cq.interrupts) {
      Unsignalled u = unsignalled[cq.vector];
      if (u.entries++ == 0) {
        u.since = clock.nanoTime();
      }
      u.admin |= cq.id == 0;
    }
  }

  /**
   * Interrupts the vectors whose unsignalled completions are due, as Interrupt Coalescing (feature
   * 08h) has it, per vector: at once if an admin completion waits (the admin queue is not
   * coalesced) or the vector's Interrupt Vector Configuration sets Coalescing Disable, else once
   * more entries than the aggregation threshold wait or the oldest has waited the aggregation time
   * (100 µs units); the timer comes back for the rest. The defaults (0, 0) interrupt at the end of
   * every batch.
   */
  private synchronized void signalDueCompletions() {
    long now = clock.nanoTime();
    long next = Long.MAX_VALUE;
    for (int vector = 0; vector < MSIX_VECTORS; vector++) {
      Unsignalled u = unsignalled[vector];
      if (u.entries == 0) {
        continue;
      }
      boolean coalesced = !u.admin && !features.coalescingDisabled[vector];
      int threshold = coalesced ? features.coalescing & 0xff : 0;
      long due = u.since + (coalesced ? (features.coalescing >>> 8 & 0xff) * 100_000L : 0);
      if (u.entries > threshold || now - due >= 0) {
        u.clear();
        signal(vector);
      } else {
        next = Math.min(next, due);
      }
    }
    if (next != Long.MAX_VALUE) {
      coalescing.arm(next - now);
    }
  }

  private void signal(int vector) {
    if (interrupts.msiEnabled()) {
      interrupts.msi(vector);
    } else {
      intxStatus |= 1 << (vector & 31);
      updateIntx();
    }
  }

  /** Clears a vector's pin-based status once none of its queues has unconsumed entries. */
  private void clearIntx(int vector) {
    for (CompletionQueue cq : cqs) {
      if (cq != null && cq.vector == vector && cq.head != cq.tail) {
        return;
      }
    }
    intxStatus &= ~(1 << (vector & 31));
    updateIntx();
  }

  private void updateIntx() {
    if (interrupts.msiEnabled()) {
      return;
    }
    if ((intxStatus & ~intms) != 0) {
      interrupts.raiseIntx();
    } else {
      interrupts.lowerIntx();
    }
  }

  private void raiseEvent(int type, int info, int log) {
    if ((maskedEventTypes & 1 << type) != 0) {
      return; // the host has not read the log of the last one yet
    }
    maskedEventTypes |= 1 << type;
    events.add(type | info << 8 | log << 16);
    processing.arm(0);
  }

  private void deliverEvents() {
    CompletionQueue admin = cqs[0];
    while (ready() && !abortedAers.isEmpty() && !admin.full()) {
      post(admin, 0, sqs[0], abortedAers.poll(), Status.ABORTED_BY_REQUEST);
    }
    while (ready() && !heldAers.isEmpty() && !events.isEmpty() && !admin.full()) {
      post(admin, events.poll(), sqs[0], heldAers.poll(), Status.SUCCESS);
    }
  }

  // ---- admin commands

  private int admin(Command c) {
    return switch (c.opcode()) {
      case 0x00 -> deleteSq(c);
      case 0x01 -> createSq(c);
      case 0x02 -> getLogPage(c);
      case 0x04 -> deleteCq(c);
      case 0x05 -> createCq(c);
      case 0x06 -> identify(c);
      case 0x08 -> abort(c);
      case 0x09 -> setFeatures(c);
      case 0x0a -> getFeatures(c);
      case 0x0c -> asyncEventRequest(c);
      default -> Status.INVALID_OPCODE;
    };
  }

  private int createCq(Command c) {
    int qid = c.dw(10) & 0xffff;
    int size = (c.dw(10) >>> 16) + 1;
    int flags = c.dw(11) & 0xffff;
    int vector = c.dw(11) >>> 16;
    if (qid == 0 || qid > IO_QUEUE_PAIRS || cqs[qid] != null) {
      return Status.INVALID_QUEUE_ID;
    }
    if (size == 1 || size > MQES + 1) {
      return Status.INVALID_QUEUE_SIZE;
    }
    if ((c.prp1() & (pageSize - 1)) != 0) {
      return Status.PRP_OFFSET_INVALID;
    }
    if (vector >= MSIX_VECTORS || (vector != 0 && !interrupts.msiEnabled())) {
      return Status.INVALID_INTERRUPT_VECTOR;
    }
    if ((flags & 1) == 0) {
      return Status.INVALID_FIELD; // CAP.CQR: only physically contiguous queues
    }
    memory.clear(0, DOORBELLS + 8L * qid + 4, 4);
    cqs[qid] = new CompletionQueue(qid, c.prp1(), size, vector, (flags & 2) != 0);
    return Status.SUCCESS;
  }

  private int createSq(Command c) {
    int qid = c.dw(10) & 0xffff;
    int size = (c.dw(10) >>> 16) + 1;
    int flags = c.dw(11) & 0xffff;
    int cqid = c.dw(11) >>> 16;
    if (cqid == 0 || cqid > IO_QUEUE_PAIRS || cqs[cqid] == null) {
      return Status.INVALID_CQ;
    }
    if (qid == 0 || qid > IO_QUEUE_PAIRS || sqs[qid] != null) {
      return Status.INVALID_QUEUE_ID;
    }
    if (size == 1 || size > MQES + 1) {
      return Status.INVALID_QUEUE_SIZE;
    }
    if ((c.prp1() & (pageSize - 1)) != 0) {
      return Status.PRP_OFFSET_INVALID;
    }
    if ((flags & 1) == 0) {
      return Status.INVALID_FIELD;
    }
    memory.clear(0, DOORBELLS + 8L * qid, 4);
    sqs[qid] = new SubmissionQueue(qid, c.prp1(), size, cqs[cqid]);
    cqs[cqid].submissionQueues++;
    return Status.SUCCESS;
  }

  private int deleteSq(Command c) {
    int qid = c.dw(10) & 0xffff;
    if (qid == 0 || qid > IO_QUEUE_PAIRS || sqs[qid] == null) {
      return Status.INVALID_QUEUE_ID;
    }
    // commands are executed as they are fetched, so none of this queue is in flight
    sqs[qid].cq.submissionQueues--;
    sqs[qid] = null;
    return Status.SUCCESS;
  }

  private int deleteCq(Command c) {
    int qid = c.dw(10) & 0xffff;
    if (qid == 0 || qid > IO_QUEUE_PAIRS || cqs[qid] == null) {
      return Status.INVALID_QUEUE_ID;
    }
    if (cqs[qid].submissionQueues > 0) {
      return Status.INVALID_QUEUE_DELETION;
    }
    int vector = cqs[qid].vector;
    cqs[qid] = null;
    clearIntx(vector);
    return Status.SUCCESS;
  }

  private int identify(Command c) {
    int cns = c.dw(10) & 0xff;
    int nsid = c.nsid();
    MemorySegment data = MemorySegment.ofArray(new byte[4096]);
    switch (cns) {
      case 0x00 -> {
        if (!nsidValid(nsid)) {
          return Status.INVALID_NAMESPACE;
        }
        identifyNamespace(data, namespaces.get(nsid - 1));
      }
      case 0x01 -> identifyController(data);
      case 0x02 -> {
        if (nsid == 0xffff_fffe || nsid == 0xffff_ffff) {
          return Status.INVALID_NAMESPACE;
        }
        int at = 0;
        for (int id = 1; id <= namespaces.size(); id++) {
          if (Integer.compareUnsigned(id, nsid) > 0) {
            data.set(U32, at, id);
            at += 4;
          }
        }
      }
      case 0x03 -> {
        if (!nsidValid(nsid)) {
          return Status.INVALID_NAMESPACE;
        }
        // a UUID (type 3) and the command set identifier (type 4: NVM)
        data.set(JAVA_BYTE, 0, (byte) 3);
        data.set(JAVA_BYTE, 1, (byte) 16);
        long uuidHigh = 0x494f_4d4d_5546_4434L; // "IOMMUFD4" in ASCII, then a version 4 UUID
        data.set(U64, 4, Long.reverseBytes(uuidHigh & ~0xf000L | 0x4000L));
        data.set(U64, 12, Long.reverseBytes(0x8000_0000_0000_0000L | nsid));
        data.set(JAVA_BYTE, 20, (byte) 4);
        data.set(JAVA_BYTE, 21, (byte) 1);
      }
      default -> {
        return Status.INVALID_FIELD;
      }
    }
    toHost(c, data);
    return Status.SUCCESS;
  }

  private boolean nsidValid(int nsid) {
    return nsid >= 1 && nsid <= namespaces.size();
  }

  private void identifyController(MemorySegment d) {
    d.set(U16, 0, (short) 0x1b36); // VID
    d.set(U16, 2, (short) 0x1af4); // SSVID
    ascii(d, 4, 20, SERIAL);
    ascii(d, 24, 40, MODEL);
    ascii(d, 64, 8, FIRMWARE);
    d.set(JAVA_BYTE, 72, (byte) 6); // RAB
    d.set(JAVA_BYTE, 74, (byte) 0x54); // IEEE OUI 52:54:00, least significant byte first
    d.set(JAVA_BYTE, 75, (byte) 0x52);
    d.set(JAVA_BYTE, 77, (byte) MDTS);
    d.set(U32, 80, VERSION);
    d.set(JAVA_BYTE, 111, (byte) 1); // CNTRLTYPE: I/O controller
    d.set(JAVA_BYTE, 258, (byte) 3); // ACL: 4 Aborts
    d.set(JAVA_BYTE, 259, (byte) (AER_LIMIT - 1)); // AERL
    d.set(JAVA_BYTE, 260, (byte) 0x03); // FRMW: one slot, slot 1 read-only
    d.set(JAVA_BYTE, 261, (byte) 0x04); // LPA: extended data (NUMDU, offsets)
    d.set(JAVA_BYTE, 262, (byte) (ERROR_LOG_ENTRIES - 1)); // ELPE
    d.set(U16, 266, (short) TEMPERATURE_WARNING); // WCTEMP
    d.set(U16, 268, (short) TEMPERATURE_CRITICAL); // CCTEMP
    d.set(JAVA_BYTE, 512, (byte) 0x66); // SQES: 64 bytes
    d.set(JAVA_BYTE, 513, (byte) 0x44); // CQES: 16 bytes
    d.set(U32, 516, namespaces.size()); // NN
    d.set(U16, 520, (short) 0x1c); // ONCS: DSM, Write Zeroes, Save/Select
    d.set(JAVA_BYTE, 525, (byte) 1); // VWC present
    d.set(U32, 536, 1); // SGLS: SGLs for NVM commands, no alignment needed
    // SUBNQN is a NUL-terminated string, not space-padded: Linux rejects one without a NUL
    byte[] subnqn = ("nqn.2019-08.org.qemu:" + SERIAL).getBytes(StandardCharsets.US_ASCII);
    MemorySegment.copy(subnqn, 0, d, JAVA_BYTE, 768, subnqn.length);
    d.set(U16, 2048, (short) 0x9c4); // PSD0: 25 W
    d.set(U32, 2052, 0x10); // ENLAT
    d.set(U32, 2056, 0x4); // EXLAT
  }

  private static void identifyNamespace(MemorySegment d, NvmeNamespace ns) {
    d.set(U64, 0, ns.blocks()); // NSZE
    d.set(U64, 8, ns.blocks()); // NCAP
    d.set(U64, 16, ns.blocks()); // NUSE
    d.set(JAVA_BYTE, 33, (byte) 0x09); // DLFEAT: deallocated blocks read as zeroes
    d.set(U32, 128, 9 << 16); // LBAF0: 512-byte blocks, no metadata
  }

  private static void ascii(MemorySegment d, int offset, int length, String text) {
    byte[] b = text.getBytes(StandardCharsets.US_ASCII);
    for (int i = 0; i < length; i++) {
      d.set(JAVA_BYTE, offset + i, i < b.length ? b[i] : (byte) ' ');
    }
  }

  private int getLogPage(Command c) {
    int lid = c.dw(10) & 0xff;
    boolean retainEvent = (c.dw(10) & 1 << 15) != 0;
    long dwords = ((c.dw(11) & 0xffffL) << 16 | (c.dw(10) >>> 16)) + 1;
    long offset = (c.dw(12) & 0xffff_ffffL) | (long) c.dw(13) << 32;
    MemorySegment log;
    switch (lid) {
      case LOG_ERROR -> log = MemorySegment.ofArray(new byte[ERROR_LOG_ENTRIES * 64]);
      case LOG_SMART -> log = smart.log(features.criticalWarning());
      case LOG_FIRMWARE -> {
        log = MemorySegment.ofArray(new byte[512]);
        log.set(JAVA_BYTE, 0, (byte) 1); // AFI: slot 1 active
        ascii(log, 8, 8, FIRMWARE);
      }
      default -> {
        return Status.INVALID_LOG_PAGE;
      }
    }
    if ((offset & 3) != 0 || Long.compareUnsigned(offset, log.byteSize()) > 0) {
      return Status.INVALID_FIELD;
    }
    long length = dwords * 4;
    if (length > maxTransfer()) {
      return Status.INVALID_FIELD;
    }
    MemorySegment data = MemorySegment.ofArray(new byte[(int) length]);
    MemorySegment.copy(log, offset, data, 0, Math.min(length, log.byteSize() - offset));
    toHost(c, data);
    if (!retainEvent) {
      maskedEventTypes &= ~(1 << (lid == LOG_ERROR ? EVENT_ERROR : EVENT_SMART));
      if (lid == LOG_SMART) {
        checkTemperature(); // a condition that persists is reported again
      }
    }
    return Status.SUCCESS;
  }

  private int abort(Command c) {
    int sqid = c.dw(10) & 0xffff;
    int cid = c.dw(10) >>> 16;
    if (sqid == 0 && heldAers.removeFirstOccurrence(cid)) {
      abortedAers.add(cid); // completed after this Abort, when the admin queue has room
      return Status.SUCCESS;
    }
    result = 1; // not aborted: every other command has completed by the time this one runs
    return Status.SUCCESS;
  }

  private int asyncEventRequest(Command c) {
    if (heldAers.size() == AER_LIMIT) {
      return Status.AER_LIMIT_EXCEEDED;
    }
    heldAers.add(c.cid());
    return HELD;
  }

  private int setFeatures(Command c) {
    int fid = c.dw(10) & 0xff;
    boolean save = (c.dw(10) & 1 << 31) != 0;
    int value = c.dw(11);
    if (save) {
      return Status.FEATURE_NOT_SAVEABLE;
    }
    switch (fid) {
      case FEAT_ARBITRATION -> features.arbitration = value;
      case FEAT_POWER_MANAGEMENT -> {
        if ((value & 0x1f) != 0) {
          return Status.INVALID_FIELD; // power state 0 is the only one (NPSS is 0)
        }
        features.powerManagement = value & 0xff;
      }
      case FEAT_TEMPERATURE_THRESHOLD -> {
        int threshold = value & 0xffff;
        int sensor = (value >>> 16) & 0xf;
        int type = (value >>> 20) & 3;
        if (sensor != 0 || type > 1) {
          return Status.INVALID_FIELD; // only the composite temperature
        }
        if (type == 0) {
          features.overThreshold = threshold;
        } else {
          features.underThreshold = threshold;
        }
        checkTemperature();
      }
      case FEAT_VOLATILE_WRITE_CACHE -> features.writeCache = value & 1;
      case FEAT_NUMBER_OF_QUEUES -> {
        if ((value & 0xffff) == 0xffff || value >>> 16 == 0xffff) {
          return Status.INVALID_FIELD;
        }
        for (int q = 1; q <= IO_QUEUE_PAIRS; q++) {
          if (sqs[q] != null || cqs[q] != null) {
            return Status.COMMAND_SEQUENCE_ERROR;
          }
        }
        result = NUMBER_OF_QUEUES;
      }
      case FEAT_INTERRUPT_COALESCING -> features.coalescing = value & 0xffff;
      case FEAT_INTERRUPT_VECTOR_CONFIG -> {
        int vector = value & 0xffff;
        if (vector >= MSIX_VECTORS) {
          return Status.INVALID_FIELD;
        }
        features.coalescingDisabled[vector] = (value & 1 << 16) != 0;
      }
      case FEAT_ASYNC_EVENT_CONFIG -> {
        features.asyncEvents = value & 0x1ff;
        checkTemperature();
      }
      default -> {
        return Status.INVALID_FIELD;
      }
    }
    return Status.SUCCESS;
  }

  private int getFeatures(Command c) {
    int fid = c.dw(10) & 0xff;
    int select = (c.dw(10) >>> 8) & 7;
    if (select > 3) {
      return Status.INVALID_FIELD;
    }
    if (select == 3) { // supported capabilities: changeable, not saveable, not per namespace
      if (!Features.known(fid)) {
        return Status.INVALID_FIELD;
      }
      result = 0x4;
      return Status.SUCCESS;
    }
    // nothing is saveable, so saved values are the defaults
    Features f = select == 0 ? features : new Features();
    switch (fid) {
      case FEAT_ARBITRATION -> result = f.arbitration;
      case FEAT_POWER_MANAGEMENT -> result = f.powerManagement;
      case FEAT_TEMPERATURE_THRESHOLD -> {
        int sensor = (c.dw(11) >>> 16) & 0xf;
        int type = (c.dw(11) >>> 20) & 3;
        if (sensor != 0 || type > 1) {
          return Status.INVALID_FIELD;
        }
        result = type == 0 ? f.overThreshold : f.underThreshold;
      }
      case FEAT_VOLATILE_WRITE_CACHE -> result = f.writeCache;
      case FEAT_NUMBER_OF_QUEUES -> result = NUMBER_OF_QUEUES;
      case FEAT_INTERRUPT_COALESCING -> result = f.coalescing;
      case FEAT_INTERRUPT_VECTOR_CONFIG -> {
        int vector = c.dw(11) & 0xffff;
        if (vector >= MSIX_VECTORS) {
          return Status.INVALID_FIELD;
        }
        result = vector | (f.coalescingDisabled[vector] ? 1 << 16 : 0);
      }
      case FEAT_ASYNC_EVENT_CONFIG -> result = f.asyncEvents;
      default -> {
        return Status.INVALID_FIELD;
      }
    }
    return Status.SUCCESS;
  }

  /** A temperature outside the thresholds is a SMART critical warning, reported if enabled. */
  private void checkTemperature() {
    if ((features.criticalWarning() & features.asyncEvents & 0x02) != 0) {
      raiseEvent(EVENT_SMART, EVENT_TEMPERATURE, LOG_SMART);
    }
  }

  // ---- NVM commands

  private int io(Command c) {
    int opcode = c.opcode();
    if (opcode != 0x00 && opcode != 0x01 && opcode != 0x02 && opcode != 0x08 && opcode != 0x09) {
      return Status.INVALID_OPCODE;
    }
    if (opcode == 0x00 && c.nsid() == 0xffff_ffff) {
      return flush(namespaces);
    }
    if (!nsidValid(c.nsid())) {
      return Status.INVALID_NAMESPACE;
    }
    NvmeNamespace ns = namespaces.get(c.nsid() - 1);
    return switch (opcode) {
      case 0x00 -> flush(List.of(ns));
      case 0x01, 0x02 -> readWrite(c, ns, opcode == 0x01);
      case 0x08 -> writeZeroes(c, ns);
      default -> datasetManagement(c, ns);
    };
  }

  private static int flush(List<NvmeNamespace> which) {
    try {
      for (NvmeNamespace ns : which) {
        ns.flush();
      }
      return Status.SUCCESS;
    } catch (IOException e) {
      return Status.WRITE_FAULT;
    }
  }

  private int readWrite(Command c, NvmeNamespace ns, boolean write) {
    long slba = c.slba();
    long blocks = (c.dw(12) & 0xffff) + 1L;
    if ((c.dw(12) >>> 26 & 0xf) != 0) {
      return Status.INVALID_FIELD; // PRINFO without end-to-end protection
    }
    long length = blocks * NvmeNamespace.BLOCK_SIZE;
    if (length > maxTransfer()) {
      return Status.INVALID_FIELD;
    }
    if (!inRange(ns, slba, blocks)) {
      return Status.LBA_OUT_OF_RANGE;
    }
    MemorySegment data = MemorySegment.ofArray(new byte[(int) length]);
    long offset = slba * NvmeNamespace.BLOCK_SIZE;
    if (write) {
      fromHost(c, data);
      try {
        ns.write(offset, data);
      } catch (IOException e) {
        return Status.WRITE_FAULT;
      }
      smart.written(blocks);
    } else {
      try {
        ns.read(offset, data);
      } catch (IOException e) {
        return Status.UNRECOVERED_READ_ERROR;
      }
      toHost(c, data);
      smart.read(blocks);
    }
    return Status.SUCCESS;
  }

  private int writeZeroes(Command c, NvmeNamespace ns) {
    long slba = c.slba();
    long blocks = (c.dw(12) & 0xffff) + 1L;
    if (!inRange(ns, slba, blocks)) {
      return Status.LBA_OUT_OF_RANGE;
    }
    try {
      ns.zero(slba * NvmeNamespace.BLOCK_SIZE, blocks * NvmeNamespace.BLOCK_SIZE);
    } catch (IOException e) {
      return Status.WRITE_FAULT;
    }
    return Status.SUCCESS;
  }

  private int datasetManagement(Command c, NvmeNamespace ns) {
    int ranges = (c.dw(10) & 0xff) + 1;
    boolean deallocate = (c.dw(11) & 4) != 0;
    if (!deallocate) {
      return Status.SUCCESS; // attributes are hints
    }
    MemorySegment list = MemorySegment.ofArray(new byte[ranges * 16]);
    fromHost(c, list);
    for (int i = 0; i < ranges; i++) {
      long blocks = list.get(U32, i * 16 + 4) & 0xffff_ffffL;
      long slba = list.get(U64, i * 16 + 8);
      if (!inRange(ns, slba, blocks)) {
        return Status.LBA_OUT_OF_RANGE;
      }
    }
    for (int i = 0; i < ranges; i++) {
      long blocks = list.get(U32, i * 16 + 4) & 0xffff_ffffL;
      long slba = list.get(U64, i * 16 + 8);
      try {
        ns.zero(slba * NvmeNamespace.BLOCK_SIZE, blocks * NvmeNamespace.BLOCK_SIZE);
      } catch (IOException e) {
        return Status.WRITE_FAULT;
      }
    }
    return Status.SUCCESS;
  }

  private static boolean inRange(NvmeNamespace ns, long slba, long blocks) {
    return slba >= 0 && slba <= ns.blocks() && blocks <= ns.blocks() - slba;
  }

  private long maxTransfer() {
    return (1L << MDTS) * (4096L << MPS_MIN);
  }

  // ---- data transfer through PRPs

  private void toHost(Command c, MemorySegment data) {
    long at = 0;
    for (long[] chunk : dataChunks(c, data.byteSize())) {
      dma.write(chunk[0], data.asSlice(at, chunk[1]));
      at += chunk[1];
    }
  }

  private void fromHost(Command c, MemorySegment data) {
    long at = 0;
    for (long[] chunk : dataChunks(c, data.byteSize())) {
      dma.read(chunk[0], data.asSlice(at, chunk[1]));
      at += chunk[1];
    }
  }

  /**
   * Whether the command's PSDT names a data pointer this controller takes: PRPs always, an SGL
   * (PSDT 01b) for NVM commands; admin commands over PCIe use PRPs only, and PSDT 10b (an SGL for
   * metadata too) is not supported (SGLS bit 19 clear).
   */
  private static boolean dataPointerSupported(SubmissionQueue sq, Command c) {
    return c.psdt() == 0 || c.psdt() == 1 && sq.id != 0;
  }

  private List<long[]> dataChunks(Command c, long length) {
    return c.psdt() == 0 ? prpChunks(c.prp1(), c.prp2(), length) : sglChunks(c, length);
  }

  /**
   * The pieces of a transfer of {@code length} bytes described by the SGL whose first descriptor is
   * the command's SGL1 (NVMe 1.4, 4.4): Data Block descriptors, and Segment and Last Segment
   * descriptors naming the next list of descriptors (a Segment's last descriptor leads on, a Last
   * Segment's list holds data only). As SGLS 01b says: no alignment asked, no Bit Bucket, Keyed or
   * offset descriptors, and the SGL describes exactly the transfer.
   */
  private List<long[]> sglChunks(Command c, long length) {
    List<long[]> chunks = new ArrayList<>();
    MemorySegment list = c.bytes().asSlice(24, SGL_DESCRIPTOR);
    boolean inLastSegment = false;
    long left = length;
    int descriptors = 0;
    while (list != null) {
      MemorySegment next = null;
      int count = (int) (list.byteSize() / SGL_DESCRIPTOR);
      for (int i = 0; i < count; i++) {
        if (++descriptors > SGL_DESCRIPTOR_LIMIT) {
          throw new Failure(Status.INVALID_NUMBER_OF_SGL_DESCRIPTORS);
        }
        long at = (long) i * SGL_DESCRIPTOR;
        long address = list.get(U64, at);
        long size = list.get(U32, at + 8) & 0xffff_ffffL;
        int identifier = list.get(JAVA_BYTE, at + 15) & 0xff;
        int type = identifier >>> 4;
        if ((identifier & 0xf) != 0) {
          throw new Failure(Status.SGL_DESCRIPTOR_TYPE_INVALID); // only the address subtype
        }
        if (type == SGL_DATA_BLOCK) {
          if (size > left) {
            throw new Failure(Status.DATA_SGL_LENGTH_INVALID);
          }
          if (size > 0) {
            chunks.add(new long[] {address, size});
            left -= size;
          }
        } else if (type == SGL_SEGMENT || type == SGL_LAST_SEGMENT) {
          if (i != count - 1 || inLastSegment || size == 0 || size % SGL_DESCRIPTOR != 0) {
            throw new Failure(Status.INVALID_SGL_SEGMENT_DESCRIPTOR);
          }
          if (size / SGL_DESCRIPTOR > SGL_DESCRIPTOR_LIMIT - descriptors) {
            throw new Failure(Status.INVALID_NUMBER_OF_SGL_DESCRIPTORS);
          }
          next = MemorySegment.ofArray(new byte[(int) size]);
          dma.read(address, next);
          inLastSegment = type == SGL_LAST_SEGMENT;
        } else {
          throw new Failure(Status.SGL_DESCRIPTOR_TYPE_INVALID);
        }
      }
      list = next;
    }
    if (left != 0) {
      throw new Failure(Status.DATA_SGL_LENGTH_INVALID);
    }
    return chunks;
  }

  /**
   * The (bus address, length) pieces of a transfer of {@code length} bytes described by PRP1 and
   * PRP2: PRP1 may start inside a page, PRP2 is the second page or, for more than two pages, a PRP
   * list whose last entry of each list page points to the next list page.
   */
  private List<long[]> prpChunks(long prp1, long prp2, long length) {
    long mask = pageSize - 1;
    if ((prp1 & 3) != 0) {
      throw new Failure(Status.PRP_OFFSET_INVALID);
    }
    List<long[]> chunks = new ArrayList<>();
    long first = Math.min(length, pageSize - (prp1 & mask));
    chunks.add(new long[] {prp1, first});
    long left = length - first;
    if (left == 0) {
      return chunks;
    }
    if (left <= pageSize) {
      if ((prp2 & mask) != 0) {
        throw new Failure(Status.PRP_OFFSET_INVALID);
      }
      chunks.add(new long[] {prp2, left});
      return chunks;
    }
    if ((prp2 & 7) != 0) {
      throw new Failure(Status.PRP_OFFSET_INVALID);
    }
    long list = prp2;
    while (left > 0) {
      int slots = (int) ((pageSize - (list & mask)) / 8);
      long pages = (left + mask) / pageSize;
      int entries = (int) Math.min(pages, slots);
      MemorySegment page = MemorySegment.ofArray(new byte[entries * 8]);
      dma.read(list, page);
      int dataEntries = pages <= slots ? entries : entries - 1;
      for (int i = 0; i < dataEntries; i++) {
        long entry = page.get(U64, i * 8L);
        if ((entry & mask) != 0) {
          throw new Failure(Status.PRP_OFFSET_INVALID);
        }
        long piece = Math.min(left, pageSize);
        chunks.add(new long[] {entry, piece});
        left -= piece;
      }
      if (left > 0) {
        list = page.get(U64, (entries - 1) * 8L);
        if ((list & mask) != 0) {
          throw new Failure(Status.PRP_OFFSET_INVALID);
        }
      }
    }
    return chunks;
  }

  // ---- state

  /** A command that ends with a status other than success, thrown from deep in its handling. */
  private static final class Failure extends RuntimeException {
    final int status;

    Failure(int status) {
      super(null, null, false, false);
      this.status = status;
    }
  }

  /** A 64-byte submission queue entry. */
  private record Command(MemorySegment bytes) {
    int dw(int index) {
      return bytes.get(U32, index * 4L);
    }

    int opcode() {
      return dw(0) & 0xff;
    }

    int fused() {
      return (dw(0) >>> 8) & 3;
    }

    int psdt() {
      return (dw(0) >>> 14) & 3;
    }

    int cid() {
      return dw(0) >>> 16;
    }

    int nsid() {
      return dw(1);
    }

    long prp1() {
      return bytes.get(U64, 24);
    }

    long prp2() {
      return bytes.get(U64, 32);
    }

    long slba() {
      return bytes.get(U64, 40);
    }
  }

  private abstract static class Queue {
    final int id;
    final long base;
    final int size;

    Queue(int id, long base, int size) {
      this.id = id;
      this.base = base;
      this.size = size;
    }
  }

  private static final class SubmissionQueue extends Queue {
    final CompletionQueue cq;
    int head;
    int tail;

    SubmissionQueue(int id, long base, int size, CompletionQueue cq) {
      super(id, base, size);
      this.cq = cq;
    }
  }

  private static final class CompletionQueue extends Queue {
    final int vector;
    final boolean interrupts;
    int head;
    int tail;
    boolean phase = true;
    int submissionQueues;

    CompletionQueue(int id, long base, int size, int vector, boolean interrupts) {
      super(id, base, size);
      this.vector = vector;
      this.interrupts = interrupts;
    }

    /** Full when one more entry would make the tail meet the head. */
    boolean full() {
      return (tail + 1) % size == head;
    }
  }

  /** Completions waiting for their vector's interrupt: how many, since when, any admin one. */
  private static final class Unsignalled {
    int entries;
    long since;
    boolean admin;

    void clear() {
      entries = 0;
      admin = false;
    }
  }

  /** The values Set Features changes, at their defaults. */
  private static final class Features {
    int arbitration;
    int powerManagement;
    int overThreshold;
    int underThreshold;
    int writeCache;
    int coalescing;
    boolean[] coalescingDisabled;
    int asyncEvents;

    Features() {
      reset();
    }

    void reset() {
      arbitration = 0;
      powerManagement = 0;
      overThreshold = TEMPERATURE_WARNING;
      underThreshold = 0;
      writeCache = 0;
      coalescing = 0;
      coalescingDisabled = new boolean[MSIX_VECTORS];
      asyncEvents = 0;
    }

    int criticalWarning() {
      return TEMPERATURE >= overThreshold || TEMPERATURE <= underThreshold ? 0x02 : 0;
    }

    static boolean known(int fid) {
      return switch (fid) {
        case FEAT_ARBITRATION,
            FEAT_POWER_MANAGEMENT,
            FEAT_TEMPERATURE_THRESHOLD,
            FEAT_VOLATILE_WRITE_CACHE,
            FEAT_NUMBER_OF_QUEUES,
            FEAT_INTERRUPT_COALESCING,
            FEAT_INTERRUPT_VECTOR_CONFIG,
            FEAT_ASYNC_EVENT_CONFIG ->
            true;
        default -> false;
      };
    }
  }

  /** SMART / Health counters, kept across resets as a drive keeps them. */
  private static final class Smart {
    long blocksRead;
    long blocksWritten;
    long readCommands;
    long writeCommands;

    void read(long blocks) {
      blocksRead += blocks;
      readCommands++;
    }

    void written(long blocks) {
      blocksWritten += blocks;
      writeCommands++;
    }

    MemorySegment log(int criticalWarning) {
      MemorySegment log = MemorySegment.ofArray(new byte[512]);
      log.set(JAVA_BYTE, 0, (byte) criticalWarning);
      log.set(U16, 1, (short) TEMPERATURE);
      log.set(JAVA_BYTE, 3, (byte) 100); // available spare
      log.set(JAVA_BYTE, 4, (byte) 10); // its threshold
      // data units are thousands of 512-byte blocks, rounded up
      log.set(U64, 32, (blocksRead + 999) / 1000);
      log.set(U64, 48, (blocksWritten + 999) / 1000);
      log.set(U64, 64, readCommands);
      log.set(U64, 80, writeCommands);
      return log;
    }
  }
}
