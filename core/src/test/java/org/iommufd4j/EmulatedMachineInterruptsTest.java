package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIrqSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A Java VFIO driver's interrupts on an emulated machine, with real eventfds of this process: edu's
 * MSI and INTx (automasked, unmasked through an unmask eventfd the driver writes) and an ioeventfd
 * whose write reaches edu's registers.
 */
class EmulatedMachineInterruptsTest {
  private static final int INTX = 0;
  private static final int MSI = 1;
  private static final int TRIGGER_EVENTFD =
      VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD | VfioIrqSet.VFIO_IRQ_SET_ACTION_TRIGGER;
  private static final int UNMASK_EVENTFD =
      VfioIrqSet.VFIO_IRQ_SET_DATA_EVENTFD | VfioIrqSet.VFIO_IRQ_SET_ACTION_UNMASK;

  /** {@code <linux/vfio.h>}: VFIO_DEVICE_IOEVENTFD, _IO(';', 100 + 16), and its 32-bit flag. */
  private static final long VFIO_DEVICE_IOEVENTFD = (';' << 8) | (100 + 16);

  private static final int IOEVENTFD_32 = 4;
  private static final long WAIT_MILLIS = 5000;
  private static final long QUIET_MILLIS = 200;

  private final EduDriver driver = new EduDriver();
  private final Arena arena = driver.arena;
  private final EmulatedMachine machine = driver.machine;
  private final List<Integer> eventfds = new ArrayList<>();
  private int iommufd;
  private int device;

  @BeforeEach
  void bind() {
    device = machine.open("/dev/vfio/devices/vfio0");
    iommufd = machine.open("/dev/iommu");
    machine.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, words(16, 0, iommufd, 0));
    driver.enableMemoryAndBusMastering(device);
  }

  @AfterEach
  void close() {
    driver.close();
    eventfds.forEach(LibC::close);
  }

  private MemorySegment words(int... values) {
    return driver.words(values);
  }

  private int eventfd() {
    int fd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
    assertThat(fd).isNotNegative();
    eventfds.add(fd);
    return fd;
  }

  private void setIrqs(int flags, int index, int... fds) {
    int[] w = new int[5 + fds.length];
    w[0] = VfioIrqSet.SIZE + 4 * fds.length;
    w[1] = flags;
    w[2] = index;
    w[3] = 0;
    w[4] = fds.length;
    System.arraycopy(fds, 0, w, 5, fds.length);
    machine.ioctl(device, Vfio.VFIO_DEVICE_SET_IRQS, words(w));
  }

  private void write32(long offset, long value) {
    MemorySegment v = arena.allocate(4, 4);
    v.set(JAVA_INT, 0, (int) value);
    machine.pwrite(device, v, offset);
  }

  private long read32(long offset) {
    return driver.read32(device, offset);
  }

  /** read(2) of the eventfd once it is readable within {@code millis}: its count, or 0. */
  private long await(int fd, long millis) {
    MemorySegment pollfd = arena.allocate(8, 4);
    pollfd.set(JAVA_INT, 0, fd);
    pollfd.set(JAVA_SHORT, 4, LibC.POLLIN);
    if (LibC.poll(pollfd, 1, (int) millis) != 1) {
      return 0;
    }
    MemorySegment count = arena.allocate(JAVA_LONG);
    assertThat(LibC.read(fd, count, 8)).isEqualTo(8);
    return count.get(JAVA_LONG, 0);
  }

  private void signal(int fd) {
    MemorySegment one = arena.allocate(JAVA_LONG);
    one.set(JAVA_LONG, 0, 1);
    assertThat(LibC.write(fd, one, 8)).isEqualTo(8);
  }

  @Test
  void edusFactorialInterruptArrivesOnTheMsiEventfd() {
    int fd = eventfd();
    setIrqs(TRIGGER_EVENTFD, MSI, fd);
    Snapshot.IrqState irqs = machine.inspect(iommufd).devices().getFirst().vfio().irqs();
    assertThat(irqs).isEqualTo(new Snapshot.IrqState(Snapshot.IrqType.MSI, 1, 1, false));

    write32(0x20, 0x80); // interrupt when the factorial is done
    write32(0x08, 5);
    assertThat(await(fd, WAIT_MILLIS)).as("one MSI").isEqualTo(1);
    assertThat(read32(0x08)).isEqualTo(120);
    assertThat(read32(0x24)).as("interrupt status").isEqualTo(1);
    write32(0x64, 1);
    assertThat(await(fd, QUIET_MILLIS)).as("nothing more").isZero();
  }

  @Test
  void intxIsAutomaskedAndTheUnmaskEventfdTheDriverWritesUnmasksIt() throws InterruptedException {
    int trigger = eventfd();
    int unmask = eventfd();
    setIrqs(TRIGGER_EVENTFD, INTX, trigger);
    setIrqs(UNMASK_EVENTFD, INTX, unmask);

    write32(0x60, 1); // edu raises its pin
    assertThat(await(trigger, WAIT_MILLIS)).isEqualTo(1);
    assertThat(machine.inspect(iommufd).devices().getFirst().vfio().irqs().masked())
        .as("automasked")
        .isTrue();
    write32(0x64, 1);
    write32(0x60, 1); // a new edge while masked goes nowhere
    assertThat(await(trigger, QUIET_MILLIS)).isZero();

    signal(unmask); // the driver's unmask: the pin is still up, so it fires again and stays masked
    assertThat(await(trigger, WAIT_MILLIS)).isEqualTo(1);
    write32(0x64, 1);
    signal(unmask);
    long deadline = System.currentTimeMillis() + WAIT_MILLIS;
    while (machine.inspect(iommufd).devices().getFirst().vfio().irqs().masked()
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(1);
    }
    assertThat(machine.inspect(iommufd).devices().getFirst().vfio().irqs().masked())
        .as("unmasked with the pin down")
        .isFalse();
    write32(0x60, 2);
    assertThat(await(trigger, WAIT_MILLIS)).isEqualTo(1);
  }

  @Test
  void anIoeventfdWriteReachesEdu() throws InterruptedException {
    int fd = eventfd();
    MemorySegment arg = arena.allocate(32, 8);
    arg.set(JAVA_INT, 0, 32);
    arg.set(JAVA_INT, 4, IOEVENTFD_32);
    arg.set(JAVA_LONG, 8, 0x04); // edu's liveness register: reads back the inverse
    arg.set(JAVA_LONG, 16, 0x1234_5678L);
    arg.set(JAVA_INT, 24, fd);
    machine.ioctl(device, VFIO_DEVICE_IOEVENTFD, arg);

    signal(fd);
    long deadline = System.currentTimeMillis() + WAIT_MILLIS;
    while (read32(0x04) != (~0x1234_5678L & 0xffff_ffffL)
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(1);
    }
    assertThat(read32(0x04)).isEqualTo(~0x1234_5678L & 0xffff_ffffL);
  }

  @Test
  void descriptorsThatAreNoEventfdAreRefusedAsTheKernelRefusesThem() {
    assertThatThrownBy(() -> setIrqs(TRIGGER_EVENTFD, MSI, device))
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EINVAL);
    assertThatThrownBy(() -> setIrqs(TRIGGER_EVENTFD, MSI, 0x7fff_0000))
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EBADF);
    int notEventfd = LibC.memfdCreate("not-an-eventfd", LibC.MFD_CLOEXEC);
    eventfds.add(notEventfd);
    assertThatThrownBy(() -> setIrqs(TRIGGER_EVENTFD, MSI, notEventfd))
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EINVAL);
  }

  @Test
  void theMachineHoldsItsOwnReferenceSoTheDriverMayCloseItsDescriptor() {
    int fd = eventfd();
    int copy = LibC.fcntl(fd, LibC.F_DUPFD_CLOEXEC, 0);
    eventfds.add(copy);
    long before = openEventfds();
    setIrqs(TRIGGER_EVENTFD, MSI, fd);
    assertThat(openEventfds()).as("the machine's duplicate").isEqualTo(before + 1);
    LibC.close(fd);
    eventfds.remove(Integer.valueOf(fd));
    write32(0x60, 1);
    assertThat(await(copy, WAIT_MILLIS))
        .as("signalled through the machine's duplicate")
        .isEqualTo(1);
    machine.close(device);
    assertThat(openEventfds()).as("the duplicate is closed with the device").isEqualTo(before - 1);
  }

  /** This process's open eventfds, as /proc/self/fd shows them. */
  private static long openEventfds() {
    try (var s = Files.list(Path.of("/proc/self/fd"))) {
      return s.filter(
              p -> {
                try {
                  return Files.readSymbolicLink(p).toString().equals("anon_inode:[eventfd]");
                } catch (IOException e) {
                  return false; // the listing's own descriptor, closed meanwhile
                }
              })
          .count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
