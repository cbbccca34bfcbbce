package org.iommufd4j.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.pci.edu.EduDevice;
import org.junit.jupiter.api.Test;

/** Config space as a program reads and writes it through vfio-pci (Linux 6.12). */
class VfioPciConfigTest {
  private static final long SEED = Long.getLong("seed", 1234);

  private final List<String> events = new ArrayList<>();
  private final VfioPciConfig.Events recorder =
      new VfioPciConfig.Events() {
        @Override
        public void intxMasked(boolean masked) {
          events.add("intx masked=" + masked);
        }

        @Override
        public void powerStateChanged(int state) {
          events.add("D" + state);
        }

        @Override
        public void functionLevelReset() {
          events.add("flr");
        }
      };

  private static PciFunction edu() {
    return PciFunction.create(EduDevice::new, new NoDma(), new VirtualClock(), new RecordingSink());
  }

  /** A PCI Express device with most of what ConfigSpace.Builder can make. */
  private static ConfigSpace rich() {
    ConfigSpace c =
        ConfigSpace.builder(0x8086, 0x1234)
            .classCode(0x020000)
            .interruptPin(1)
            .bar(Bar.memory64(0, 1 << 14, true))
            .bar(Bar.io(2, 32))
            .bar(Bar.memory32(3, 1 << 12))
            .powerManagement()
            .msi(8, true, true)
            .capability(0x0d, new byte[] {0, 0, 0x34, 0x12, 0x78, 0x56}) // SSVID: vfio hides it
            .msix(4, 3, 0, 3, 0x800)
            .pciExpress(true)
            .vendorCapability(new byte[] {1, 2, 3, 4, 5})
            .extendedCapability(0x1b, 1, new byte[4]) // PASID first: vfio keeps a blank anchor
            .extendedCapability(0x01, 2, new byte[0x28]) // AER
            .extendedCapability(0x1b, 1, new byte[4]) // PASID again: unlinked
            .extendedCapability(0x03, 1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}) // serial number
            .build();
    PciFunction.create(
        p -> new FixedDevice(c), new NoDma(), new VirtualClock(), new RecordingSink());
    return c;
  }

  private static int read(VfioPciConfig v, int offset, int size) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(size);
      assertThat(v.read(offset, buf)).isEqualTo(size);
      long value = 0;
      for (int i = 0; i < size; i++) {
        value |= (buf.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * i);
      }
      return (int) value;
    }
  }

  private static void write(VfioPciConfig v, int offset, int size, int value) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(size);
      for (int i = 0; i < size; i++) {
        buf.set(ValueLayout.JAVA_BYTE, i, (byte) (value >>> (8 * i)));
      }
      assertThat(v.write(offset, buf)).isEqualTo(size);
    }
  }

  @Test
  void openingTurnsOnDecodingAndOffBusMastering() {
    PciFunction fn = edu();
    fn.config().write(0x04, 2, 0x0404);
    VfioPciConfig v = new VfioPciConfig(fn.config(), recorder);
    assertThat(fn.config().read(0x04, 2)).isEqualTo(0x0002);
    assertThat(read(v, 0x04, 2)).isEqualTo(0x0002);
    assertThat(v.size()).isEqualTo(256);
  }

  @Test
  void identityAndClassReadAsTheDeviceHasThemAndIgnoreWrites() {
    VfioPciConfig v = new VfioPciConfig(edu().config(), recorder);
    assertThat(read(v, 0x00, 4)).isEqualTo(0x11e8_1234);
    assertThat(read(v, 0x08, 4)).isEqualTo(0x00ff_0010);
    assertThat(read(v, 0x2c, 4)).isEqualTo(0x1100_1af4);
    write(v, 0x00, 4, 0);
    write(v, 0x08, 4, 0);
    write(v, 0x3d, 1, 4);
    assertThat(read(v, 0x00, 4)).isEqualTo(0x11e8_1234);
    assertThat(read(v, 0x08, 4)).isEqualTo(0x00ff_0010);
    assertThat(read(v, 0x3d, 1)).isEqualTo(1);
  }

  @Test
  void barsShowTheHostAddressAndSizeButWritesStayVirtual() {
    PciFunction fn = edu();
    VfioPciConfig v = new VfioPciConfig(fn.config(), recorder);
    assertThat(read(v, 0x10, 4)).isEqualTo(0xfc00_0000);
    write(v, 0x10, 4, -1);
    assertThat(read(v, 0x10, 4)).isEqualTo(0xfff0_0000);
    assertThat(fn.config().read(0x10, 4)).as("the device's BAR").isEqualTo(0xfc00_0000);
    write(v, 0x10, 4, 0x1234_5678);
    assertThat(read(v, 0x10, 4)).isEqualTo(0x1230_0000);
    for (int off = 0x14; off < 0x28; off += 4) {
      write(v, off, 4, -1);
      assertThat(read(v, off, 4)).as("BAR slot 0x%x", off).isZero();
    }
    write(v, 0x30, 4, -1);
    assertThat(read(v, 0x30, 4)).as("no ROM").isZero();
  }

  @Test
  void barsOf64BitAndIoTypesSizeLikeHardware() {
    VfioPciConfig v = new VfioPciConfig(rich(), recorder);
    assertThat(read(v, 0x10, 4)).isEqualTo(0x0000_000c);
    assertThat(read(v, 0x14, 4)).isEqualTo(0x80);
    write(v, 0x10, 4, -1);
    write(v, 0x14, 4, -1);
    assertThat(read(v, 0x10, 4)).isEqualTo(0xffff_c00c);
    assertThat(read(v, 0x14, 4)).isEqualTo(0xffff_ffff);
    write(v, 0x18, 4, -1);
    assertThat(read(v, 0x18, 4)).isEqualTo(0xffff_ffe1);
    write(v, 0x1c, 4, -1);
    assertThat(read(v, 0x1c, 4)).isEqualTo(0xffff_f000);
  }

  @Test
  void intxDisableIsVirtualAndMasksInterruptsWhileTheOtherCommandBitsReachTheDevice() {
    PciFunction fn = edu();
    VfioPciConfig v = new VfioPciConfig(fn.config(), recorder);
    write(v, 0x04, 2, 0x0406);
    assertThat(read(v, 0x04, 2)).isEqualTo(0x0406);
    assertThat(fn.config().read(0x04, 2)).isEqualTo(0x0006);
    assertThat(v.intxMasked()).isTrue();
    write(v, 0x05, 1, 0x00);
    assertThat(read(v, 0x04, 2)).isEqualTo(0x0006);
    assertThat(events).containsExactly("intx masked=true", "intx masked=false");
    assertThat(v.memoryEnabled()).isTrue();
    write(v, 0x04, 2, 0x0004);
    assertThat(v.memoryEnabled()).isFalse();
  }

  @Test
  void aDwordWriteToCommandWritesStatusBackAndSoClearsItsErrorBits() {
    PciFunction fn = edu();
    VfioPciConfig v = new VfioPciConfig(fn.config(), recorder);
    fn.config().setBits(0x06, 2, 0x2000, true); // the device saw a master abort
    write(v, 0x06, 2, 0x2000);
    assertThat(read(v, 0x06, 2) & 0x2000)
        .as("STATUS is not writable through vfio")
        .isEqualTo(0x2000);
    write(v, 0x04, 2, 0x0006);
    assertThat(read(v, 0x06, 2) & 0x2000)
        .as("a word write at COMMAND leaves STATUS alone")
        .isEqualTo(0x2000);
    write(v, 0x04, 4, 0x0000_0006);
    assertThat(read(v, 0x06, 2) & 0x2000)
        .as("a dword write at COMMAND writes back the STATUS it read: its 1s clear")
        .isZero();
  }

  @Test
  void msiEnableOnlyReachesTheDeviceOnceSetIrqsChoseMsi() {
    PciFunction fn = edu();
    VfioPciConfig v = new VfioPciConfig(fn.config(), recorder);
    assertThat(read(v, 0x34, 1)).isEqualTo(0x40);
    assertThat(read(v, 0x40, 4)).isEqualTo(0x0080_0005);
    write(v, 0x42, 2, 0x0081);
    assertThat(read(v, 0x42, 2)).isEqualTo(0x0080);
    assertThat(fn.interrupts().msiEnabled()).isFalse();
    v.setIrqType(VfioPciConfig.IrqType.MSI, 1);
    assertThat(fn.interrupts().msiEnabled()).isTrue();
    write(v, 0x42, 2, 0x0081);
    assertThat(read(v, 0x42, 2)).isEqualTo(0x0081);
    write(v, 0x44, 4, 0xfee0_100c);
    write(v, 0x4c, 2, 0x4041);
    assertThat(read(v, 0x44, 4)).isEqualTo(0xfee0_100c);
    assertThat(read(v, 0x4c, 2)).isEqualTo(0x4041);
    assertThat(fn.config().read(0x44, 4)).as("address and data are virtual").isZero();
    v.setIrqType(VfioPciConfig.IrqType.NONE, 0);
    assertThat(fn.interrupts().msiEnabled()).isFalse();
  }

  @Test
  void msiVectorCountShowsWhatSetIrqsEnabledNotWhatTheDeviceHas() {
    ConfigSpace c = rich();
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    int msi = c.findCapability(0x05);
    assertThat(c.read(msi + 2, 2) & 0x0e).as("the device: 8 vectors").isEqualTo(0x6);
    assertThat(read(v, msi + 2, 2) & 0x0e).isZero();
    v.setIrqType(VfioPciConfig.IrqType.MSI, 3);
    assertThat(read(v, msi + 2, 2) & 0x0e).as("4 vectors").isEqualTo(0x4);
    write(v, msi + 2, 2, 0x0031);
    assertThat(read(v, msi + 2, 2) & 0x71).as("8 asked, 4 given").isEqualTo(0x21);
    assertThat(c.read(msi + 2, 2) & 0x71).isEqualTo(0x21);
    write(v, msi + 0x10, 4, 0x5);
    assertThat(c.read(msi + 0x10, 4)).as("mask bits go to the device").isEqualTo(0x5);
  }

  @Test
  void msixCannotBeEnabledByAConfigWrite() {
    ConfigSpace c = rich();
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    int msix = c.findCapability(0x11);
    assertThat(read(v, msix, 4)).isEqualTo(0x0003_0000 | read(v, msix + 1, 1) << 8 | 0x11);
    write(v, msix + 2, 2, 0x8000);
    assertThat(read(v, msix + 2, 2)).isEqualTo(0x0003);
    v.setIrqType(VfioPciConfig.IrqType.MSIX, 4);
    assertThat(read(v, msix + 2, 2)).isEqualTo(0x8003);
    assertThat(read(v, msix + 4, 4)).as("table in BAR 3 at 0").isEqualTo(0x3);
    assertThat(read(v, msix + 8, 4)).as("PBA in BAR 3 at 0x800").isEqualTo(0x803);
  }

  @Test
  void capabilitiesVfioHasNoLengthForAreUnlinked() {
    ConfigSpace c = rich();
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    assertThat(walk(v)).containsExactly(0x01, 0x05, 0x11, 0x10, 0x09);
    assertThat(walk(c)).containsExactly(0x01, 0x05, 0x0d, 0x11, 0x10, 0x09);
  }

  @Test
  void extendedCapabilitiesKeepABlankAnchorAndSkipHiddenOnes() {
    ConfigSpace c = rich();
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    assertThat(v.size()).isEqualTo(4096);
    int first = read(v, 0x100, 4);
    assertThat(first & 0xfffff).as("PASID's id and version hidden").isZero();
    int aer = first >>> 20;
    assertThat(read(v, aer, 4) & 0xffff).isEqualTo(0x01);
    int next = read(v, aer, 4) >>> 20;
    assertThat(read(v, next, 4) & 0xffff).as("the second PASID is skipped").isEqualTo(0x03);
    assertThat(read(v, next + 4, 4)).isEqualTo(0x0403_0201);
    assertThat(read(v, next, 4) >>> 20).isZero();
  }

  @Test
  void powerManagementHidesPmeAndSetsTheStateOnTheProgramsBehalf() {
    ConfigSpace c = rich();
    c.setBits(c.findCapability(0x01) + 2, 2, 0xc800, true); // PME from D0 and D3hot
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    int pm = c.findCapability(0x01);
    assertThat(read(v, pm + 2, 2)).isEqualTo(0x0003);
    write(v, pm + 4, 2, 0x0003);
    assertThat(events).containsExactly("D3");
    assertThat(read(v, pm + 4, 2) & 0x3).isEqualTo(3);
    assertThat(v.memoryEnabled()).isFalse();
    write(v, pm + 4, 2, 0x0000);
    assertThat(v.memoryEnabled()).isTrue();
  }

  @Test
  void expressFlrIsACommandAndTheReadRequestSizeIsVirtual() {
    ConfigSpace c = rich();
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    int exp = c.findCapability(0x10);
    int devctl = read(v, exp + 8, 2);
    write(v, exp + 8, 2, devctl | 0x8000);
    assertThat(events).containsExactly("flr");
    assertThat(read(v, exp + 8, 2) & 0x8000).isZero();
    write(v, exp + 8, 2, (devctl & ~0x7000) | 0x5000 | 0x0200);
    assertThat(read(v, exp + 8, 2) & 0x7200).as("4096-byte reads, no phantom").isEqualTo(0x5000);
    assertThat(c.read(exp + 8, 2) & 0x7000).isEqualTo(0x5000);
  }

  @Test
  void bytesOutsideEveryCapabilityAreRawDeviceScratch() {
    PciFunction fn = edu();
    VfioPciConfig v = new VfioPciConfig(fn.config(), recorder);
    write(v, 0xf0, 4, 0xcafe_f00d);
    assertThat(read(v, 0xf0, 4)).isEqualTo(0xcafe_f00d);
    assertThat(fn.config().read(0xf0, 4)).isEqualTo(0xcafe_f00d);
  }

  @Test
  void accessesPastConfigSpaceFailWithEfaultAndMoveNothing() {
    VfioPciConfig v = new VfioPciConfig(edu().config(), recorder);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(8);
      buf.fill((byte) 0x77);
      assertThatThrownBy(() -> v.read(0xfc, buf))
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
      assertThat(buf.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) 0x77);
      assertThatThrownBy(() -> v.read(0x100, buf.asSlice(0, 1)))
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
    }
  }

  @Test
  void anyWayOfCuttingAReadReturnsTheSameBytes() {
    ConfigSpace c = rich();
    VfioPciConfig v = new VfioPciConfig(c, recorder);
    byte[] whole = new byte[v.size()];
    for (int i = 0; i < whole.length; i++) {
      whole[i] = (byte) read(v, i, 1);
    }
    SplittableRandom random = new SplittableRandom(SEED);
    try (Arena arena = Arena.ofConfined()) {
      for (int round = 0; round < 2000; round++) {
        int offset = random.nextInt(v.size());
        int length = 1 + random.nextInt(Math.min(64, v.size() - offset));
        MemorySegment buf = arena.allocate(length);
        v.read(offset, buf);
        for (int i = 0; i < length; i++) {
          assertThat(buf.get(ValueLayout.JAVA_BYTE, i))
              .as("offset 0x%x length %d byte %d (seed %d)", offset, length, i, SEED)
              .isEqualTo(whole[offset + i]);
        }
      }
    }
  }

  private static List<Integer> walk(VfioPciConfig v) {
    List<Integer> ids = new ArrayList<>();
    for (int pos = read(v, 0x34, 1); pos != 0; pos = read(v, pos + 1, 1)) {
      ids.add(read(v, pos, 1));
    }
    return ids;
  }

  private static List<Integer> walk(ConfigSpace c) {
    List<Integer> ids = new ArrayList<>();
    for (int pos = c.read(0x34, 1); pos != 0; pos = c.read(pos + 1, 1)) {
      ids.add(c.read(pos, 1));
    }
    return ids;
  }
}
