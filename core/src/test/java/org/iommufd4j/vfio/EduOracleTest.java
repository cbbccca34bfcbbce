package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.IommufdException;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * edu through the emulated vfio-pci device file, probed the way bridge/native/tests/vfio/
 * edu_common.c probes the real one: each probe prints its line in the transcript's format, and the
 * lines must appear, in order, in what Linux 6.12 answered through the cdev (oracle/edu_cdev.txt)
 * and through the group (edu_group.txt).
 */
class EduOracleTest {
  private static final Path ORACLE = Path.of("..", "bridge", "src", "test", "resources", "oracle");
  private static final long CONFIG = 7L << 40;
  private static final String[] DEVICE_FLAGS = {
    "RESET", "PCI", "PLATFORM", "AMBA", "CCW", "AP", "FSL_MC", "CAPS", "CDX"
  };
  private static final String[] REGION_FLAGS = {"READ", "WRITE", "MMAP", "CAPS"};
  private static final String[] IRQ_FLAGS = {"EVENTFD", "MASKABLE", "AUTOMASKED", "NORESIZE"};

  private Arena arena;
  private VfioPciDevice device;
  private VfioPciIoctls ioctls;
  private final List<String> lines = new ArrayList<>();

  @BeforeEach
  void open() {
    arena = Arena.ofConfined();
    PciFunction edu =
        PciFunction.create(
            EduDevice::new, DmaPort.UNATTACHED, new VirtualClock(), Interrupts.Sink.DISCARD);
    // The interrupt line is the host firmware's routing, not vfio-pci's: the oracle VM's BIOS
    // routed edu's INTA to IRQ 10.
    edu.config().write(0x3c, 1, 0x0a);
    device = new VfioPciDevice(edu);
    ioctls = new VfioPciIoctls(device);
  }

  @AfterEach
  void close() {
    arena.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void deviceInfoIsWhatTheKernelAnswers(String transcript) throws IOException {
    print(
        "VFIO_DEVICE_GET_INFO argsz=12 => %s", result(() -> ioctl(Vfio.VFIO_DEVICE_GET_INFO, 12)));
    MemorySegment minimal = arena.allocate(24).fill((byte) 0xa5);
    minimal.set(ValueLayout.JAVA_INT, 0, 16);
    String rc = result(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_GET_INFO, minimal));
    int capOffset = minimal.get(ValueLayout.JAVA_INT, 16);
    print(
        "VFIO_DEVICE_GET_INFO argsz=16 => %s argsz=%d flags=%s num_regions=%d num_irqs=%d"
            + " cap_offset=0x%x(untouched=%d)",
        rc,
        minimal.get(ValueLayout.JAVA_INT, 0),
        flags(minimal.get(ValueLayout.JAVA_INT, 4), DEVICE_FLAGS),
        minimal.get(ValueLayout.JAVA_INT, 8),
        minimal.get(ValueLayout.JAVA_INT, 12),
        capOffset,
        capOffset == 0xa5a5a5a5 ? 1 : 0);
    MemorySegment big = arena.allocate(512);
    big.set(ValueLayout.JAVA_INT, 0, 512);
    rc = result(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_GET_INFO, big));
    print(
        "VFIO_DEVICE_GET_INFO argsz=512 => %s argsz=%d flags=%s num_regions=%d num_irqs=%d"
            + " cap_offset=%d",
        rc,
        big.get(ValueLayout.JAVA_INT, 0),
        flags(big.get(ValueLayout.JAVA_INT, 4), DEVICE_FLAGS),
        big.get(ValueLayout.JAVA_INT, 8),
        big.get(ValueLayout.JAVA_INT, 12),
        big.get(ValueLayout.JAVA_INT, 16));
    assertTranscriptHasLines(transcript);
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void everyRegionIsWhatTheKernelAnswers(String transcript) throws IOException {
    String[] names = {"BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA"};
    for (int index = 0; index <= 9; index++) {
      MemorySegment r = arena.allocate(512);
      r.set(ValueLayout.JAVA_INT, 0, 32);
      r.set(ValueLayout.JAVA_INT, 8, index);
      String rc = result(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_GET_REGION_INFO, r));
      String name = index < 9 ? names[index] : "beyond";
      if (!rc.equals("0")) {
        print("VFIO_DEVICE_GET_REGION_INFO index=%d(%s) => %s", index, name, rc);
        continue;
      }
      print(
          "VFIO_DEVICE_GET_REGION_INFO index=%d(%s) => 0 argsz=%d flags=%s size=0x%x offset=0x%x"
              + " cap_offset=%d",
          index,
          name,
          r.get(ValueLayout.JAVA_INT, 0),
          flags(r.get(ValueLayout.JAVA_INT, 4), REGION_FLAGS),
          r.get(ValueLayout.JAVA_LONG, 16),
          r.get(ValueLayout.JAVA_LONG, 24),
          r.get(ValueLayout.JAVA_INT, 12));
    }
    print(
        "VFIO_DEVICE_GET_REGION_INFO argsz=8 => %s",
        result(() -> ioctl(Vfio.VFIO_DEVICE_GET_REGION_INFO, 8)));
    assertTranscriptHasLines(transcript);
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void everyInterruptIndexIsWhatTheKernelAnswers(String transcript) throws IOException {
    String[] names = {"INTX", "MSI", "MSIX", "ERR", "REQ", "beyond"};
    for (int index = 0; index <= 5; index++) {
      MemorySegment info = arena.allocate(16);
      info.set(ValueLayout.JAVA_INT, 0, 16);
      info.set(ValueLayout.JAVA_INT, 8, index);
      String rc = result(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_GET_IRQ_INFO, info));
      if (!rc.equals("0")) {
        print("VFIO_DEVICE_GET_IRQ_INFO index=%d(%s) => %s", index, names[index], rc);
        continue;
      }
      print(
          "VFIO_DEVICE_GET_IRQ_INFO index=%d(%s) => 0 argsz=%d flags=%s count=%d",
          index,
          names[index],
          info.get(ValueLayout.JAVA_INT, 0),
          flags(info.get(ValueLayout.JAVA_INT, 4), IRQ_FLAGS),
          info.get(ValueLayout.JAVA_INT, 12));
    }
    print(
        "VFIO_DEVICE_GET_IRQ_INFO argsz=8 => %s",
        result(() -> ioctl(Vfio.VFIO_DEVICE_GET_IRQ_INFO, 8)));
    assertTranscriptHasLines(transcript);
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void configSpaceReadsAndWritesAreWhatTheKernelAnswers(String transcript) throws IOException {
    MemorySegment space = arena.allocate(4096).fill((byte) 0xa5);
    print("CONFIG pread offset=0 count=256 => %s", result(() -> pread(CONFIG, space, 256)));
    for (int row = 0; row < 16; row++) {
      StringBuilder line = new StringBuilder(String.format("CONFIG 0x%02x:", row * 16));
      for (int col = 0; col < 4; col++) {
        int at = row * 16 + col * 4;
        int v = space.get(ValueLayout.JAVA_INT, at);
        boolean address = at >= 0x10 && at <= 0x24 && (v & ~0xf) != 0;
        line.append(address ? String.format(" bar|0x%x", v & 0xf) : String.format(" %08x", v));
      }
      lines.add(line.toString());
    }
    for (int at = space.get(ValueLayout.JAVA_BYTE, 0x34) & 0xff, hops = 0;
        at != 0 && hops < 48;
        at = space.get(ValueLayout.JAVA_BYTE, at + 1) & 0xff, hops++) {
      print(
          "CONFIG capability at=0x%02x id=0x%02x next=0x%02x word=0x%04x",
          at,
          space.get(ValueLayout.JAVA_BYTE, at) & 0xff,
          space.get(ValueLayout.JAVA_BYTE, at + 1) & 0xff,
          space.get(ValueLayout.JAVA_SHORT, at + 2) & 0xffff);
    }
    print("CONFIG pread offset=0 count=4096 => %s", result(() -> pread(CONFIG, space, 4096)));
    print("CONFIG pread offset=0x100 count=4 => %s", result(() -> pread(CONFIG + 0x100, space, 4)));
    print("CONFIG pread offset=0xffc count=4 => %s", result(() -> pread(CONFIG + 0xffc, space, 4)));
    print("CONFIG pread offset=0x3 count=2 => %s", result(() -> pread(CONFIG + 3, space, 2)));
    print("CONFIG pwrite vendor=0xbeef => %s", result(() -> pwrite(CONFIG, 2, 0xbeef)));
    print("CONFIG vendor after write = 0x%04x", read(CONFIG, 2));
    int command = (int) read(CONFIG + 4, 2);
    print("CONFIG command=0x%04x status=0x%04x", command, read(CONFIG + 6, 2));
    long restore = read(CONFIG + 0x10, 4);
    print("CONFIG pwrite BAR0=0xffffffff => %s", result(() -> pwrite(CONFIG + 0x10, 4, -1)));
    print("CONFIG BAR0 after sizing write = 0x%08x", read(CONFIG + 0x10, 4));
    pwrite(CONFIG + 0x10, 4, restore);
    print("CONFIG BAR0 restored=%d", read(CONFIG + 0x10, 4) == restore ? 1 : 0);
    pwrite(CONFIG + 4, 2, command & ~0x2);
    print("CONFIG command with MEMORY cleared=0x%04x", read(CONFIG + 4, 2));
    print(
        "BAR0 pread id with memory decoding off => %s",
        result(() -> pread(0, space.asSlice(0), 4)));
    pwrite(CONFIG + 4, 2, command);
    print("CONFIG command restored=0x%04x", read(CONFIG + 4, 2));
    assertTranscriptHasLines(transcript);
  }

  @ParameterizedTest
  @ValueSource(strings = {"edu_cdev.txt", "edu_group.txt"})
  void bar0AccessesSplitAndEndAsTheKernelDoes(String transcript) throws IOException {
    MemorySegment buf = arena.allocate(32);
    print("BAR0 pread id => %s value=0x%08x", result(() -> pread(0, buf, 4)), word(buf, 4));
    print("BAR0 pwrite liveness=0x12345678 => %s", result(() -> pwrite(4, 4, 0x12345678)));
    print("BAR0 pread liveness = 0x%08x", read(4, 4));
    print(
        "BAR0 pread offset=0x0 count=8 => %s value=0x%016x",
        result(() -> pread(0, buf, 8)), word(buf, 8));
    print(
        "BAR0 pread offset=0x0 count=2 => %s value=0x%04x",
        result(() -> pread(0, buf, 2)), word(buf, 2));
    print(
        "BAR0 pread offset=0x0 count=1 => %s value=0x%02x",
        result(() -> pread(0, buf, 1)), word(buf, 1));
    print(
        "BAR0 pread offset=0x2 count=4 => %s value=0x%08x",
        result(() -> pread(2, buf, 4)), word(buf, 4));
    String rc = result(() -> pread(0, buf, 32));
    StringBuilder words = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      words.append(String.format(" %08x", buf.get(ValueLayout.JAVA_INT, 4 * i)));
    }
    lines.add("BAR0 pread offset=0x0 count=32 => " + rc + " words=" + words.substring(1));
    pwrite(0x80, 8, 0x0123456789abcdefL);
    print(
        "BAR0 pwrite+pread dma_src count=8 => %s value=0x%016x",
        result(() -> pread(0x80, buf, 8)), word(buf, 8));
    pwrite(0x80, 8, 0);
    print("BAR0 pread unused offset=0x1000 = 0x%08x", read(0x1000, 4));
    print(
        "BAR0 pread last dword => %s value=0x%08x",
        result(() -> pread(0xffffc, buf, 4)), word(buf, 4));
    print("BAR0 pread at size => %s", result(() -> pread(0x100000, buf, 4)));
    print("BAR0 pread straddling end count=8 => %s", result(() -> pread(0xffffc, buf, 8)));
    print("BAR1 pread => %s", result(() -> pread(1L << 40, buf, 4)));
    print("ROM pread => %s", result(() -> pread(6L << 40, buf, 4)));
    print("pread region index 9 => %s", result(() -> pread(9L << 40, buf, 4)));
    assertTranscriptHasLines(transcript);
  }

  @Test
  void resetAndHotResetAreRefusedAndChangeNothing() throws IOException {
    pwrite(CONFIG + 4, 2, 0x6);
    pwrite(4, 4, 0x0f0f0f0f);
    print("VFIO_DEVICE_RESET => %s", result(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_RESET, null)));
    print(
        "after reset: id=0x%08x liveness=0x%08x command=0x%04x",
        read(0, 4), read(4, 4), read(CONFIG + 4, 2));
    MemorySegment hot = arena.allocate(256);
    hot.set(ValueLayout.JAVA_INT, 0, 256);
    print(
        "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO => %s",
        result(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, hot)));
    assertTranscriptHasLines("edu_cdev.txt"); // the group transcript does not reset
  }

  // ---- what the C probes do, in Java ----

  private interface Call {
    long run();
  }

  private static String result(Call call) {
    try {
      return Long.toString(call.run());
    } catch (IommufdException e) {
      return "-" + e.errno().name();
    }
  }

  private int ioctl(long request, int argsz) {
    MemorySegment arg = arena.allocate(32);
    arg.set(ValueLayout.JAVA_INT, 0, argsz);
    return ioctls.ioctl(request, arg);
  }

  private long pread(long pos, MemorySegment buf, int count) {
    buf.fill((byte) 0);
    return device.read(pos, buf.asSlice(0, count));
  }

  private long pwrite(long pos, int count, long value) {
    MemorySegment buf = arena.allocate(8);
    buf.set(ValueLayout.JAVA_LONG, 0, value);
    return device.write(pos, buf.asSlice(0, count));
  }

  private long read(long pos, int count) {
    MemorySegment buf = arena.allocate(8);
    device.read(pos, buf.asSlice(0, count));
    return word(buf, count);
  }

  private static long word(MemorySegment buf, int count) {
    long v = 0;
    for (int i = 0; i < count; i++) {
      v |= (buf.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
    }
    return v;
  }

  private static String flags(int flags, String[] names) {
    StringBuilder s = new StringBuilder("0x" + Integer.toHexString(flags));
    String sep = "(";
    for (int bit = 0; bit < names.length; bit++) {
      if ((flags & (1 << bit)) != 0) {
        s.append(sep).append(names[bit]);
        sep = "|";
      }
    }
    return sep.equals("|") ? s.append(')').toString() : s.toString();
  }

  private void print(String format, Object... args) {
    lines.add(String.format(format, args));
  }

  private void assertTranscriptHasLines(String transcript) throws IOException {
    assertThat(Files.readAllLines(ORACLE.resolve(transcript))).containsSubsequence(lines);
  }
}
