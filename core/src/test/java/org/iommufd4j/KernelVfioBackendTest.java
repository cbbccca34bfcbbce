package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.iommufd4j.kernel.LibC;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The kernel backend of the typed VFIO API where the kernel has no VFIO: what opening says, and its
 * system calls (pread, pwrite, mmap, close) on a file that is no device, a memfd, which they treat
 * as they would a device file.
 */
class KernelVfioBackendTest {
  private final Arena arena = Arena.ofConfined();
  private final int memfd = LibC.memfdCreate("vfio-backend-test", LibC.MFD_CLOEXEC);

  @AfterEach
  void close() {
    LibC.close(memfd);
    arena.close();
  }

  private VfioDevice openMemfd() {
    assertThat(memfd).isNotNegative();
    assertThat(LibC.ftruncate(memfd, 0x4000)).isZero();
    return VfioDevice.open(Syscalls.KERNEL, "/proc/self/fd/" + memfd);
  }

  @Test
  void openingACdevOnAKernelWithoutVfioSaysToUseTheEmulatedMachine() {
    Assumptions.assumeFalse(
        Files.exists(Path.of("/dev/vfio/devices/vfio0")), "this kernel has VFIO cdevs");
    assertThatThrownBy(() -> VfioDevice.open("/dev/vfio/devices/vfio0"))
        .isInstanceOf(IommufdException.class)
        .hasMessageContaining("ENOENT")
        .hasMessageContaining("/dev/vfio/devices/vfio0")
        .hasMessageContaining("EmulatedMachine");
  }

  @Test
  void openingAGroupOrTheContainerOnAKernelWithoutVfioIsEnoentToo() {
    Assumptions.assumeFalse(Files.exists(Path.of("/dev/vfio")), "this kernel has VFIO");
    assertThatThrownBy(() -> VfioGroup.open(0))
        .isInstanceOf(IommufdException.class)
        .hasMessageContaining("ENOENT")
        .hasMessageContaining("/dev/vfio/0")
        .hasMessageContaining("EmulatedMachine");
    assertThatThrownBy(VfioContainer::open)
        .isInstanceOf(IommufdException.class)
        .hasMessageContaining("ENOENT")
        .hasMessageContaining("/dev/vfio/vfio");
  }

  @Test
  void openingAPciAddressWithoutAVfioCdevIsEnoent() {
    assertThatThrownBy(() -> VfioDevice.open("0000:ff:1f.7"))
        .isInstanceOf(IommufdException.class)
        .hasMessageContaining("ENOENT")
        .hasMessageContaining("0000:ff:1f.7 has no VFIO cdev");
  }

  @Test
  void aFileThatIsNoVfioDeviceAnswersVfioIoctlsEnotty() {
    try (VfioDevice notADevice = openMemfd()) {
      assertThatThrownBy(notADevice::info)
          .isInstanceOf(IommufdException.class)
          .extracting(e -> ((IommufdException) e).errno())
          .isEqualTo(Errno.ENOTTY);
      assertThatThrownBy(() -> notADevice.region(0))
          .extracting(e -> ((IommufdException) e).errno())
          .isEqualTo(Errno.ENOTTY);
    }
  }

  @Test
  void preadPwriteAndMmapReachTheFileAtTheirOffsets() {
    try (VfioDevice file = openMemfd()) {
      MemorySegment value = arena.allocate(JAVA_INT);
      value.set(JAVA_INT, 0, 0x12345678);
      assertThat(file.pwrite(value, 0x1004)).isEqualTo(4);

      long address = file.mmap(0x1000, 0x1000, LibC.PROT_READ | LibC.PROT_WRITE);
      assertThat(address).isPositive();
      MappedRegion mapped = MappedRegion.ofMemory(file, address, 0x1000);
      assertThat(mapped.readInt(4))
          .as("the pwrite, seen through the mapping")
          .isEqualTo(0x12345678);
      mapped.writeLong(8, 0x0102030405060708L);
      MemorySegment back = arena.allocate(8);
      assertThat(file.pread(back, 0x1008)).isEqualTo(8);
      assertThat(back.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0))
          .as("the store, seen by pread")
          .isEqualTo(0x0102030405060708L);
      byte[] heap = new byte[4];
      assertThat(file.pread(MemorySegment.ofArray(heap), 0x1004)).as("into the heap").isEqualTo(4);
      assertThat(heap).containsExactly(0x78, 0x56, 0x34, 0x12);

      mapped.close();
      mapped.close();
      assertThatThrownBy(() -> mapped.readInt(4)).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void aClosedDeviceIsEbadfAndItsNumberIsNotTouched() {
    VfioDevice file = openMemfd();
    file.close();
    int reused = LibC.memfdCreate("reuses-the-number", LibC.MFD_CLOEXEC);
    try {
      assertThatThrownBy(() -> file.pread(arena.allocate(4), 0))
          .extracting(e -> ((IommufdException) e).errno())
          .isEqualTo(Errno.EBADF);
    } finally {
      LibC.close(reused);
    }
  }

  @Test
  void anEventFdCountsSignalsAndTimesOutQuietly() {
    try (EventFd eventfd = EventFd.create()) {
      assertThat(eventfd.poll()).isZero();
      assertThat(eventfd.await(Duration.ofMillis(20))).isZero();
      eventfd.signal();
      eventfd.signal();
      assertThat(eventfd.await(Duration.ofSeconds(5))).isEqualTo(2);
      assertThat(eventfd.poll()).isZero();
      assertThat(eventfd.await(Duration.ofMillis(-1))).as("a negative timeout").isZero();
      eventfd.signal();
      assertThat(eventfd.await(Duration.ofSeconds(Long.MAX_VALUE))).as("no overflow").isEqualTo(1);
      eventfd.close();
      assertThatThrownBy(eventfd::poll).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(eventfd::signal).isInstanceOf(IllegalStateException.class);
    }
  }

  @Test
  void aReadIntoAReadOnlySegmentIsRefusedBeforeTheCall() {
    try (VfioDevice file = openMemfd()) {
      assertThatThrownBy(() -> file.pread(arena.allocate(4).asReadOnly(), 0))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
