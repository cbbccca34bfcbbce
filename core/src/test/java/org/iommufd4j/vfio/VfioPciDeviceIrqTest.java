package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.IommufdException;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * What edu cannot show: MSI-X, the ERR index, the INTx unmask eventfd, ioeventfds, low power and
 * PCI_HOT_RESET, on a PCI Express device with FLR, through the caller-memory ioctl entry.
 */
class VfioPciDeviceIrqTest {
  private static final int TRIGGER_EVENTFD = 4 | 32;
  private static final int MSIX = 2;
  private static final long TABLE = IrqTestDevice.MSIX_TABLE;

  private final SimulatedMemory memory = SimulatedMemory.create();
  private final Caller caller = new Caller(memory, 1, 0, false, false, -1);
  private final long arg = memory.allocate(4096, true);
  private final EventFdTable files = new EventFdTable();
  private final EventFdTable.Counter a = files.open(10);
  private final EventFdTable.Counter b = files.open(11);
  private final IrqTestDevice model = new IrqTestDevice();
  private final PciFunction function = model.function();
  private final VfioPciDevice device = new VfioPciDevice(function);
  private final VfioPciIoctls ioctls = new VfioPciIoctls(device, true);

  VfioPciDeviceIrqTest() {
    device.write(7L << 40 | 4, MemorySegment.ofArray(new byte[] {0x6, 0})); // memory, master
  }

  @AfterEach
  void closingPutsEverything() {
    device.close();
    assertThat(files.held()).isZero();
    assertThat(files.violations()).isEmpty();
  }

  @Test
  void eachMsixVectorSignalsItsOwnEventfdAndOnlyWiredVectorsAreUnmasked() {
    assertThat(setIrqs(TRIGGER_EVENTFD, MSIX, 0, 3, SetIrqsArg.eventfds(10, -1, 11))).isZero();
    assertThat(tableMasked()).containsExactly(false, true, false, true, true, true, true, true);
    for (int v = 0; v < 4; v++) {
      model.ports.interrupts().msi(v);
    }
    assertThat(a.take()).isEqualTo(1);
    assertThat(b.take()).isEqualTo(1);
    assertThat(setIrqs(TRIGGER_EVENTFD, MSIX, 1, 1, SetIrqsArg.eventfds(10)))
        .as("vector 1 wired later")
        .isZero();
    assertThat(a.take()).as("its message, pending while masked, arrives on unmask").isEqualTo(1);
    model.ports.interrupts().msi(1);
    assertThat(a.take()).isEqualTo(1);
  }

  @Test
  void vectorsPastThoseEnabledNeedADisableFirstAndAFailedBlockLeavesItsVectorsUnwired() {
    assertThat(setIrqs(TRIGGER_EVENTFD, MSIX, 0, 2, SetIrqsArg.eventfds(10, 10))).isZero();
    assertThat(setIrqs(TRIGGER_EVENTFD, MSIX, 1, 2, SetIrqsArg.eventfds(11, 11)))
        .isEqualTo(-Errno.EINVAL.number());
    assertThat(files.held()).as("vector 0 kept, vector 1 unwired by the rollback").isEqualTo(1);
    assertThat(setIrqs(1 | 32, MSIX, 0, 0, new byte[0])).as("disable").isZero();
    assertThat(setIrqs(TRIGGER_EVENTFD, MSIX, 0, 4, SetIrqsArg.eventfds(10, 10, 11, 11))).isZero();
    assertThat(files.held()).isEqualTo(4);
  }

  @Test
  void aResetKeepsMsixEnabledAndItsVectorsWired() {
    setIrqs(TRIGGER_EVENTFD, MSIX, 0, 1, SetIrqsArg.eventfds(10));
    assertThat(ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_RESET, 0)).isZero();
    assertThat(model.resets).isEqualTo(1);
    device.write(7L << 40 | 4, MemorySegment.ofArray(new byte[] {0x6, 0}));
    model.ports.interrupts().msi(0);
    assertThat(a.take()).isEqualTo(1);
  }

  @Test
  void theErrIndexHoldsOneEventfdOnPciExpressAndSignalsItOnLoopback() {
    assertThat(setIrqs(TRIGGER_EVENTFD, 3, 0, 1, SetIrqsArg.eventfds(10))).isZero();
    assertThat(setIrqs(1 | 32, 3, 0, 1, new byte[0])).isZero();
    assertThat(a.take()).isEqualTo(1);
    assertThat(setIrqs(TRIGGER_EVENTFD, 3, 0, 1, SetIrqsArg.eventfds(-2)))
        .isEqualTo(-Errno.EINVAL.number());
    assertThat(setIrqs(1 | 32, 3, 0, 0, new byte[0])).as("count 0: put it").isZero();
    assertThat(files.held()).isZero();
    assertThat(setIrqs(1 | 32, 3, 0, 1, new byte[0])).isEqualTo(-Errno.EINVAL.number());
  }

  @Test
  void theIntxUnmaskEventfdUnmasksWhenTheProgramSignalsIt() {
    setIrqs(TRIGGER_EVENTFD, 0, 0, 1, SetIrqsArg.eventfds(10));
    assertThat(setIrqs(4 | 16, 0, 0, 1, SetIrqsArg.eventfds(11))).isZero();
    assertThat(setIrqs(4 | 16, 0, 0, 1, SetIrqsArg.eventfds(11))).isEqualTo(-Errno.EBUSY.number());
    assertThat(setIrqs(4 | 8, 0, 0, 1, SetIrqsArg.eventfds(11)))
        .as("no mask eventfd")
        .isEqualTo(-Errno.ENOTTY.number());
    model.ports.interrupts().raiseIntx();
    model.ports.interrupts().lowerIntx();
    model.ports.interrupts().raiseIntx();
    assertThat(a.take()).as("automasked after the first").isEqualTo(1);
    b.signalFromProgram();
    assertThat(a.take()).as("unmasked with the level up: sent again").isEqualTo(1);
    model.ports.interrupts().lowerIntx();
    b.signalFromProgram();
    model.ports.interrupts().raiseIntx();
    assertThat(a.take()).isEqualTo(1);
    assertThat(setIrqs(4 | 16, 0, 0, 1, SetIrqsArg.eventfds(-1))).isZero();
    assertThat(files.held()).as("the unmask eventfd is put").isEqualTo(1);
  }

  @Test
  void theVirtualIntxDisableMasksAndItsClearingSendsAStillAssertedLevel() {
    setIrqs(TRIGGER_EVENTFD, 0, 0, 1, SetIrqsArg.eventfds(10));
    device.write(7L << 40 | 4, MemorySegment.ofArray(new byte[] {0x6, 0x4}));
    model.ports.interrupts().raiseIntx();
    assertThat(a.take()).isZero();
    assertThat(setIrqs(1 | 32, 0, 0, 1, new byte[0])).as("loopback is silent too").isZero();
    assertThat(a.take()).isZero();
    device.write(7L << 40 | 4, MemorySegment.ofArray(new byte[] {0x6, 0}));
    assertThat(a.take()).isEqualTo(1);
  }

  @Test
  void anIoeventfdWritesItsValueWhenSignalledAndIsRemovedByItsMatch() {
    assertThat(ioeventfd(0x10, 0xabcd, 4, 10)).isZero();
    assertThat(ioeventfd(0x10, 0xabcd, 4, 11)).isEqualTo(-Errno.EEXIST.number());
    assertThat(ioeventfd(0x10, 0xabcd, 2, -1)).isEqualTo(-Errno.ENODEV.number());
    a.signalFromProgram();
    assertThat(model.writes).containsExactly("w0@0x10/4=0xabcd");
    device.write(7L << 40 | 4, MemorySegment.ofArray(new byte[] {0x4, 0}));
    a.signalFromProgram();
    assertThat(model.writes).as("dropped with memory decoding off").hasSize(1);
    assertThat(ioeventfd(0x10, 0xabcd, 4, -1)).isZero();
    assertThat(files.held()).isZero();
  }

  @Test
  void ioeventfdArgumentsAreCheckedAsTheKernelChecksThem() {
    assertThat(ioeventfd(0xffe, 0, 4, 10)).as("past BAR0").isEqualTo(-Errno.EINVAL.number());
    assertThat(ioeventfd(7L << 40, 0, 4, 10)).as("config").isEqualTo(-Errno.EINVAL.number());
    assertThat(ioeventfd(2L << 40 | TABLE + 8, 0, 8, 10))
        .as("over the MSI-X table")
        .isEqualTo(-Errno.EINVAL.number());
    assertThat(ioeventfd(0, 0, 3, 10)).as("two sizes").isEqualTo(-Errno.EINVAL.number());
    assertThat(ioeventfd(0, 0, 4, -2)).isEqualTo(-Errno.EINVAL.number());
    assertThat(ioeventfd(0, 0, 4, 999)).isEqualTo(-Errno.EBADF.number());
    memory.putInt(arg, 24);
    assertThat(ioctls.ioctl(caller, files, VfioPciIoctls.VFIO_DEVICE_IOEVENTFD, arg))
        .isEqualTo(-Errno.EINVAL.number());
  }

  @Test
  void lowPowerIsLeftByAnAccessThatSignalsTheWakeupEventfd() {
    int set = 1 << 17;
    assertThat(feature(set | 3, 8)).isZero();
    assertThat(feature(set | 3, 8)).as("engaged already").isEqualTo(-Errno.EINVAL.number());
    assertThat(feature(set | 5, 8)).isZero();
    memory.putInt(arg + 8, 10);
    assertThat(feature(set | 4, 16)).isZero();
    assertThat(feature(set | 4, 12)).as("entry struct cut short").isEqualTo(-Errno.EINVAL.number());
    assertThat(a.take()).as("the ioctl itself woke the device").isEqualTo(1);
    assertThat(feature(set | 4, 16)).isZero();
    device.read(0, MemorySegment.ofArray(new byte[4]));
    assertThat(a.take()).isEqualTo(1);
    assertThat(files.held()).isZero();
  }

  @Test
  void hotResetNamesGroupsOnlyFromAGroupAndFindsNoResetOnTheRootBus() {
    VfioPciIoctls group = new VfioPciIoctls(device);
    assertThat(hotReset(ioctls, 12, 0, 0)).isEqualTo(-Errno.ENODEV.number());
    assertThat(hotReset(ioctls, 16, 0, 1)).isEqualTo(-Errno.EINVAL.number());
    assertThat(hotReset(group, 12, 0, 0)).isEqualTo(-Errno.EINVAL.number());
    assertThat(hotReset(group, 16, 0, 1)).isEqualTo(-Errno.ENODEV.number());
    assertThat(hotReset(ioctls, 12, 1, 0)).isEqualTo(-Errno.EINVAL.number());
    assertThat(hotReset(ioctls, 8, 0, 0)).isEqualTo(-Errno.EINVAL.number());
  }

  @Test
  void anArgumentTheCallerCannotReachIsEfaultWhereTheKernelCopiesIt() {
    long end = arg + 4096;
    assertThat(ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_SET_IRQS, end - 8))
        .isEqualTo(-Errno.EFAULT.number());
    long header = end - 20;
    memory.putInt(header, 24);
    memory.putInt(header + 4, TRIGGER_EVENTFD);
    memory.putInt(header + 8, 0);
    memory.putInt(header + 12, 0);
    memory.putInt(header + 16, 1);
    assertThat(ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_SET_IRQS, header))
        .as("the eventfd after the header")
        .isEqualTo(-Errno.EFAULT.number());
    memory.putInt(header + 16, 2);
    assertThat(ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_SET_IRQS, header))
        .as("argsz is checked before the data is copied")
        .isEqualTo(-Errno.EINVAL.number());
  }

  @Test
  void onlyTheLow32BitsOfTheRequestCount() {
    memory.putInt(arg, 16);
    assertThat(ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_GET_INFO | 1L << 32, arg)).isZero();
    assertThat(memory.getInt(arg + 12)).as("num_irqs").isEqualTo(5);
  }

  @Test
  void theJavaEntryChecksLikeTheIoctl() {
    assertThatThrownBy(() -> device.setIrqs(TRIGGER_EVENTFD, MSIX, 0, 9, new byte[36], files))
        .isInstanceOf(IommufdException.class)
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EINVAL);
  }

  @Test
  void mmapFollowsTheBarsPages() {
    assertThat(device.mmap(2L << 40, 0x4000, 3, 1)).as("the MSI-X BAR whole").isZero();
    assertThat(device.mmap(2L << 40 | 0x3000, 0x1001, 3, 1)).isEqualTo(-Errno.EINVAL.number());
    assertThat(device.mmap(0, 0x800, 3, 3)).as("MAP_SHARED_VALIDATE, within the page").isZero();
    assertThat(device.mmap(4L << 40, 0x1000, 3, 1)).as("I/O BAR").isEqualTo(-Errno.EINVAL.number());
    assertThat(device.mmap(0x800, 0x800, 3, 1)).as("unaligned").isEqualTo(-Errno.EINVAL.number());
    assertThat(device.mmap(0, 0, 3, 1)).isEqualTo(-Errno.EINVAL.number());
  }

  // ---- helpers ----

  private long setIrqs(int flags, int index, int start, int count, byte[] data) {
    long at = SetIrqsArg.put(memory, arg, flags, index, start, count, data);
    return ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_SET_IRQS, at);
  }

  private long ioeventfd(long offset, long data, int size, int fd) {
    memory.putInt(arg, 32);
    memory.putInt(arg + 4, size);
    memory.putLong(arg + 8, offset);
    memory.putLong(arg + 16, data);
    memory.putInt(arg + 24, fd);
    memory.putInt(arg + 28, 0);
    return ioctls.ioctl(caller, files, VfioPciIoctls.VFIO_DEVICE_IOEVENTFD, arg);
  }

  private long feature(int flags, int argsz) {
    memory.putInt(arg, argsz);
    memory.putInt(arg + 4, flags);
    return ioctls.ioctl(caller, files, Vfio.VFIO_DEVICE_FEATURE, arg);
  }

  private long hotReset(VfioPciIoctls on, int argsz, int flags, int count) {
    memory.putInt(arg, argsz);
    memory.putInt(arg + 4, flags);
    memory.putInt(arg + 8, count);
    memory.putInt(arg + 12, 10);
    return on.ioctl(caller, files, Vfio.VFIO_DEVICE_PCI_HOT_RESET, arg);
  }

  private List<Boolean> tableMasked() {
    List<Boolean> masked = new ArrayList<>();
    for (int v = 0; v < 8; v++) {
      masked.add((function.barRead(2, TABLE + 16L * v + 12, 4) & 1) != 0);
    }
    return masked;
  }
}
