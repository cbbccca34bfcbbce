package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.VfioPciConfig.IrqType;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.Test;

/**
 * Seeded random SET_IRQS sequences, mixed with the model's interrupts, config writes, resets and
 * reopenings, on a PCI Express device with INTx, MSI and MSI-X, checked after every step: the
 * answer is one the kernel can give, the interrupt type agrees with the device's MSI and MSI-X
 * enables and with the MSI-X table's masks, the device holds exactly the eventfd references not yet
 * put, nothing is signalled through a put reference, and closing puts every one and silences the
 * device. {@code -Dseed=N} replays a run.
 */
class SetIrqsRandomTest {
  private static final long SEED = Long.getLong("seed", System.nanoTime());
  private static final int STEPS = 4000;
  private static final int MSIX_VECTORS = IrqTestDevice.MSIX_VECTORS;
  private static final long MSIX_TABLE = IrqTestDevice.MSIX_TABLE;
  private static final int[] FDS = {10, 11, 12, 13, -1, -1, 999, EventFdTable.NOT_AN_EVENTFD};
  private static final Set<Errno> ANSWERS =
      Set.of(Errno.EINVAL, Errno.ENOTTY, Errno.EBADF, Errno.EBUSY, Errno.ERANGE);

  private final EventFdTable files = new EventFdTable();
  private final List<EventFdTable.Counter> counters =
      List.of(files.open(10), files.open(11), files.open(12), files.open(13));
  private final IrqTestDevice model = new IrqTestDevice();
  private final PciFunction function = model.function();
  private VfioPciDevice device = new VfioPciDevice(function);

  @Test
  void randomSetIrqsKeepTheStateConsistentAndEveryEventfdAccounted() {
    SplittableRandom random = new SplittableRandom(SEED);
    Set<IrqType> reached = EnumSet.noneOf(IrqType.class);
    for (int step = 0; step < STEPS; step++) {
      String what = step(random);
      reached.add(device.irqState().type());
      String context = "seed " + SEED + " step " + step + ": " + what;
      assertThat(files.violations()).as(context).isEmpty();
      assertThat(device.heldEventFds()).as(context).isEqualTo(files.held());
      checkEnables(context);
    }
    close();
    assertThat(reached).as("seed " + SEED + ": interrupt types reached").hasSize(4);
    assertThat(signals()).as("seed " + SEED + ": eventfd signals").isPositive();
  }

  @Test
  void randomArgumentsToEveryRequestAnswerZeroOrAnErrnoAndLeaveNothingHeld() {
    SplittableRandom random = new SplittableRandom(SEED);
    SimulatedMemory memory = SimulatedMemory.create();
    Caller caller = new Caller(memory, 1, 0, false, false, -1);
    long page = memory.allocate(4096, true);
    VfioPciIoctls ioctls = new VfioPciIoctls(device, random.nextBoolean());
    long[] requests = {
      Vfio.VFIO_DEVICE_GET_INFO,
      Vfio.VFIO_DEVICE_GET_REGION_INFO,
      Vfio.VFIO_DEVICE_GET_IRQ_INFO,
      Vfio.VFIO_DEVICE_SET_IRQS,
      Vfio.VFIO_DEVICE_RESET,
      Vfio.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
      Vfio.VFIO_DEVICE_PCI_HOT_RESET,
      VfioPciIoctls.VFIO_DEVICE_IOEVENTFD,
      Vfio.VFIO_DEVICE_FEATURE,
      (Vfio.VFIO_TYPE << 8) | (Vfio.VFIO_BASE + 40)
    };
    Set<Integer> errnos = new TreeSet<>();
    for (int step = 0; step < STEPS; step++) {
      long request = requests[random.nextInt(requests.length)];
      byte[] bytes = new byte[64];
      random.nextBytes(bytes);
      for (int i = 0; i < 64; i += 4) { // small numbers where the kernel reads indexes and counts
        if (random.nextBoolean()) {
          bytes[i] = (byte) random.nextInt(-1, 40);
          bytes[i + 1] = bytes[i + 2] = bytes[i + 3] = (byte) (bytes[i] < 0 ? -1 : 0);
        }
      }
      long at = page + 4096 - 1 - random.nextInt(80); // the argument may run off the mapping
      memory.putBytes(at, Arrays.copyOf(bytes, (int) (page + 4096 - at)));
      long rc = ioctls.ioctl(caller, files, request, at);
      assertThat(rc).as("seed " + SEED + " step " + step).isLessThanOrEqualTo(0);
      errnos.add((int) -rc);
    }
    assertThat(errnos).as("seed " + SEED + ": answers").contains(0, 14, 22, 25);
    close();
  }

  private String step(SplittableRandom random) {
    int dice = random.nextInt(100);
    if (dice < 60) {
      return setIrqs(random);
    } else if (dice < 70) {
      boolean up = random.nextBoolean();
      if (up) {
        model.ports.interrupts().raiseIntx();
      } else {
        model.ports.interrupts().lowerIntx();
      }
      return up ? "raise INTx" : "lower INTx";
    } else if (dice < 85) {
      int vector = random.nextInt(MSIX_VECTORS + 1);
      model.ports.interrupts().msi(vector);
      return "message " + vector;
    } else if (dice < 92) {
      int command = 0x2 | (random.nextBoolean() ? 0x4 : 0) | (random.nextBoolean() ? 0x400 : 0);
      device.write(
          7L << 40 | 4, MemorySegment.ofArray(new byte[] {(byte) command, (byte) (command >> 8)}));
      return "command 0x" + Integer.toHexString(command);
    } else if (dice < 96) {
      device.reset();
      return "reset";
    } else {
      close();
      device = new VfioPciDevice(function);
      return "close and reopen";
    }
  }

  private String setIrqs(SplittableRandom random) {
    int index = random.nextInt(6);
    int[] actions = {8, 16, 32, 32, 32, 0, 8 | 16};
    int[] types = {1, 2, 4, 4, 1 | 2};
    int flags = actions[random.nextInt(actions.length)] | types[random.nextInt(types.length)];
    int start = random.nextInt(10) < 7 ? 0 : random.nextInt(MSIX_VECTORS + 2);
    int count = random.nextInt(10) < 3 ? 0 : random.nextInt(1, MSIX_VECTORS + 2);
    int each = (flags & 7) == 2 ? 1 : (flags & 7) == 4 ? 4 : 0;
    byte[] data = new byte[count * each];
    for (int i = 0; i < count && each > 0; i++) {
      int v = each == 1 ? random.nextInt(2) : FDS[random.nextInt(FDS.length)];
      for (int b = 0; b < each; b++) {
        data[each * i + b] = (byte) (v >>> (8 * b));
      }
    }
    String what =
        String.format("SET_IRQS flags=0x%x index=%d start=%d count=%d", flags, index, start, count);
    long before = signals();
    try {
      device.setIrqs(flags, index, start, count, data, files);
    } catch (IommufdException e) {
      assertThat(ANSWERS).as(what).contains(e.errno());
      assertThat(signals()).as(what + " failed and signalled").isEqualTo(before);
      return what + " => -" + e.errno();
    }
    return what + " => 0";
  }

  /** The device's MSI and MSI-X enables and table masks follow the interrupt type. */
  private void checkEnables(String context) {
    IrqType type = device.irqState().type();
    ConfigSpace hw = function.config();
    boolean msi = (hw.read(hw.findCapability(0x05) + 2, 2) & 0x1) != 0;
    boolean msix = (hw.read(hw.findCapability(0x11) + 2, 2) & 0x8000) != 0;
    assertThat(msi).as(context + ": MSI enable").isEqualTo(type == IrqType.MSI);
    assertThat(msix).as(context + ": MSI-X enable").isEqualTo(type == IrqType.MSIX);
    int unmasked = 0;
    for (int v = 0; v < MSIX_VECTORS; v++) {
      unmasked += (function.barRead(2, MSIX_TABLE + 16L * v + 12, 4) & 1) == 0 ? 1 : 0;
    }
    if (type != IrqType.MSIX) {
      assertThat(unmasked).as(context + ": MSI-X vectors unmasked").isZero();
    }
  }

  private void close() {
    device.close();
    assertThat(files.held()).as("seed " + SEED + ": held after close").isZero();
    long before = signals();
    model.ports.interrupts().raiseIntx();
    for (int v = 0; v < MSIX_VECTORS; v++) {
      model.ports.interrupts().msi(v);
    }
    model.ports.interrupts().lowerIntx();
    assertThat(signals()).as("seed " + SEED + ": signals after close").isEqualTo(before);
    assertThat(files.violations()).isEmpty();
  }

  private long signals() {
    long n = 0;
    for (EventFdTable.Counter c : counters) {
      n += c.peek();
    }
    return n;
  }
}
