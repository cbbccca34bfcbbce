package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIrqInfo;
import org.iommufd4j.uapi.VfioRegionInfo;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Seeded random region and IRQ queries, reads and writes, made on one edu through the typed VFIO
 * API and on another through the raw calls a C program makes: the same answers, byte for byte and
 * errno for errno ({@code -Dseed=N} to replay one).
 */
class VfioTypedAndRawAgreeTest {
  private static final long SEED = Long.getLong("seed", 1307);
  private static final int OPS = 2000;
  private static final int[] REGIONS = {0, 1, VfioRegion.CONFIG};
  private static final long[] BAR0_WRITABLE = {0x04, 0x80, 0x88, 0x90, 0xffffc, 0x100000};

  private final Arena arena = Arena.ofConfined();
  private final EmulatedMachine typedMachine = EmulatedMachine.withDevices(EduDevice::new);
  private final EmulatedMachine rawMachine = EmulatedMachine.withDevices(EduDevice::new);
  private final Iommufd iommufd = typedMachine.openIommufd();
  private final VfioDevice typed = typedMachine.openDevice("0000:00:04.0");
  private int raw;

  @AfterEach
  void close() {
    typed.close();
    iommufd.close();
    typedMachine.close();
    rawMachine.close();
    arena.close();
  }

  private MemorySegment words(int... values) {
    MemorySegment s = arena.allocate(64, 8);
    for (int i = 0; i < values.length; i++) {
      s.setAtIndex(JAVA_INT, i, values[i]);
    }
    return s;
  }

  private void bindBoth() {
    typed.bind(iommufd);
    typed.attach(iommufd.createIoas());
    raw = rawMachine.open("/dev/vfio/devices/vfio0");
    int rawIommufd = rawMachine.open("/dev/iommu");
    rawMachine.ioctl(raw, Vfio.VFIO_DEVICE_BIND_IOMMUFD, words(16, 0, rawIommufd, 0));
    MemorySegment alloc = words(IommuIoasAlloc.SIZE);
    rawMachine.ioctl(rawIommufd, Command.IOMMU_IOAS_ALLOC.request(), alloc);
    int ioas = alloc.get(JAVA_INT, IommuIoasAlloc.OUT_IOAS_ID);
    rawMachine.ioctl(raw, Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT, words(12, 0, ioas));
  }

  /** What a call gave: its value, or the errno it failed with. */
  private static String outcome(Supplier<Object> call) {
    try {
      Object v = call.get();
      return v instanceof byte[] b ? Arrays.toString(b) : String.valueOf(v);
    } catch (IommufdException e) {
      return e.errno().name();
    }
  }

  private String rawRegionInfo(int index) {
    MemorySegment info = words(VfioRegionInfo.SIZE, 0, index);
    rawMachine.ioctl(raw, Vfio.VFIO_DEVICE_GET_REGION_INFO, info);
    return info.get(JAVA_INT, VfioRegionInfo.FLAGS)
        + " "
        + info.get(JAVA_LONG, VfioRegionInfo.SIZE_FIELD)
        + " "
        + info.get(JAVA_LONG, VfioRegionInfo.OFFSET);
  }

  private String rawIrqInfo(int index) {
    MemorySegment info = words(VfioIrqInfo.SIZE, 0, index);
    rawMachine.ioctl(raw, Vfio.VFIO_DEVICE_GET_IRQ_INFO, info);
    return info.get(JAVA_INT, VfioIrqInfo.FLAGS) + " " + info.get(JAVA_INT, VfioIrqInfo.COUNT);
  }

  @Test
  void theTypedApiAnswersAsTheRawCallsDo() {
    bindBoth();
    VfioRegion[] regions = new VfioRegion[VfioRegion.CONFIG + 1];
    for (int r : REGIONS) {
      regions[r] = typed.region(r);
    }
    SplittableRandom random = new SplittableRandom(SEED);
    for (int op = 0; op < OPS; op++) {
      String what;
      String viaTyped;
      String viaRaw;
      switch (random.nextInt(4)) {
        case 0 -> {
          int index = random.nextInt(12);
          what = "region info " + index;
          viaTyped =
              outcome(
                  () -> {
                    VfioRegion r = typed.region(index);
                    return r.flags() + " " + r.size() + " " + r.offset();
                  });
          viaRaw = outcome(() -> rawRegionInfo(index));
        }
        case 1 -> {
          int index = random.nextInt(7);
          what = "irq info " + index;
          viaTyped =
              outcome(
                  () -> {
                    VfioDevice.IrqInfo i = typed.irqInfo(index);
                    return i.flags() + " " + i.count();
                  });
          viaRaw = outcome(() -> rawIrqInfo(index));
        }
        case 2 -> {
          VfioRegion region = regions[REGIONS[random.nextInt(REGIONS.length)]];
          long offset = offsetNear(random, region.size());
          int length = 1 + random.nextInt(16);
          what =
              "read region " + region.index() + " at 0x" + Long.toHexString(offset) + "+" + length;
          viaTyped = outcome(() -> read(length, dst -> region.read(offset, dst)));
          viaRaw =
              outcome(
                  () -> read(length, dst -> rawMachine.pread(raw, dst, region.offset() + offset)));
        }
        default -> {
          boolean config = random.nextBoolean();
          VfioRegion region = regions[config ? VfioRegion.CONFIG : 0];
          long offset =
              config ? random.nextLong(0x108) : BAR0_WRITABLE[random.nextInt(BAR0_WRITABLE.length)];
          byte[] bytes = new byte[config ? 1 + random.nextInt(8) : random.nextBoolean() ? 4 : 8];
          random.nextBytes(bytes);
          if (config && offset <= 0x04 && offset + bytes.length > 0x04) {
            bytes[(int) (0x04 - offset)] |= 0x2; // keep memory decoding on, mostly
          }
          what = "write region " + region.index() + " at 0x" + Long.toHexString(offset);
          viaTyped = outcome(() -> region.write(offset, MemorySegment.ofArray(bytes)));
          viaRaw =
              outcome(
                  () ->
                      rawMachine.pwrite(
                          raw,
                          arena.allocate(bytes.length).copyFrom(MemorySegment.ofArray(bytes)),
                          region.offset() + offset));
        }
      }
      assertThat(viaTyped).as("seed %d op %d: %s", SEED, op, what).isEqualTo(viaRaw);
    }
  }

  private interface Reader {
    long read(MemorySegment dst);
  }

  /** The count read and the bytes, from a buffer filled with a marker first. */
  private byte[] read(int length, Reader reader) {
    MemorySegment dst = arena.allocate(length).fill((byte) 0xa5);
    long n = reader.read(dst);
    byte[] out = Arrays.copyOf(dst.toArray(JAVA_BYTE), length + 1);
    out[length] = (byte) n;
    return out;
  }

  /** Mostly inside the region, sometimes across or past its end. */
  private static long offsetNear(SplittableRandom random, long size) {
    return switch (random.nextInt(4)) {
      case 0 -> Math.max(0, size - random.nextInt(1, 17));
      case 1 -> size + random.nextInt(16);
      default -> size == 0 ? random.nextInt(64) : random.nextLong(size);
    };
  }
}
