package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A Java VFIO driver on an emulated machine: the calls of edu_cdev.c, from this process. */
class EmulatedMachineTest {
  private final EduDriver driver = new EduDriver();
  private final Arena arena = driver.arena;
  private final EmulatedMachine machine = driver.machine;

  @AfterEach
  void close() {
    driver.close();
  }

  private MemorySegment words(int... values) {
    return driver.words(values);
  }

  private void write64(int device, long offset, long value) {
    MemorySegment v = arena.allocate(8, 8);
    v.set(JAVA_LONG, 0, value);
    machine.pwrite(device, v, offset);
  }

  private long read32(int device, long offset) {
    return driver.read32(device, offset);
  }

  @Test
  void aJavaDriverBindsAttachesAndRunsEduDmaIntoItsOwnMemory() throws InterruptedException {
    assertThat(machine.addresses()).containsExactly("0000:00:04.0");
    int device = machine.open("/dev/vfio/devices/vfio0");
    int iommufd = machine.open("/dev/iommu");
    MemorySegment bind = words(16, 0, iommufd, 0);
    machine.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, bind);
    assertThat(bind.get(JAVA_INT, 12)).as("out_devid").isEqualTo(1);

    MemorySegment alloc = words(IommuIoasAlloc.SIZE, 0, 0);
    machine.ioctl(iommufd, Command.IOMMU_IOAS_ALLOC.request(), alloc);
    int ioas = alloc.get(JAVA_INT, (int) IommuIoasAlloc.OUT_IOAS_ID);
    MemorySegment attach = words(12, 0, ioas);
    machine.ioctl(device, Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT, attach);
    assertThat(attach.get(JAVA_INT, 8)).as("the automatic HWPT").isEqualTo(3);

    MemorySegment buffer = arena.allocate(4096, 4096);
    for (int i = 0; i < 16; i++) {
      buffer.set(JAVA_BYTE, i, (byte) (i + 1));
    }
    MachineCalls.mapFixed(machine, arena, iommufd, ioas, buffer, 0x100000);

    driver.enableMemoryAndBusMastering(device);
    assertThat(read32(device, 0)).as("edu's id").isEqualTo(0x010000edL);
    dma(device, 0x100000, 0x40000, 16, 1); // RAM -> edu
    dma(device, 0x40000, 0x100000 + 64, 16, 3); // edu -> RAM
    assertThat(buffer.asSlice(64, 16).toArray(JAVA_BYTE))
        .isEqualTo(buffer.asSlice(0, 16).toArray(JAVA_BYTE));

    machine.close(device);
    machine.close(iommufd);
  }

  private void dma(int device, long src, long dst, long count, long cmd)
      throws InterruptedException {
    write64(device, 0x80, src);
    write64(device, 0x88, dst);
    write64(device, 0x90, count);
    write64(device, 0x98, cmd);
    long deadline = System.nanoTime() + 5_000_000_000L;
    while ((read32(device, 0x98) & 1) != 0 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertThat(read32(device, 0x98) & 1).as("transfer done").isZero();
  }

  @Test
  void failingCallsThrowTheKernelsErrno() {
    int device = machine.open("/dev/vfio/devices/vfio0");
    assertThatThrownBy(() -> machine.ioctl(device, Vfio.VFIO_DEVICE_GET_INFO, words(16)))
        .isInstanceOf(IommufdException.class)
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EINVAL);
    int group = machine.open("/dev/vfio/0");
    assertThatThrownBy(() -> machine.open("/dev/vfio/0"))
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EBUSY);
    assertThatThrownBy(() -> machine.open("/dev/vfio/7"))
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.ENOENT);
    machine.close(group);
    assertThatThrownBy(() -> machine.close(group))
        .extracting(e -> ((IommufdException) e).errno())
        .isEqualTo(Errno.EBADF);
  }
}
