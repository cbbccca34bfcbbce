package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * edu's interrupts, features and mmaps through the emulated vfio-pci device file, probed as
 * bridge/native/tests/vfio/edu_common.c probes the real one (check_set_irqs_errors(), check_msi(),
 * check_intx(), check_reset_and_features(), the mmap checks), through the caller-memory ioctl entry
 * the file layer calls: each probe prints its transcript line, and the lines must appear in order
 * in what Linux 6.12 answered (oracle/edu_cdev.txt, edu_group.txt).
 */
class EduInterruptsOracleTest {
  private static final Path ORACLE = Path.of("..", "bridge", "src", "test", "resources", "oracle");
  private static final long CONFIG = 7L << 40;
  private static final int EFD = 10;
  private static final int OTHER = 11;

  // vfio_irq_set flags and indexes
  private static final int DATA_NONE = 1;
  private static final int DATA_BOOL = 2;
  private static final int DATA_EVENTFD = 4;
  private static final int MASK = 8;
  private static final int UNMASK = 16;
  private static final int TRIGGER = 32;
  private static final int INTX = 0;
  private static final int MSI = 1;
  private static final int MSIX = 2;
  private static final int ERR = 3;
  private static final int REQ = 4;

  // edu's registers
  private static final int FACTORIAL = 0x08;
  private static final int STATUS = 0x20;
  private static final int IRQ_STATUS = 0x24;
  private static final int IRQ_RAISE = 0x60;
  private static final int IRQ_ACK = 0x64;

  private final VirtualClock clock = new VirtualClock();
  private final SimulatedMemory memory = SimulatedMemory.create();
  private final Caller caller = new Caller(memory, 1, 0, false, false, -1);
  private final EventFdTable files = new EventFdTable();
  private final EventFdTable.Counter efd = files.open(EFD);
  private final VfioPciDevice device;
  private final VfioPciIoctls ioctls;
  private final long arg = memory.allocate(4096, true);
  private final List<String> lines = new ArrayList<>();

  EduInterruptsOracleTest() {
    files.open(OTHER);
    PciFunction edu =
        PciFunction.create(EduDevice::new, DmaPort.UNATTACHED, clock, Interrupts.Sink.DISCARD);
    edu.config().write(0x3c, 1, 0x0a); // the oracle VM's firmware routed INTA to IRQ 10
    device = new VfioPciDevice(edu);
    ioctls = new VfioPciIoctls(device, true);
    config16(4, 0x6); // the probes set bus mastering for their DMA checks first
  }

  @AfterEach
  void everyEventfdIsPutOnClose() {
    device.close();
    assertThat(files.held()).isZero();
    assertThat(files.violations()).isEmpty();
  }

  @Test
  void setIrqsArgumentChecksAreTheKernels() throws IOException {
    int trigger = DATA_EVENTFD | TRIGGER;
    byte[] fds = SetIrqsArg.eventfds(EFD, EFD);
    byte[] yes = {1};
    check("index=5", trigger, 5, 0, 1, slice(fds, 4));
    check("MSI start=1 count=1", trigger, MSI, 1, 1, slice(fds, 4));
    check("MSI count=2", trigger, MSI, 0, 2, fds);
    check("MSIX count=1 (has 0)", trigger, MSIX, 0, 1, slice(fds, 4));
    check("ERR count=1", trigger, ERR, 0, 1, slice(fds, 4));
    check("MSI DATA_NONE|DATA_BOOL", DATA_NONE | DATA_BOOL | TRIGGER, MSI, 0, 1, yes);
    check("MSI unknown flag 0x40", trigger | 0x40, MSI, 0, 1, slice(fds, 4));
    check("MSI no action", DATA_EVENTFD, MSI, 0, 1, slice(fds, 4));
    check("MSI MASK|UNMASK", DATA_NONE | MASK | UNMASK, MSI, 0, 1, new byte[0]);
    check("MSI eventfd without data", trigger, MSI, 0, 1, new byte[0]);
    check("MSI mask DATA_BOOL=1", DATA_BOOL | MASK, MSI, 0, 1, yes);
    check("MSI unmask DATA_NONE", DATA_NONE | UNMASK, MSI, 0, 1, new byte[0]);
    check("MSI trigger DATA_NONE while disabled", DATA_NONE | TRIGGER, MSI, 0, 1, new byte[0]);
    check("MSI disable while disabled", DATA_NONE | TRIGGER, MSI, 0, 0, new byte[0]);
    check("INTX unmask while disabled", DATA_NONE | UNMASK, INTX, 0, 1, new byte[0]);
    check("INTX mask DATA_BOOL=1 while disabled", DATA_BOOL | MASK, INTX, 0, 1, yes);
    check("INTX disable while disabled", DATA_NONE | TRIGGER, INTX, 0, 0, new byte[0]);
    check("REQ trigger DATA_NONE while unset", DATA_NONE | TRIGGER, REQ, 0, 1, new byte[0]);
    memory.putInt(arg, 8);
    memory.putInt(arg + 4, trigger);
    memory.putInt(arg + 8, MSI);
    memory.putInt(arg + 12, 0);
    memory.putInt(arg + 16, 1);
    print(
        "SET_IRQS argsz=8 => %s", rc(ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_SET_IRQS, arg)));
    print("SET_IRQS INTX eventfd=999 (not open) => %s", rc(setEventfd(INTX, 999)));
    print(
        "SET_IRQS INTX eventfd=<the device fd> => %s",
        rc(setEventfd(INTX, EventFdTable.NOT_AN_EVENTFD)));
    print("SET_IRQS MSI eventfd=999 (not open) => %s", rc(setEventfd(MSI, 999)));
    print("SET_IRQS REQ eventfd => %s", rc(setEventfd(REQ, EFD)));
    print("SET_IRQS REQ disable => %s", rc(disable(REQ)));
    assertTranscriptHasLines("edu_cdev.txt"); // the group probe leaves these out
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void msiReachesTheEventfdAsOnTheKernel(String transcript) throws IOException {
    int cap = 0x40;
    print("MSI capability found=1 control=0x%04x", config16(cap + 2));
    print("SET_IRQS MSI trigger eventfd => %s", rc(setEventfd(MSI, EFD)));
    print("MSI control after enable=0x%04x", config16(cap + 2));
    print("CONFIG command=0x%04x", config16(4));
    long rc = setIrqs(DATA_NONE | TRIGGER, MSI, 0, 1, new byte[0]);
    print("SET_IRQS MSI trigger DATA_NONE (loopback) => %s eventfd %s", rc(rc), event());
    rc = setIrqs(DATA_BOOL | TRIGGER, MSI, 0, 1, new byte[] {0});
    print("SET_IRQS MSI trigger DATA_BOOL=0 => %s eventfd %s", rc(rc), event());
    rc = setIrqs(DATA_BOOL | TRIGGER, MSI, 0, 1, new byte[] {1});
    print("SET_IRQS MSI trigger DATA_BOOL=1 => %s eventfd %s", rc(rc), event());
    bar32(IRQ_RAISE, 0x1);
    print("MSI raise 0x1 eventfd %s irq_status=0x%x", event(), bar32(IRQ_STATUS));
    bar32(IRQ_RAISE, 0x4);
    print("MSI raise 0x4 while 0x1 pending eventfd %s irq_status=0x%x", event(), bar32(IRQ_STATUS));
    bar32(IRQ_ACK, 0x5);
    print("MSI ack 0x5 irq_status=0x%x eventfd %s", bar32(IRQ_STATUS), event());
    bar32(STATUS, 0x80);
    bar32(FACTORIAL, 5);
    clock.advance(1_000_000_000L);
    print("MSI factorial(5) with irq eventfd %s", event());
    print(
        "MSI factorial result=%d irq_status=0x%x status=0x%x",
        bar32(FACTORIAL), bar32(IRQ_STATUS), bar32(STATUS));
    bar32(IRQ_ACK, 0x1);
    bar32(STATUS, 0);
    print("SET_IRQS INTX trigger while MSI enabled => %s", rc(setEventfd(INTX, OTHER)));
    config16(4, 0x2);
    bar32(IRQ_RAISE, 0x8);
    print("MSI raise with bus_master=0 eventfd %s irq_status=0x%x", event(), bar32(IRQ_STATUS));
    config16(4, 0x6);
    print("MSI bus_master=1 again eventfd %s", event());
    bar32(IRQ_ACK, 0x8);
    print("SET_IRQS MSI trigger eventfd=-1 => %s", rc(setEventfd(MSI, -1)));
    print("MSI control after eventfd=-1 =0x%04x", config16(cap + 2));
    bar32(IRQ_RAISE, 0x10);
    print("MSI raise with no eventfd attached eventfd %s", event());
    bar32(IRQ_ACK, 0x10);
    print("SET_IRQS MSI trigger eventfd again => %s", rc(setEventfd(MSI, EFD)));
    bar32(IRQ_RAISE, 0x20);
    print("MSI raise 0x20 eventfd %s", event());
    bar32(IRQ_ACK, 0x20);
    print("SET_IRQS MSI disable (count=0 DATA_NONE) => %s", rc(disable(MSI)));
    print("MSI control after disable=0x%04x", config16(cap + 2));
    rc = setIrqs(DATA_NONE | TRIGGER, MSI, 0, 1, new byte[0]);
    print("SET_IRQS MSI trigger DATA_NONE after disable => %s", rc(rc));
    print("SET_IRQS MSI disable again => %s", rc(disable(MSI)));
    assertTranscriptHasLines(transcript);
  }

  @Test
  void intxIsAutomaskedAndUnmaskedAsOnTheKernel() throws IOException {
    int unmask = DATA_NONE | UNMASK;
    byte[] none = new byte[0];
    print("INTX before: command=0x%04x status=0x%04x", config16(4), config16(6));
    print("SET_IRQS INTX trigger eventfd => %s", rc(setEventfd(INTX, EFD)));
    print("INTX enabled: command=0x%04x", config16(4));
    print("SET_IRQS MSI trigger while INTX enabled => %s", rc(setEventfd(MSI, OTHER)));
    bar32(IRQ_RAISE, 0x2);
    print("INTX raise 0x2 eventfd %s irq_status=0x%x", event(), bar32(IRQ_STATUS));
    print("INTX masked: command=0x%04x status=0x%04x", config16(4), config16(6));
    print("INTX still asserted, no unmask: eventfd %s", event());
    long rc = setIrqs(unmask, INTX, 0, 1, none);
    print("SET_IRQS INTX unmask while still asserted => %s eventfd %s", rc(rc), event());
    bar32(IRQ_ACK, 0x2);
    print("INTX ack: irq_status=0x%x status=0x%04x", bar32(IRQ_STATUS), config16(6));
    rc = setIrqs(unmask, INTX, 0, 1, none);
    print(
        "SET_IRQS INTX unmask after ack => %s eventfd %s command=0x%04x",
        rc(rc), event(), config16(4));
    rc = setIrqs(DATA_BOOL | MASK, INTX, 0, 1, new byte[] {1});
    print("SET_IRQS INTX mask DATA_BOOL=1 => %s command=0x%04x", rc(rc), config16(4));
    bar32(IRQ_RAISE, 0x40);
    print("INTX raise 0x40 while masked eventfd %s", event());
    rc = setIrqs(unmask, INTX, 0, 1, none);
    print("SET_IRQS INTX unmask => %s eventfd %s", rc(rc), event());
    bar32(IRQ_ACK, 0x40);
    rc = setIrqs(DATA_BOOL | UNMASK, INTX, 0, 1, new byte[] {1});
    print("SET_IRQS INTX unmask DATA_BOOL=1 after ack => %s eventfd %s", rc(rc), event());
    rc = setIrqs(DATA_NONE | TRIGGER, INTX, 0, 1, none);
    print("SET_IRQS INTX trigger DATA_NONE (loopback) => %s eventfd %s", rc(rc), event());
    rc = setIrqs(unmask, INTX, 0, 1, none);
    print("SET_IRQS INTX unmask after loopback => %s eventfd %s", rc(rc), event());
    print("SET_IRQS INTX disable (count=0 DATA_NONE) => %s", rc(disable(INTX)));
    print("INTX disabled: command=0x%04x", config16(4));
    print("SET_IRQS INTX unmask after disable => %s", rc(setIrqs(unmask, INTX, 0, 1, none)));
    assertTranscriptHasLines("edu_cdev.txt"); // the group probe leaves INTx out
  }

  @Test
  void featuresAndResetsAreWhatTheKernelAnswersForADeviceWithoutMigration() throws IOException {
    bar32(4, 0x0f0f0f0f);
    print("VFIO_DEVICE_RESET => %s", rc(ioctl(Vfio.VFIO_DEVICE_RESET, 0)));
    print("after reset: id=0x%08x liveness=0x%08x command=0x%04x", bar32(0), bar32(4), config16(4));
    memory.putInt(arg, 256);
    print(
        "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO => %s",
        rc(ioctl(Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, arg)));
    int probe = 1 << 18;
    int get = 1 << 16;
    int set = 1 << 17;
    feature("PROBE|GET MIGRATION", probe | get | 1, 8);
    feature("PROBE|SET MIG_DEVICE_STATE", probe | set | 2, 8);
    feature("PROBE|SET PCI_VF_TOKEN", probe | set, 8);
    feature("PROBE|SET LOW_POWER_ENTRY", probe | set | 3, 8);
    feature("PROBE|SET LOW_POWER_EXIT", probe | set | 5, 8);
    feature("PROBE|GET LOW_POWER_ENTRY", probe | get | 3, 8);
    feature("PROBE|SET DMA_LOGGING_START", probe | set | 6, 8);
    feature("PROBE|GET MIG_DATA_SIZE", probe | get | 9, 8);
    feature("PROBE|SET BUS_MASTER(10)", probe | set | 10, 8);
    feature("PROBE feature 0xffff", probe | 0xffff, 8);
    feature("GET|SET without PROBE", get | set | 3, 8);
    feature("unknown flag bit 19", probe | (1 << 19) | 3, 8);
    feature("argsz=4", probe | 3, 4);
    feature("GET MIGRATION", get | 1, 24);
    print(
        "VFIO unknown ioctl VFIO_BASE+40 => %s",
        rc(ioctl((Vfio.VFIO_TYPE << 8) | (Vfio.VFIO_BASE + 40), 0)));
    assertTranscriptHasLines("edu_cdev.txt"); // the group transcript has none of these
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void mmapIsAllowedAndRefusedAsOnTheKernel(String transcript) throws IOException {
    int shared = 0x01;
    int rw = 0x3;
    print("BAR0 mmap size=0x100000 => %s", mapped(device.mmap(0, 0x100000, rw, shared)));
    print("BAR0 mmap id = 0x%08x", bar32(0));
    // The bridge turns each load or store through the mapping into a pread or pwrite of its width
    // at the same offset: these are those accesses.
    bar32(4, 0xcafef00d);
    int liveness = bar32(4);
    print("BAR0 mmap liveness after 0xcafef00d = 0x%08x", liveness);
    print("BAR0 mmap pread agrees=%d", bar32(4) == liveness ? 1 : 0);
    bar32(FACTORIAL, 12);
    clock.advance(1_000_000_000L);
    print("BAR0 mmap factorial(12) = %d status=0x%x", bar32(FACTORIAL), bar32(STATUS));
    bar64(0x88, 0xdeadbeefL);
    print("BAR0 mmap dma_dst 8-byte = 0x%016x", bar64(0x88));
    print(
        "BAR0 mmap offset=0x1000 size=0x1000 => %s",
        mapped(device.mmap(0x1000, 0x1000, rw, shared)));
    print("BAR0 mmap size=0x200000 => %s", mapped(device.mmap(0, 0x200000, rw, shared)));
    print("BAR0 mmap MAP_PRIVATE => %s", mapped(device.mmap(0, 0x100000, rw, 0x02)));
    print("CONFIG mmap => %s", mapped(device.mmap(CONFIG, 0x1000, rw, shared)));
    print("BAR1 mmap => %s", mapped(device.mmap(1L << 40, 0x1000, rw, shared)));
    assertTranscriptHasLines(transcript);
  }

  // ---- what the C probes do, in Java ----

  private void check(String what, int flags, int index, int start, int count, byte[] data) {
    print("SET_IRQS %s => %s", what, rc(setIrqs(flags, index, start, count, data)));
  }

  private void feature(String what, int flags, int argsz) {
    memory.putBytes(arg, new byte[64]);
    memory.putInt(arg, argsz);
    memory.putInt(arg + 4, flags);
    print("VFIO_DEVICE_FEATURE %s => %s", what, rc(ioctl(Vfio.VFIO_DEVICE_FEATURE, arg)));
  }

  /** edu_common.c: set_irqs(): argsz is the header and the data given. */
  private long setIrqs(int flags, int index, int start, int count, byte[] data) {
    memory.putBytes(arg, new byte[20 + 64]);
    return ioctl(
        Vfio.VFIO_DEVICE_SET_IRQS, SetIrqsArg.put(memory, arg, flags, index, start, count, data));
  }

  private long setEventfd(int index, int fd) {
    return setIrqs(DATA_EVENTFD | TRIGGER, index, 0, 1, SetIrqsArg.eventfds(fd));
  }

  private long disable(int index) {
    return setIrqs(DATA_NONE | TRIGGER, index, 0, 0, new byte[0]);
  }

  private long ioctl(long request, long address) {
    return ioctls.ioctl(caller, files, request, address);
  }

  private String event() {
    long n = efd.take();
    return n == 0 ? "none" : "count=" + n;
  }

  private int bar32(long offset) {
    byte[] b = new byte[4];
    device.read(offset, MemorySegment.ofArray(b));
    return le(b);
  }

  private void bar32(long offset, int value) {
    device.write(offset, MemorySegment.ofArray(le(value, 4)));
  }

  private long bar64(long offset) {
    MemorySegment b = MemorySegment.ofArray(new long[1]);
    device.read(offset, b);
    return b.get(ValueLayout.JAVA_LONG, 0);
  }

  private void bar64(long offset, long value) {
    device.write(offset, MemorySegment.ofArray(new long[] {value}));
  }

  private int config16(int offset) {
    byte[] b = new byte[2];
    device.read(CONFIG + offset, MemorySegment.ofArray(b));
    return le(b);
  }

  private void config16(int offset, int value) {
    device.write(CONFIG + offset, MemorySegment.ofArray(le(value, 2)));
  }

  private static int le(byte[] b) {
    int v = 0;
    for (int i = 0; i < b.length; i++) {
      v |= (b[i] & 0xff) << (8 * i);
    }
    return v;
  }

  private static byte[] le(int value, int size) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (value >>> (8 * i));
    }
    return b;
  }

  private static byte[] slice(byte[] b, int length) {
    return Arrays.copyOf(b, length);
  }

  private static String rc(long rc) {
    return rc >= 0 ? Long.toString(rc) : "-" + Errno.of((int) -rc).name();
  }

  private static String mapped(int rc) {
    return rc == 0 ? "ok" : rc(rc);
  }

  private void print(String format, Object... args) {
    lines.add(String.format(format, args));
  }

  private void assertTranscriptHasLines(String transcript) throws IOException {
    assertThat(Files.readAllLines(ORACLE.resolve(transcript))).containsSubsequence(lines);
  }
}
