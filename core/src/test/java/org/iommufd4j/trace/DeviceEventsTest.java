package org.iommufd4j.trace;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.iommufd4j.Errno;
import org.iommufd4j.trace.MemoryLog.Kind;
import org.iommufd4j.trace.MemoryLog.Op;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trace's records of VFIO files and devices: each prints as one decoded line and comes back
 * from its JSON line as it was written.
 */
class DeviceEventsTest {
  private static final int PID = 7;
  private static final String EDU = "0000:00:04.0";
  private static final long BUFFER = 0x7ffd1000L;
  private static final long BAR0 = 0;
  private static final long CONFIG = 7L << 40;

  @TempDir Path dir;

  private static Op read(long address, byte[] bytes) {
    return new Op(Kind.READ, PID, address, bytes.length, false, true, bytes, 0, 0);
  }

  private static Op write(long address, byte[] bytes) {
    return new Op(Kind.WRITE, PID, address, bytes.length, false, true, bytes, 0, 0);
  }

  private static Op irq(int index, int vector) {
    return new Op(Kind.IRQ, 0, vector, 0, false, true, null, index, 0);
  }

  private static Op dma(long iova, long length, boolean toMemory, boolean ok) {
    return new Op(Kind.DMA, 0, iova, length, toMemory, ok, null, 0, 0);
  }

  private static Trace.Transfer transfer(
      Trace.Access access, long offset, long count, long result, Op... memory) {
    return new Trace.Transfer(
        12, 3, EDU, PID, 1, access, offset, BUFFER, count, result, 1_000, List.of(memory));
  }

  /**
   * Writes {@code events} as a trace, reads it back and asserts it has the same events (compared as
   * their lines: a memory operation's bytes are an array).
   */
  private void assertRoundTrips(Trace.Event... events) throws Exception {
    assertThat(roundTrip(List.of(events)).events().stream().map(Trace::line))
        .containsExactlyElementsOf(Stream.of(events).map(Trace::line).toList());
  }

  private Trace roundTrip(List<Trace.Event> events) throws Exception {
    Path file = dir.resolve("t.jsonl");
    Trace.Header header =
        new Trace.Header(
            true,
            true,
            false,
            false,
            false,
            List.of(
                new Trace.Device("edu", EDU, 4, 0, Map.of()),
                new Trace.Device(
                    "nvme",
                    "0000:00:05.0",
                    5,
                    1,
                    Map.of("backing", "/tmp/d.img", "size", "4096"))));
    try (Trace.Writer w = new Trace.Writer(file, header)) {
      events.forEach(w::event);
    }
    Trace back = Trace.read(file);
    assertThat(back.header()).isEqualTo(header);
    return back;
  }

  @Test
  void aVfioOpenShowsItsNodeAndFileOrErrno() throws Exception {
    Trace.VfioOpen ok = new Trace.VfioOpen(1, 3, PID, "/dev/vfio/devices/vfio0", 0, 10);
    Trace.VfioOpen busy = new Trace.VfioOpen(2, 0, PID, "/dev/vfio/4", -Errno.EBUSY.number(), 20);

    assertThat(CallPrinter.line(ok, false))
        .isEqualTo("[pid 7] open /dev/vfio/devices/vfio0 = file 3");
    assertThat(CallPrinter.line(busy, false))
        .isEqualTo("[pid 7] open /dev/vfio/4 = -1 EBUSY (Device or resource busy)");
    assertRoundTrips(ok, busy);
  }

  @Test
  void aPreadShowsTheRegisterAndTheValueTheDeviceReturned() throws Exception {
    Trace.Transfer pread =
        transfer(Trace.Access.PREAD, BAR0 + 8, 4, 4, write(BUFFER, new byte[] {1, 0, 0, 0}));

    assertThat(CallPrinter.line(pread, false))
        .isEqualTo("[pid 7] pread(dev 0000:00:04.0, BAR0+0x8, 4) = 4 [0x00000001]");
    assertRoundTrips(pread);
  }

  @Test
  void aPwriteShowsTheValueWrittenAndTheInterruptItRaised() throws Exception {
    Trace.Transfer pwrite =
        transfer(
            Trace.Access.PWRITE,
            BAR0 + 0x60,
            4,
            4,
            read(BUFFER, new byte[] {1, 0, 0, 0}),
            irq(1, 0));

    assertThat(CallPrinter.line(pwrite, false))
        .isEqualTo("[pid 7] pwrite(dev 0000:00:04.0, BAR0+0x60, 4) = 4 [0x00000001] irq MSI[0]");
    assertRoundTrips(pwrite);
  }

  @Test
  void trappedLoadsAndStoresShowTheirWidthAndValue() throws Exception {
    Trace.Transfer load =
        transfer(Trace.Access.LOAD, BAR0, 4, 4, write(BUFFER, new byte[] {(byte) 0xed, 0, 0, 1}));
    Trace.Transfer store =
        transfer(
            Trace.Access.STORE,
            BAR0 + 0x88,
            8,
            8,
            read(
                BUFFER,
                new byte[] {(byte) 0xef, (byte) 0xbe, (byte) 0xad, (byte) 0xde, 0, 0, 0, 0}));

    assertThat(CallPrinter.line(load, false))
        .isEqualTo("[pid 7] load(dev 0000:00:04.0, BAR0+0x0, 4) = 4 [0x010000ed]");
    assertThat(CallPrinter.line(store, false))
        .isEqualTo("[pid 7] store(dev 0000:00:04.0, BAR0+0x88, 8) = 8 [0x00000000deadbeef]");
    assertRoundTrips(load);
    assertRoundTrips(store);
  }

  @Test
  void aFailedReadShowsTheErrnoAndAConfigWriteItsRegion() throws Exception {
    Trace.Transfer read = transfer(Trace.Access.READ, BAR0 + 0x100000, 4, -Errno.EINVAL.number());
    Trace.Transfer write =
        transfer(Trace.Access.WRITE, CONFIG + 4, 2, 2, read(BUFFER, new byte[] {6, 0}));

    assertThat(CallPrinter.line(read, false))
        .isEqualTo(
            "[pid 7] read(dev 0000:00:04.0, BAR0+0x100000, 4) = -1 EINVAL (Invalid argument)");
    assertThat(CallPrinter.line(write, false))
        .isEqualTo("[pid 7] write(dev 0000:00:04.0, CONFIG+0x4, 2) = 2 [0x0006]");
    assertRoundTrips(read);
    assertRoundTrips(write);
  }

  @Test
  void anMmapShowsRegionLengthProtectionAndResult() throws Exception {
    Trace.Mmap mmap = new Trace.Mmap(5, 3, EDU, PID, BAR0, 0x100000, 3, 1, 0, 30);
    Trace.Mmap refused = new Trace.Mmap(6, 3, EDU, PID, CONFIG, 0x1000, 1, 1, -22, 40);

    assertThat(CallPrinter.line(mmap, false))
        .isEqualTo(
            "[pid 7] mmap(dev 0000:00:04.0, BAR0+0x0, 0x100000, PROT_READ|PROT_WRITE, MAP_SHARED) = 0");
    assertThat(CallPrinter.line(refused, false))
        .isEqualTo(
            "[pid 7] mmap(dev 0000:00:04.0, CONFIG+0x0, 0x1000, PROT_READ, MAP_SHARED)"
                + " = -1 EINVAL (Invalid argument)");
    assertRoundTrips(mmap, refused);
  }

  @Test
  void aTimerShowsTheDmaAndInterruptsOfTheModelsDeferredWork() throws Exception {
    Trace.Timer dma =
        new Trace.Timer(
            EDU,
            1,
            50,
            List.of(
                read(0x7f0000000000L, new byte[] {1, 2, 3, 4}),
                dma(0x100000, 0x800, false, true),
                dma(0x400000, 0x800, true, false),
                irq(1, 0)));
    Trace.Timer idle = new Trace.Timer(EDU, 0, 60, List.of());

    assertThat(CallPrinter.line(dma, false))
        .isEqualTo(
            "timer(dev 0000:00:04.0, 1) => dma from memory iova 0x100000 len 0x800, "
                + "dma to memory iova 0x400000 len 0x800 FAULT, irq MSI[0]");
    assertThat(CallPrinter.line(idle, false)).isEqualTo("timer(dev 0000:00:04.0, 0)");
    assertThat(CallPrinter.line(idle, true)).isEqualTo("  0.000000 timer(dev 0000:00:04.0, 0)");
    assertRoundTrips(dma, idle);
  }

  @Test
  void ioctlsOnGroupsAndDevicesAreNamedFromTheirOwnRequests() throws Exception {
    Trace.VfioOpen group = new Trace.VfioOpen(1, 3, PID, "/dev/vfio/4", 0, 10);
    byte[] name = "0000:00:04.0\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    Trace.Ioctl getFd =
        new Trace.Ioctl(
            2,
            3,
            PID,
            1,
            Vfio.VFIO_GROUP_GET_DEVICE_FD,
            BUFFER,
            5,
            20,
            100,
            List.of(read(BUFFER, name), new Op(Kind.FD, 0, 0, 0, false, true, null, 5, 6)));
    byte[] eventfd = {8, 0, 0, 0};
    Trace.Ioctl hotResetInfo = // the number of the container's VFIO_IOMMU_GET_INFO
        new Trace.Ioctl(
            3,
            6,
            PID,
            1,
            Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
            BUFFER,
            -Errno.ENODEV.number(),
            30,
            100,
            List.of(
                read(BUFFER, eventfd),
                new Op(Kind.EVENTFD, 0, 0, 0, false, true, null, 9, 1),
                irq(0, 0)));
    CallPrinter.Files files = new CallPrinter.Files();
    StringBuilder lines = new StringBuilder();
    for (Trace.Event e : List.of(group, getFd, hotResetInfo)) {
      lines.append(CallPrinter.line(e, false, files)).append('\n');
      files.see(e);
    }

    assertThat(lines.toString())
        .isEqualTo(
            """
            [pid 7] open /dev/vfio/4 = file 3
            [pid 7] ioctl(file 3, VFIO_GROUP_GET_DEVICE_FD, 0x7ffd1000 <303030303a30303a30342e3000>) = 5 (fd 5 = file 6)
            [pid 7] ioctl(file 6, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, 0x7ffd1000 <08000000>) = -1 ENODEV (No such device) irq INTX[0]
            """);
    assertThat(CallPrinter.line(hotResetInfo, false)).contains("VFIO_IOMMU_GET_INFO"); // no context
    assertRoundTrips(group, getFd, hotResetInfo);
  }
}
