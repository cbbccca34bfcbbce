package org.iommufd4j.pci.virtio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.pci.DmaFaultException;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;

/**
 * A transitional virtio-net NIC (1af4:1000, subsystem 1af4:0001, class 0x020000) driven through the
 * legacy interface, as QEMU 7.2's {@code virtio-net-pci} presents it to a legacy driver such as
 * DPDK's {@code net_virtio}: the legacy register block in I/O BAR0, the MSI-X table (at 0) and PBA
 * (at 0x800) in 4 KiB memory BAR1, {@code 2 * queuePairs + 2} vectors, INTA#.
 *
 * <table>
 * <caption>BAR0, little-endian</caption>
 * <tr><th>offset<th>size<th>register
 * <tr><td>0x00<td>4<td>host features (read-only)
 * <tr><td>0x04<td>4<td>guest features (masked with the host's)
 * <tr><td>0x08<td>4<td>queue page frame number of the selected queue (4 KiB pages; writing 0
 *     resets the device, as QEMU does)
 * <tr><td>0x0c<td>2<td>queue size of the selected queue (read-only; 0 for no queue)
 * <tr><td>0x0e<td>2<td>queue select
 * <tr><td>0x10<td>2<td>queue notify: the index of a queue with new buffers
 * <tr><td>0x12<td>1<td>device status; writing 0 resets; NEEDS_RESET (0x40) is the device's
 * <tr><td>0x13<td>1<td>ISR: bit 0 a queue, bit 1 the configuration changed; a read clears it
 *     and lowers INTA#
 * <tr><td>0x14<td>2<td>with MSI-X enabled: configuration vector (a vector the table lacks reads
 *     back 0xffff)
 * <tr><td>0x16<td>2<td>with MSI-X enabled: vector of the selected queue
 * <tr><td>0x14 / 0x18<td><td>device configuration (after the vectors when MSI-X is enabled): MAC
 *     (6 bytes, writable while CTRL_MAC_ADDR is not negotiated), status (bit 0 link up),
 *     max_virtqueue_pairs
 * </table>
 *
 * <p>Queues: receive {@code 2k}, transmit {@code 2k + 1} for each pair {@code k}, 256 entries, then
 * the control queue (64 entries). Rings are read and written through the device's {@link DmaPort}
 * on its clock: a notify or an arriving frame starts a poller that runs while there is work, with
 * notifications from the driver suppressed, and goes back to sleep (nothing armed) when a round
 * finds none. Work stops while bus mastering is off or DRIVER_OK is not set.
 *
 * <p>A ring that breaks the rules (a descriptor loop or a chain longer than the ring, an index out
 * of range, a readable buffer after a writable one, an available index more than the ring size
 * ahead, a nested or malformed indirect table, a DMA fault) stops that queue, sets NEEDS_RESET and
 * raises the configuration interrupt; only a device reset brings the queue back.
 *
 * <p>Offered features: MAC, STATUS, MRG_RXBUF and RING_EVENT_IDX (each unless turned off), CTRL_VQ,
 * CTRL_RX, CTRL_MAC_ADDR, MQ (with more than one pair), RING_INDIRECT_DESC and ANY_LAYOUT. No
 * checksum or segmentation offloads, no VLAN filter. The receive filter is QEMU's: promiscuous
 * after reset; else broadcast, the MAC, and the tables the control queue sets (64 entries, more
 * means all of that kind), multicast with all-multicast on.
 */
public final class VirtioNetDevice implements PciDevice {
  static final int VENDOR = 0x1af4;
  static final int DEVICE = 0x1000;
  static final int SUBSYSTEM_NET = 1;
  static final int IO_BAR_SIZE = 64;
  static final int MSIX_BAR = 1;
  static final int MSIX_PBA_OFFSET = 0x800;
  static final int DATA_QUEUE_SIZE = 256;
  static final int CONTROL_QUEUE_SIZE = 64;
  static final int MAX_QUEUE_PAIRS = 8;

  // legacy register offsets
  static final int HOST_FEATURES = 0x00;
  static final int GUEST_FEATURES = 0x04;
  static final int QUEUE_PFN = 0x08;
  static final int QUEUE_SIZE = 0x0c;
  static final int QUEUE_SELECT = 0x0e;
  static final int QUEUE_NOTIFY = 0x10;
  static final int STATUS = 0x12;
  static final int ISR = 0x13;
  static final int CONFIG_VECTOR = 0x14;
  static final int QUEUE_VECTOR = 0x16;
  static final int CONFIG = 0x14;
  static final int CONFIG_MSIX = 0x18;

  // feature bits
  static final int F_MAC = 5;
  static final int F_MRG_RXBUF = 15;
  static final int F_STATUS = 16;
  static final int F_CTRL_VQ = 17;
  static final int F_CTRL_RX = 18;
  static final int F_MQ = 22;
  static final int F_CTRL_MAC_ADDR = 23;
  static final int F_ANY_LAYOUT = 27;
  static final int F_INDIRECT_DESC = 28;
  static final int F_EVENT_IDX = 29;

  // device status bits
  static final int S_DRIVER_OK = 4;
  static final int S_NEEDS_RESET = 0x40;

  static final int ISR_QUEUE = 1;
  static final int ISR_CONFIG = 2;
  static final int LINK_UP = 1;

  // control queue
  static final int CTRL_RX = 0;
  static final int CTRL_RX_PROMISC = 0;
  static final int CTRL_RX_ALLMULTI = 1;
  static final int CTRL_MAC = 1;
  static final int CTRL_MAC_TABLE_SET = 0;
  static final int CTRL_MAC_ADDR_SET = 1;
  static final int CTRL_MQ = 4;
  static final int CTRL_MQ_VQ_PAIRS_SET = 0;
  static final int CTRL_OK = 0;
  static final int CTRL_ERR = 1;
  static final int MAC_TABLE_ENTRIES = 64;

  static final int LEGACY_HEADER = 10;
  static final int MERGEABLE_HEADER = 12;

  /** A frame longer than this (64 KiB plus an Ethernet and VLAN header) is dropped on transmit. */
  static final int MAX_FRAME = 65536 + 18;

  /** Frames waiting per receive queue for buffers; more are dropped. */
  static final int RX_BACKLOG = 1024;

  /** Chains taken from one queue in one poll round, so that queues take turns. */
  static final int BATCH = 256;

  /** Two table counts and twice the 64 entries QEMU keeps, with room for overflowing tables. */
  static final int MAX_CONTROL_COMMAND = 2 + 8 + 2 * 6 * 1024;

  private static final byte[] BROADCAST = {-1, -1, -1, -1, -1, -1};
  private static final int PCI_COMMAND = 0x04;
  private static final int PCI_COMMAND_MASTER = 0x4;
  private static final System.Logger LOG = System.getLogger(VirtioNetDevice.class.getName());

  /**
   * What a NIC is made with.
   *
   * @param mac the MAC address, 6 bytes
   * @param queuePairs receive/transmit queue pairs, 1..8 (more than 1 offers MQ)
   * @param mergeableRxBuffers whether MRG_RXBUF is offered
   * @param eventIndex whether RING_EVENT_IDX is offered
   */
  public record Options(
      byte[] mac, int queuePairs, boolean mergeableRxBuffers, boolean eventIndex) {
    /** QEMU's first NIC's address. */
    public static final String DEFAULT_MAC = "52:54:00:12:34:56";

    private static final Pattern BDF =
        Pattern.compile("[0-9a-fA-F]{4}:([0-9a-fA-F]{2}):([01][0-9a-fA-F])\\.([0-7])");

    public Options {
      mac = mac.clone();
      if (mac.length != 6) {
        throw new IllegalArgumentException("a MAC address has 6 bytes, not " + mac.length);
      }
      if (queuePairs < 1 || queuePairs > MAX_QUEUE_PAIRS) {
        throw new IllegalArgumentException(
            "queue pairs " + queuePairs + " (1.." + MAX_QUEUE_PAIRS + ")");
      }
    }

    /** One queue pair, QEMU's default MAC, every feature offered. */
    public static Options defaults() {
      return new Options(parseMac(DEFAULT_MAC), 1, true, true);
    }

    @Override
    public byte[] mac() {
      return mac.clone();
    }

    /**
     * The address of the NIC at PCI address {@code bdf} when none is given: QEMU's locally
     * administered prefix 52:54:00, then bus, device and function, so that NICs at different
     * addresses differ and each keeps its address from run to run (0000:00:04.0 is
     * 52:54:00:00:04:00).
     */
    public static byte[] macAt(String bdf) {
      Matcher m = BDF.matcher(bdf);
      if (!m.matches()) {
        throw new IllegalArgumentException("'" + bdf + "' is not a PCI address DDDD:BB:DD.F");
      }
      return new byte[] {
        0x52,
        0x54,
        0,
        (byte) Integer.parseInt(m.group(1), 16),
        (byte) Integer.parseInt(m.group(2), 16),
        (byte) Integer.parseInt(m.group(3))
      };
    }

    /** "52:54:00:12:34:56" to its 6 bytes. */
    public static byte[] parseMac(String text) {
      String[] parts = text.split(":", -1);
      byte[] mac = new byte[6];
      try {
        if (parts.length != 6) {
          throw new IllegalArgumentException();
        }
        for (int i = 0; i < 6; i++) {
          if (parts[i].length() != 2) {
            throw new IllegalArgumentException();
          }
          mac[i] = (byte) HexFormat.fromHexDigits(parts[i]);
        }
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("'" + text + "' is not a MAC address xx:xx:xx:xx:xx:xx");
      }
      return mac;
    }
  }

  private final ConfigSpace config;
  private final Interrupts interrupts;
  private final NetBackend backend;
  private final DeviceClock.Timer poller;
  private final Options options;
  private final DmaPort dma;
  private final int hostFeatures;
  private final int vectors;
  private final Virtqueue[] queues;
  private final List<ConcurrentLinkedQueue<byte[]>> arrived = new ArrayList<>();
  private final AtomicInteger backlog = new AtomicInteger();
  private final AtomicInteger droppedOnReceive = new AtomicInteger();

  /** A received frame with its header, as written to the driver's buffers. */
  private final MemorySegment staging = Arena.ofAuto().allocate(MERGEABLE_HEADER + MAX_FRAME, 8);

  private volatile byte[] mac;
  private volatile int linkStatus = LINK_UP;
  private int guestFeatures;
  private int status;
  private int isr;
  private int queueSelect;
  private int configVector = Virtqueue.NO_VECTOR;
  private int activePairs = 1;
  private boolean promiscuous = true;
  private boolean allMulticast;
  private final List<byte[]> unicastTable = new ArrayList<>();
  private final List<byte[]> multicastTable = new ArrayList<>();
  private boolean unicastOverflow;
  private boolean multicastOverflow;
  private volatile boolean polling;

  /** A NIC whose port is wired to {@code backend}. */
  public VirtioNetDevice(Ports ports, NetBackend backend, Options options) {
    this.interrupts = ports.interrupts();
    this.backend = Objects.requireNonNull(backend);
    this.options = Objects.requireNonNull(options);
    this.poller = ports.clock().timer(this::poll);
    this.mac = options.mac();
    this.hostFeatures =
        1 << F_MAC
            | 1 << F_STATUS
            | 1 << F_CTRL_VQ
            | 1 << F_CTRL_RX
            | 1 << F_CTRL_MAC_ADDR
            | 1 << F_ANY_LAYOUT
            | 1 << F_INDIRECT_DESC
            | (options.mergeableRxBuffers() ? 1 << F_MRG_RXBUF : 0)
            | (options.eventIndex() ? 1 << F_EVENT_IDX : 0)
            | (options.queuePairs() > 1 ? 1 << F_MQ : 0);
    this.vectors = 2 * options.queuePairs() + 2;
    this.dma = ports.dma();
    queues = new Virtqueue[2 * options.queuePairs() + 1];
    for (int i = 0; i < queues.length - 1; i++) {
      queues[i] = new Virtqueue(DATA_QUEUE_SIZE, dma);
    }
    queues[queues.length - 1] = new Virtqueue(CONTROL_QUEUE_SIZE, dma);
    for (int i = 0; i < options.queuePairs(); i++) {
      arrived.add(new ConcurrentLinkedQueue<>());
    }
    this.config =
        ConfigSpace.builder(VENDOR, DEVICE)
            .subsystem(VENDOR, SUBSYSTEM_NET)
            .classCode(0x020000)
            .interruptPin(1)
            .bar(Bar.io(0, IO_BAR_SIZE))
            .bar(Bar.memory32(MSIX_BAR, 4096))
            .msix(vectors, MSIX_BAR, 0, MSIX_BAR, MSIX_PBA_OFFSET)
            .build();
    backend.connect(this::receive);
  }

  @Override
  public ConfigSpace configSpace() {
    return config;
  }

  @Override
  public synchronized long read(int bar, long offset, int size) {
    if (bar != 0) {
      return 0;
    }
    int configStart = msixEnabled() ? CONFIG_MSIX : CONFIG;
    if (offset >= configStart) {
      return readConfig((int) offset - configStart, size);
    }
    Virtqueue q = selected();
    return switch ((int) offset) {
      case HOST_FEATURES -> hostFeatures & 0xffff_ffffL;
      case GUEST_FEATURES -> guestFeatures & 0xffff_ffffL;
      case QUEUE_PFN -> q == null ? 0 : q.pfn() & 0xffff_ffffL;
      case QUEUE_SIZE -> q == null ? 0 : q.size;
      case QUEUE_SELECT -> queueSelect;
      case STATUS -> status;
      case ISR -> takeIsr();
      case CONFIG_VECTOR -> configVector;
      case QUEUE_VECTOR -> q == null ? Virtqueue.NO_VECTOR : q.vector();
      default -> 0xffff_ffffL;
    };
  }

  @Override
  public void write(int bar, long offset, int size, long value) {
    if (bar == 0 && offset == QUEUE_NOTIFY) {
      // the data path's only register: a wake-up, without waiting for a poll round's lock
      if ((value & 0xffff) < queues.length) {
        startPolling();
      }
      return;
    }
    writeRegister(bar, offset, size, value);
  }

  private synchronized void writeRegister(int bar, long offset, int size, long value) {
    if (bar != 0) {
      return;
    }
    int configStart = msixEnabled() ? CONFIG_MSIX : CONFIG;
    if (offset >= configStart) {
      writeConfig((int) offset - configStart, size, value);
      return;
    }
    int v = (int) value;
    Virtqueue q = selected();
    switch ((int) offset) {
      case GUEST_FEATURES -> guestFeatures = v & hostFeatures;
      case QUEUE_PFN -> {
        if (v == 0) {
          resetDevice();
        } else if (q != null) {
          q.setPfn(v);
        }
      }
      case QUEUE_SELECT -> queueSelect = v & 0xffff;
      case STATUS -> {
        if ((v & 0xff) == 0) {
          resetDevice();
        } else {
          status = (v & 0xff & ~S_NEEDS_RESET) | (status & S_NEEDS_RESET);
          startPolling();
        }
      }
      case CONFIG_VECTOR -> configVector = checkedVector(v & 0xffff);
      case QUEUE_VECTOR -> {
        if (q != null) {
          q.setVector(checkedVector(v & 0xffff));
        }
      }
      default -> {}
    }
  }

  /** A function-level reset: as writing 0 to the status. */
  @Override
  public synchronized void reset() {
    resetDevice();
  }

  /** Sets the link status a driver reads (STATUS feature) and tells it with a config interrupt. */
  public synchronized void setLinkUp(boolean up) {
    int wanted = up ? LINK_UP : 0;
    if (wanted != linkStatus) {
      linkStatus = wanted;
      if ((status & S_DRIVER_OK) != 0) {
        notifyConfig();
      }
    }
  }

  /** The MAC address the driver sees now, "52:54:00:00:04:00". */
  public synchronized String mac() {
    return HexFormat.ofDelimiter(":").formatHex(mac);
  }

  /** Without the lock: inspect may hold an IOAS's lock that a poll round's DMA waits for. */
  @Override
  public String summary() {
    return "mac "
        + HexFormat.ofDelimiter(":").formatHex(mac)
        + ", link "
        + (linkStatus == LINK_UP ? "up" : "down");
  }

  /** Frames dropped on receive: no room in the backlog while the driver gave no buffers. */
  public int droppedOnReceive() {
    return droppedOnReceive.get();
  }

  private void receive(byte[] frame, int queuePair) {
    int pair = Math.floorMod(queuePair, arrived.size());
    if (backlog.incrementAndGet() > RX_BACKLOG * arrived.size()) {
      backlog.decrementAndGet();
      droppedOnReceive.incrementAndGet();
      return;
    }
    arrived.get(pair).add(frame);
    poller.arm(0);
  }

  private void startPolling() {
    if (!polling) { // while it polls, the poller finds the work itself
      poller.arm(0);
    }
  }

  private boolean msixEnabled() {
    return interrupts.msiEnabled();
  }

  private boolean negotiated(int feature) {
    return (guestFeatures & (1 << feature)) != 0;
  }

  private Virtqueue selected() {
    return queueSelect < queues.length ? queues[queueSelect] : null;
  }

  private int checkedVector(int vector) {
    return vector < vectors ? vector : Virtqueue.NO_VECTOR;
  }

  private int takeIsr() {
    int value = isr;
    isr = 0;
    interrupts.lowerIntx();
    return value;
  }

  private byte[] deviceConfig() {
    byte[] c = new byte[10];
    System.arraycopy(mac, 0, c, 0, 6);
    c[6] = (byte) linkStatus;
    c[8] = (byte) options.queuePairs();
    return c;
  }

  private long readConfig(int at, int size) {
    byte[] c = deviceConfig();
    long v = 0;
    for (int i = 0; i < size; i++) {
      int b = at + i;
      v |= (b < c.length ? c[b] & 0xffL : 0) << (8 * i);
    }
    return v;
  }

  private void writeConfig(int at, int size, long value) {
    if (negotiated(F_CTRL_MAC_ADDR)) {
      return;
    }
    for (int i = 0; i < size; i++) {
      if (at + i < 6) {
        mac[at + i] = (byte) (value >>> (8 * i));
      }
    }
  }

  private synchronized void resetDevice() {
    guestFeatures = 0;
    status = 0;
    isr = 0;
    interrupts.lowerIntx();
    queueSelect = 0;
    configVector = Virtqueue.NO_VECTOR;
    for (Virtqueue q : queues) {
      q.reset();
    }
    activePairs = 1;
    mac = options.mac();
    promiscuous = true;
    allMulticast = false;
    unicastTable.clear();
    multicastTable.clear();
    unicastOverflow = multicastOverflow = false;
    for (ConcurrentLinkedQueue<byte[]> q : arrived) {
      backlog.addAndGet(-q.size());
      q.clear();
    }
    polling = false;
    poller.cancel();
  }

  // ---- the poller

  private boolean running() {
    return (status & S_DRIVER_OK) != 0 && (config.read(PCI_COMMAND, 2) & PCI_COMMAND_MASTER) != 0;
  }

  private synchronized void poll() {
    if (!running()) {
      polling = false;
      return;
    }
    boolean eventIndex = negotiated(F_EVENT_IDX);
    boolean progress = false;
    for (int pair = 0; pair < activePairs; pair++) {
      progress |= transmit(pair);
      progress |= deliver(pair);
    }
    progress |= control();
    if (progress) {
      if (!polling) {
        polling = true;
        forEachReadyQueue(q -> q.notifications(false, eventIndex));
      }
      poller.arm(0);
      return;
    }
    // going to sleep: ask for notifications again, then look once more for what raced with that
    polling = false;
    forEachReadyQueue(q -> q.notifications(true, eventIndex));
    boolean more = false;
    for (int i = 0; i < queues.length; i++) {
      Virtqueue q = queues[i];
      if (isActive(i) && q.ready()) {
        try {
          more |= q.availableGrew() && (!isReceiveQueue(i) || !arrived.get(i / 2).isEmpty());
        } catch (Virtqueue.BrokenRingException e) {
          stopQueue(i, e.getMessage());
        } catch (DmaFaultException e) {
          stopQueue(i, "DMA fault: " + e.getMessage());
        }
      }
    }
    if (more) {
      poller.arm(0);
    }
  }

  private void forEachReadyQueue(Consumer<Virtqueue> action) {
    for (int i = 0; i < queues.length; i++) {
      if (isActive(i) && queues[i].ready()) {
        try {
          action.accept(queues[i]);
        } catch (DmaFaultException e) {
          stopQueue(i, "DMA fault: " + e.getMessage());
        }
      }
    }
  }

  private boolean isActive(int queue) {
    return queue == queues.length - 1 ? negotiated(F_CTRL_VQ) : queue / 2 < activePairs;
  }

  private boolean isReceiveQueue(int queue) {
    return queue < queues.length - 1 && queue % 2 == 0;
  }

  private int headerLength() {
    return negotiated(F_MRG_RXBUF) ? MERGEABLE_HEADER : LEGACY_HEADER;
  }

  /** Sends what the driver queued on pair {@code pair}'s transmit queue; whether any was. */
  private boolean transmit(int pair) {
    int index = 2 * pair + 1;
    Virtqueue tx = queues[index];
    if (!tx.ready()) {
      return false;
    }
    int sent = 0;
    try {
      for (; sent < BATCH; sent++) {
        Virtqueue.Chain chain = tx.pop();
        if (chain == null) {
          break;
        }
        long length = chain.readableBytes();
        int header = headerLength();
        if (length >= header && length - header <= MAX_FRAME) {
          byte[] frame = new byte[(int) (length - header)];
          gather(chain, header, frame);
          tx.push(chain.head, 0);
          send(frame, pair);
        } else {
          tx.push(chain.head, 0); // as QEMU, a frame too short for its header is dropped
        }
      }
      finish(tx);
    } catch (Virtqueue.BrokenRingException e) {
      stopQueue(index, e.getMessage());
    } catch (DmaFaultException e) {
      stopQueue(index, "DMA fault: " + e.getMessage());
    }
    return sent > 0;
  }

  private void send(byte[] frame, int pair) {
    try {
      backend.send(frame, pair);
    } catch (RuntimeException e) {
      LOG.log(System.Logger.Level.WARNING, () -> "virtio-net: backend dropped a frame: " + e);
    }
  }

  /** Puts frames that arrived for pair {@code pair} in its receive buffers; whether any went. */
  private boolean deliver(int pair) {
    int index = 2 * pair;
    Virtqueue rx = queues[index];
    ConcurrentLinkedQueue<byte[]> frames = arrived.get(pair);
    if (!rx.ready() || frames.isEmpty()) {
      return false;
    }
    int delivered = 0;
    try {
      for (; delivered < BATCH; delivered++) {
        byte[] frame = frames.peek();
        if (frame == null) {
          break;
        }
        if (accepts(frame) && !fill(rx, frame)) {
          break; // no buffers: the driver notifies when it adds some
        }
        frames.poll();
        backlog.decrementAndGet();
      }
      finish(rx);
    } catch (Virtqueue.BrokenRingException e) {
      stopQueue(index, e.getMessage());
    } catch (DmaFaultException e) {
      stopQueue(index, "DMA fault: " + e.getMessage());
    }
    return delivered > 0;
  }

  /**
   * Writes one frame with its header into receive buffers: one chain (the frame cut to fit), or
   * with mergeable buffers as many as it takes, their count in the header's num_buffers. False if
   * the buffers available are too few; then none is used. The header and the frame go out together
   * from {@link #staging}, one DMA write a buffer.
   */
  private boolean fill(Virtqueue rx, byte[] frame) throws Virtqueue.BrokenRingException {
    int header = headerLength();
    int total = header + frame.length;
    staging.asSlice(0, header).fill((byte) 0);
    MemorySegment.copy(frame, 0, staging, ValueLayout.JAVA_BYTE, header, frame.length);
    if (!negotiated(F_MRG_RXBUF)) {
      Virtqueue.Chain chain = rx.pop();
      if (chain == null) {
        return false;
      }
      rx.push(chain.head, scatter(chain, total, 0));
      return true;
    }
    // take buffers until they hold the frame, so that num_buffers is known before any is written
    int buffers = 0;
    long room = 0;
    while (room < total) {
      Virtqueue.Chain chain = rx.pop();
      if (chain == null || chain.writableBytes() == 0) {
        rx.rewind(buffers + (chain == null ? 0 : 1));
        if (chain == null && buffers == rx.size) {
          droppedOnReceive.incrementAndGet(); // more than a full ring of buffers could hold
          return true;
        }
        return false;
      }
      if (buffers == 0 && chain.length[chain.readableCount] < header) {
        rx.rewind(1);
        throw new Virtqueue.BrokenRingException("a mergeable buffer smaller than the header");
      }
      buffers++;
      room += chain.writableBytes();
    }
    staging.set(ValueLayout.JAVA_SHORT_UNALIGNED, LEGACY_HEADER, (short) buffers);
    rx.rewind(buffers); // the chains again, in order, now to write them
    int offset = 0;
    for (int i = 0; i < buffers; i++) {
      Virtqueue.Chain chain = rx.pop();
      int written = scatter(chain, total, offset);
      rx.push(chain.head, written);
      offset += written;
    }
    return true;
  }

  /** Copies the chain's readable bytes from {@code skip} on into {@code dst}. */
  private void gather(Virtqueue.Chain chain, long skip, byte[] dst) {
    MemorySegment out = MemorySegment.ofArray(dst);
    long at = 0;
    for (int i = 0; i < chain.readableCount && at < dst.length; i++) {
      long length = Integer.toUnsignedLong(chain.length[i]);
      long from = Math.min(skip, length);
      skip -= from;
      long n = Math.min(length - from, dst.length - at);
      if (n > 0) {
        dma.read(chain.address[i] + from, out.asSlice(at, n));
        at += n;
      }
    }
  }

  /**
   * Writes {@link #staging}'s bytes [offset, total) into the chain's writable buffers; the bytes
   * written.
   */
  private int scatter(Virtqueue.Chain chain, int total, int offset) {
    int at = offset;
    for (int i = chain.readableCount; i < chain.count && at < total; i++) {
      int n = (int) Math.min(Integer.toUnsignedLong(chain.length[i]), total - at);
      dma.write(chain.address[i], staging.asSlice(at, n));
      at += n;
    }
    return at - offset;
  }

  /** Publishes what was pushed and interrupts if the driver asked for it. */
  private void finish(Virtqueue q) {
    if (q.publish(negotiated(F_EVENT_IDX))) {
      notifyQueue(q);
    }
  }

  private void notifyQueue(Virtqueue q) {
    isr |= ISR_QUEUE;
    signal(q.vector());
  }

  private void notifyConfig() {
    isr |= ISR_CONFIG;
    signal(configVector);
  }

  private void signal(int vector) {
    if (msixEnabled()) {
      if (vector != Virtqueue.NO_VECTOR) {
        interrupts.msi(vector);
      }
    } else {
      interrupts.raiseIntx();
    }
  }

  private void stopQueue(int index, String why) {
    LOG.log(System.Logger.Level.WARNING, () -> "virtio-net: queue " + index + " stopped: " + why);
    queues[index].stop();
    status |= S_NEEDS_RESET;
    notifyConfig();
  }

  /** QEMU's receive filter (see the class comment). */
  private boolean accepts(byte[] frame) {
    if (promiscuous) {
      return true;
    }
    if (frame.length < 6) {
      return false;
    }
    byte[] destination = Arrays.copyOf(frame, 6);
    if ((destination[0] & 1) != 0) {
      if (Arrays.equals(destination, BROADCAST)) {
        return true;
      }
      return allMulticast || multicastOverflow || contains(multicastTable, destination);
    }
    return unicastOverflow
        || Arrays.equals(destination, mac)
        || contains(unicastTable, destination);
  }

  private static boolean contains(List<byte[]> table, byte[] address) {
    for (byte[] entry : table) {
      if (Arrays.equals(entry, address)) {
        return true;
      }
    }
    return false;
  }

  /** Runs the commands on the control queue; whether there were any. */
  private boolean control() {
    int index = queues.length - 1;
    Virtqueue ctrl = queues[index];
    if (!negotiated(F_CTRL_VQ) || !ctrl.ready()) {
      return false;
    }
    int done = 0;
    try {
      for (; done < BATCH; done++) {
        Virtqueue.Chain chain = ctrl.pop();
        if (chain == null) {
          break;
        }
        long length = chain.readableBytes();
        if (length < 2 || length > MAX_CONTROL_COMMAND || chain.writableBytes() < 1) {
          throw new Virtqueue.BrokenRingException("a control command of " + length + " bytes");
        }
        byte[] command = new byte[(int) length];
        gather(chain, 0, command);
        byte[] ack = {(byte) command(command)};
        dma.write(chain.address[chain.readableCount], MemorySegment.ofArray(ack));
        ctrl.push(chain.head, 1);
      }
      finish(ctrl);
    } catch (Virtqueue.BrokenRingException e) {
      stopQueue(index, e.getMessage());
    } catch (DmaFaultException e) {
      stopQueue(index, "DMA fault: " + e.getMessage());
    }
    return done > 0;
  }

  /** One control command: class, command, data; CTRL_OK or CTRL_ERR. */
  private int command(byte[] c) {
    int kind = c[0] & 0xff;
    int cmd = c[1] & 0xff;
    int length = c.length - 2;
    if (kind == CTRL_RX && negotiated(F_CTRL_RX) && length == 1) {
      switch (cmd) {
        case CTRL_RX_PROMISC -> promiscuous = c[2] != 0;
        case CTRL_RX_ALLMULTI -> allMulticast = c[2] != 0;
        default -> {
          return CTRL_ERR;
        }
      }
      return CTRL_OK;
    }
    if (kind == CTRL_MAC
        && cmd == CTRL_MAC_ADDR_SET
        && negotiated(F_CTRL_MAC_ADDR)
        && length == 6) {
      mac = Arrays.copyOfRange(c, 2, 8);
      return CTRL_OK;
    }
    if (kind == CTRL_MAC && cmd == CTRL_MAC_TABLE_SET) {
      return macTables(c) ? CTRL_OK : CTRL_ERR;
    }
    if (kind == CTRL_MQ && cmd == CTRL_MQ_VQ_PAIRS_SET && negotiated(F_MQ) && length == 2) {
      int pairs = (c[2] & 0xff) | (c[3] & 0xff) << 8;
      if (pairs < 1 || pairs > options.queuePairs()) {
        return CTRL_ERR;
      }
      activePairs = pairs;
      return CTRL_OK;
    }
    return CTRL_ERR;
  }

  /** MAC_TABLE_SET: a unicast then a multicast table, each a 32-bit count and the addresses. */
  private boolean macTables(byte[] c) {
    List<byte[]> unicast = new ArrayList<>();
    List<byte[]> multicast = new ArrayList<>();
    int at = 2;
    for (List<byte[]> table : List.of(unicast, multicast)) {
      if (at + 4 > c.length) {
        return false;
      }
      long entries =
          Integer.toUnsignedLong(
              (c[at] & 0xff)
                  | (c[at + 1] & 0xff) << 8
                  | (c[at + 2] & 0xff) << 16
                  | (c[at + 3] & 0xff) << 24);
      at += 4;
      if (entries * 6 > c.length - at) {
        return false;
      }
      for (int i = 0; i < entries; i++, at += 6) {
        table.add(Arrays.copyOfRange(c, at, at + 6));
      }
    }
    if (at != c.length) {
      return false;
    }
    unicastOverflow = unicast.size() > MAC_TABLE_ENTRIES;
    multicastOverflow = multicast.size() > MAC_TABLE_ENTRIES;
    unicastTable.clear();
    multicastTable.clear();
    if (!unicastOverflow) {
      unicastTable.addAll(unicast);
    }
    if (!multicastOverflow) {
      multicastTable.addAll(multicast);
    }
    return true;
  }
}
