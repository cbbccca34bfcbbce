package org.iommufd4j.vfio;

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
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VirtualClock;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A PCI Express device with FLR, MSI-X in a 64-bit BAR and an I/O BAR through the emulated vfio-pci
 * device file: what edu (in {@link EduOracleTest}) does not exercise.
 */
class VfioPciDeviceTest {
  private static final long SEED = Long.getLong("seed", 1234);
  private static final long CONFIG = 7L << 40;
  private static final int READ_WRITE = 0x3;
  private static final int MMAP = 0x4;
  private static final int CAPS = 0x8;

  private final Arena arena = Arena.ofConfined();
  private final Registers model = new Registers();
  private final VfioPciDevice device = new VfioPciDevice(function());
  private final VfioPciIoctls ioctls = new VfioPciIoctls(device);

  private PciFunction function() {
    ConfigSpace config =
        ConfigSpace.builder(0x1b36, 0x0010)
            .bar(Bar.memory32(0, 0x1000))
            .bar(Bar.memory64(2, 0x4000, false))
            .bar(Bar.io(4, 0x20))
            .msix(8, 2, 0, 2, 0x800)
            .pciExpress(true)
            .build();
    model.config = config;
    return PciFunction.create(
        p -> model, DmaPort.UNATTACHED, new VirtualClock(), Interrupts.Sink.DISCARD);
  }

  @AfterEach
  void close() {
    arena.close();
  }

  @Test
  void deviceInfoOffersResetWhenTheDeviceHasFlr() {
    assertThat(device.info()).isEqualTo(new VfioPciDevice.DeviceInfo(0x3, 9, 5));
  }

  @Test
  void deviceInfoIsCopiedOutOnlyAsFarAsArgsz() {
    MemorySegment info = arena.allocate(20).fill((byte) 0xa5);
    info.set(ValueLayout.JAVA_INT, 0, 20);
    ioctls.ioctl(Vfio.VFIO_DEVICE_GET_INFO, info);
    assertThat(info.get(ValueLayout.JAVA_INT, 4)).as("flags").isEqualTo(0x3);
    assertThat(info.get(ValueLayout.JAVA_INT, 16)).as("cap_offset").isZero();
  }

  @Test
  void theMsixBarIsMappableAndACapabilitySaysSoWhenArgszLetsIt() {
    MemorySegment r = regionInfo(2, 32);
    assertThat(r.get(ValueLayout.JAVA_INT, 0)).as("argsz: what the chain needs").isEqualTo(40);
    assertThat(r.get(ValueLayout.JAVA_INT, 4)).isEqualTo(READ_WRITE | MMAP | CAPS);
    assertThat(r.get(ValueLayout.JAVA_INT, 12)).as("cap_offset").isZero();
    assertThat(r.get(ValueLayout.JAVA_LONG, 16)).isEqualTo(0x4000);
    assertThat(r.get(ValueLayout.JAVA_LONG, 24)).isEqualTo(2L << 40);
    assertThat(r.get(ValueLayout.JAVA_SHORT, 32))
        .as("nothing written past argsz")
        .isEqualTo((short) 0);

    r = regionInfo(2, 40);
    assertThat(r.get(ValueLayout.JAVA_INT, 0)).isEqualTo(40);
    assertThat(r.get(ValueLayout.JAVA_INT, 12)).as("cap_offset").isEqualTo(32);
    assertThat(r.get(ValueLayout.JAVA_SHORT, 32)).as("id MSIX_MAPPABLE").isEqualTo((short) 3);
    assertThat(r.get(ValueLayout.JAVA_SHORT, 34)).as("version").isEqualTo((short) 1);
    assertThat(r.get(ValueLayout.JAVA_INT, 36)).as("next").isZero();
  }

  @Test
  void otherRegionsHaveNoCapabilitiesAndIoBarsCannotBeMapped() {
    assertThat(device.regionInfo(0))
        .isEqualTo(new VfioPciDevice.RegionInfo(0, READ_WRITE | MMAP, 0x1000, 0, false));
    assertThat(device.regionInfo(3))
        .as("the upper half of a 64-bit BAR")
        .isEqualTo(new VfioPciDevice.RegionInfo(3, 0, 0, 3L << 40, false));
    assertThat(device.regionInfo(4))
        .isEqualTo(new VfioPciDevice.RegionInfo(4, READ_WRITE, 0x20, 4L << 40, false));
    assertThat(device.regionInfo(7).size()).as("PCI Express config space").isEqualTo(4096);
    assertThatThrownBy(() -> device.regionInfo(-1))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
  }

  @Test
  void interruptCountsComeFromConfigSpace() {
    assertThat(device.irqInfo(0)).isEqualTo(new VfioPciDevice.IrqInfo(0, 0x7, 0));
    assertThat(device.irqInfo(1)).isEqualTo(new VfioPciDevice.IrqInfo(1, 0x9, 0));
    assertThat(device.irqInfo(2)).isEqualTo(new VfioPciDevice.IrqInfo(2, 0x9, 8));
    assertThat(device.irqInfo(3))
        .as("ERR exists on PCI Express")
        .isEqualTo(new VfioPciDevice.IrqInfo(3, 0x9, 1));
    assertThat(device.irqInfo(4)).isEqualTo(new VfioPciDevice.IrqInfo(4, 0x9, 1));
  }

  @Test
  void readsSkipTheMsixTableWithOnesAndWritesToItAreDropped() {
    MemorySegment buf = arena.allocate(0x90);
    assertThat(device.read(2L << 40, buf)).isEqualTo(0x90);
    for (int i = 0; i < 0x80; i++) {
      assertThat(buf.get(ValueLayout.JAVA_BYTE, i)).isEqualTo((byte) -1);
    }
    assertThat(model.accesses).containsExactly("r2@0x80/8", "r2@0x88/8");
    model.accesses.clear();
    assertThat(device.write(2L << 40, buf.asSlice(0, 0x88))).isEqualTo(0x88);
    assertThat(model.accesses).containsExactly("w2@0x80/8");
  }

  @Test
  void accessesAreCutIntoNaturallyAlignedPieces() {
    device.read(1, arena.allocate(14));
    assertThat(model.accesses)
        .containsExactly("r0@0x1/1", "r0@0x2/2", "r0@0x4/4", "r0@0x8/4", "r0@0xc/2", "r0@0xe/1");
  }

  @Test
  void randomAccessesCoverTheirRangeOnceAndStopAtTheBarsEnd() {
    SplittableRandom random = new SplittableRandom(SEED);
    for (int round = 0; round < 500; round++) {
      long offset = random.nextLong(0x1000);
      int count = 1 + random.nextInt(64);
      model.accesses.clear();
      int done = device.write(offset, arena.allocate(count));
      assertThat(done)
          .as("seed %d round %d", SEED, round)
          .isEqualTo(Math.min(count, 0x1000 - offset));
      long at = offset;
      for (String access : model.accesses) {
        long start = Long.decode(access.substring(3, access.indexOf('/')));
        int width = Integer.parseInt(access.substring(access.indexOf('/') + 1));
        assertThat(start).as("seed %d: %s follows 0x%x", SEED, access, at).isEqualTo(at);
        assertThat(start % width).as("seed %d: %s aligned", SEED, access).isZero();
        at += width;
      }
      assertThat(at).isEqualTo(offset + done);
    }
  }

  @Test
  void ioBarsWorkWithMemoryDecodingOffAndMemoryBarsFailWithEio() {
    int command = (int) read(CONFIG + 4, 2);
    write(CONFIG + 4, 2, command & ~0x2);
    assertThat(read((4L << 40) + 4, 4)).isEqualTo(4);
    assertThatThrownBy(() -> read(0, 4))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EIO));
  }

  @Test
  void resetResetsTheModelAndKeepsTheProgramsHeader() {
    write(CONFIG + 4, 2, 0x6);
    assertThat(ioctls.ioctl(Vfio.VFIO_DEVICE_RESET, MemorySegment.NULL)).isZero();
    assertThat(model.resets).isEqualTo(1);
    assertThat(read(CONFIG + 4, 2)).isEqualTo(0x6);
    assertThat(read(0, 4)).as("BAR0 still decodes").isZero();
  }

  @Test
  void flrThroughThePciExpressCapabilityResetsTheModel() {
    int exp = model.config.findCapability(0x10);
    write(CONFIG + exp + 8, 2, read(CONFIG + exp + 8, 2) | 0x8000);
    assertThat(model.resets).isEqualTo(1);
    assertThat(read(CONFIG + exp + 8, 2) & 0x8000).as("initiate FLR reads 0").isZero();
  }

  @Test
  void anArgumentTooShortToCopyIsEfaultAndUnknownRequestsAreEnotty() {
    assertThatThrownBy(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_GET_INFO, arena.allocate(8)))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT));
    assertThatThrownBy(() -> ioctls.ioctl(Vfio.VFIO_DEVICE_BIND_IOMMUFD, arena.allocate(32)))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOTTY));
  }

  private MemorySegment regionInfo(int index, int argsz) {
    MemorySegment r = arena.allocate(64);
    r.set(ValueLayout.JAVA_INT, 0, argsz);
    r.set(ValueLayout.JAVA_INT, 8, index);
    ioctls.ioctl(Vfio.VFIO_DEVICE_GET_REGION_INFO, r);
    return r;
  }

  private long read(long pos, int count) {
    MemorySegment buf = arena.allocate(8);
    device.read(pos, buf.asSlice(0, count));
    return buf.get(ValueLayout.JAVA_LONG, 0);
  }

  private void write(long pos, int count, long value) {
    MemorySegment buf = arena.allocate(8);
    buf.set(ValueLayout.JAVA_LONG, 0, value);
    device.write(pos, buf.asSlice(0, count));
  }

  /** Registers that read as their offset and record every access as "r|w bar@offset/width". */
  private static final class Registers implements PciDevice {
    ConfigSpace config;
    final List<String> accesses = new ArrayList<>();
    int resets;

    @Override
    public ConfigSpace configSpace() {
      return config;
    }

    @Override
    public long read(int bar, long offset, int size) {
      accesses.add("r" + bar + "@0x" + Long.toHexString(offset) + "/" + size);
      return offset;
    }

    @Override
    public void write(int bar, long offset, int size, long value) {
      accesses.add("w" + bar + "@0x" + Long.toHexString(offset) + "/" + size);
    }

    @Override
    public void reset() {
      resets++;
    }
  }
}
