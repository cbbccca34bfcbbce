package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.engine.Host;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.memory.ProcessMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Pinning and memory-lock accounting when domains need the pages (io_pagetable.c:
 * iopt_table_add_domain(); pages.c: iopt_area_fill_domains(), do_update_pinned()).
 */
class PinAccountingTest {
  private static final long MOCK_BASE = 1L << 24;

  private final Arena arena = Arena.ofConfined();
  private Iommufd iommufd;

  private Iommufd open(Configuration.Builder b) {
    iommufd = Iommufd.emulated(b.privateHost(true).build());
    return iommufd;
  }

  private Host host() {
    return ((EmulatedIommufd) iommufd).context().host();
  }

  private int uid() {
    return ((EmulatedIommufd) iommufd).caller().uid();
  }

  private int pid() {
    return ((EmulatedIommufd) iommufd).caller().pid();
  }

  @AfterEach
  void close() {
    if (iommufd != null) {
      Host h = host();
      iommufd.close();
      assertThat(h.totalPins()).as("pins after close").isZero();
      assertThat(h.lockedPagesOfUser(uid())).as("user charge after close").isZero();
      assertThat(h.lockedPagesOfProcess(pid())).as("process charge after close").isZero();
    }
    arena.close();
  }

  private static Errno errnoOf(Runnable r) {
    try {
      r.run();
      return null;
    } catch (IommufdException e) {
      return e.errno();
    }
  }

  private Ioas ioasWithMockDomain() {
    Ioas ioas = iommufd.createIoas();
    iommufd.createDevice(DomainModel.selftestMock()).attach(ioas);
    return ioas;
  }

  @Test
  void mapBeyondTheMemlockLimitFailsWithEnomemAndLeavesNothing() {
    open(Configuration.builder().memlockLimit(16 * 4096));
    Ioas ioas = ioasWithMockDomain();
    MemorySegment buf = arena.allocate(17 * 4096, 4096);
    ioas.mapFixed(MOCK_BASE, buf.asSlice(0, 16 * 4096), Protection.READ_WRITE);
    assertThat(host().lockedPagesOfUser(uid())).isEqualTo(16);
    assertThat(
            errnoOf(
                () ->
                    ioas.mapFixed(
                        MOCK_BASE + (1 << 20),
                        buf.asSlice(16 * 4096, 4096),
                        Protection.READ_WRITE)))
        .isEqualTo(Errno.ENOMEM);
    assertThat(host().lockedPagesOfUser(uid())).isEqualTo(16);
    assertThat(host().pinCount(ProcessMemory.self(), buf.address() + 16 * 4096)).isZero();
    assertThat(errnoOf(() -> ioas.unmap(MOCK_BASE + (1 << 20), 4096))).isEqualTo(Errno.ENOENT);
    ioas.unmapAll();
    assertThat(host().lockedPagesOfUser(uid())).isZero();
  }

  @Test
  void capIpcLockMappingsAreNotCharged() {
    open(Configuration.builder().memlockLimit(4096).capIpcLock(true));
    Ioas ioas = ioasWithMockDomain();
    MemorySegment buf = arena.allocate(64 * 4096, 4096);
    ioas.mapFixed(MOCK_BASE, buf, Protection.READ);
    assertThat(host().lockedPagesOfUser(uid())).isZero();
    assertThat(host().pinCount(ProcessMemory.self(), buf.address())).isEqualTo(1);
  }

  @Test
  void processModeChargesTheProcessInsteadOfTheUser() {
    open(Configuration.builder().memlockLimit(Configuration.UNLIMITED));
    iommufd.setRlimitMode(RlimitMode.PROCESS);
    Ioas ioas = ioasWithMockDomain();
    ioas.mapFixed(MOCK_BASE, arena.allocate(8 * 4096, 4096), Protection.READ);
    assertThat(host().lockedPagesOfProcess(pid())).isEqualTo(8);
    assertThat(host().lockedPagesOfUser(uid())).isZero();
  }

  @Test
  void copySharesPinsAndChargesOnce() {
    open(Configuration.builder().memlockLimit(Configuration.UNLIMITED));
    Ioas a = ioasWithMockDomain();
    Ioas b = ioasWithMockDomain();
    MemorySegment buf = arena.allocate(8 * 4096, 4096);
    a.mapFixed(MOCK_BASE, buf, Protection.READ_WRITE);
    b.copyFixed(MOCK_BASE, a, MOCK_BASE, 8 * 4096, Protection.READ);
    assertThat(host().pinCount(ProcessMemory.self(), buf.address())).isEqualTo(1);
    assertThat(host().lockedPagesOfUser(uid())).isEqualTo(8);
    a.unmapAll();
    assertThat(host().pinCount(ProcessMemory.self(), buf.address()))
        .as("the copy keeps them")
        .isEqualTo(1);
    b.unmapAll();
    assertThat(host().pinCount(ProcessMemory.self(), buf.address())).isZero();
  }

  @Test
  void unmappedMemoryMapsWithoutDomainButFailsTheAttachWithEfault() {
    open(Configuration.builder());
    long hole = LibC.mmap(0, 1 << 16, LibC.PROT_NONE, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
    assertThat(hole).isPositive();
    try {
      Ioas ioas = iommufd.createIoas();
      ioas.mapFixed(MOCK_BASE, hole, 1 << 16, Protection.READ);
      EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
      assertThat(errnoOf(() -> dev.attach(ioas))).isEqualTo(Errno.EFAULT);
      assertThat(dev.hwptId()).isZero();
      assertThat(ioas.iovaRanges().ranges()).containsExactly(new IovaRange(0, -1));
      ioas.unmapAll();
      dev.attach(ioas);
      assertThat(errnoOf(() -> ioas.mapFixed(MOCK_BASE, hole, 4096, Protection.READ)))
          .isEqualTo(Errno.EFAULT);
      assertThat(errnoOf(() -> ioas.unmap(MOCK_BASE, 4096))).isEqualTo(Errno.ENOENT);
    } finally {
      LibC.munmap(hole, 1 << 16);
    }
  }

  @Test
  void writeableMapOfReadOnlyMemoryFailsOnlyWhenPinned() {
    open(Configuration.builder());
    long ro = LibC.mmap(0, 4096, LibC.PROT_READ, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0);
    try {
      Ioas ioas = ioasWithMockDomain();
      assertThat(errnoOf(() -> ioas.mapFixed(MOCK_BASE, ro, 4096, Protection.READ_WRITE)))
          .isEqualTo(Errno.EFAULT);
      ioas.mapFixed(MOCK_BASE, ro, 4096, Protection.READ);
      Ioas bare = iommufd.createIoas();
      bare.mapFixed(0x1000, ro, 4096, Protection.READ_WRITE);
    } finally {
      LibC.munmap(ro, 4096);
    }
  }

  @Test
  void attachRefusesAnIoasWithAreasOutsideTheApertureOrAllowedRangesInTheReservedPart() {
    open(Configuration.builder());
    Ioas ioas = iommufd.createIoas();
    ioas.mapFixed(0x1000, arena.allocate(4096, 4096), Protection.READ);
    EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
    assertThat(errnoOf(() -> dev.attach(ioas))).isEqualTo(Errno.EADDRINUSE);
    ioas.unmapAll();
    ioas.allowIovas(List.of(new IovaRange(0x1000, 0x1fff)));
    assertThat(errnoOf(() -> dev.attach(ioas))).isEqualTo(Errno.EADDRINUSE);
    ioas.allowIovas(List.of());
    dev.attach(ioas);
    assertThat(errnoOf(() -> ioas.allowIovas(List.of(new IovaRange(0x1000, 0x1fff)))))
        .isEqualTo(Errno.EADDRINUSE);
  }

  @Test
  void hugePagesCannotBeDisabledWithADomainAndAnArea() {
    open(Configuration.builder());
    Ioas ioas = ioasWithMockDomain();
    assertThat(ioas.iovaRanges().alignment()).isEqualTo(2048);
    ioas.setHugePages(false);
    assertThat(ioas.iovaRanges().alignment()).isEqualTo(4096);
    ioas.setHugePages(true);
    ioas.mapFixed(MOCK_BASE, arena.allocate(4096, 4096), Protection.READ);
    assertThat(errnoOf(() -> ioas.setHugePages(false))).isEqualTo(Errno.EINVAL);
    assertThat(ioas.hugePages()).isTrue();
  }
}
