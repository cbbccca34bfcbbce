package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Emulated devices behind emulated IOMMUs, and their DMA (issue 4 items 2 and 8). */
class EmulatedDeviceTest {
  private static final long MIB = 1 << 20;

  private Arena arena;
  private Iommufd iommufd;
  private Ioas ioas;
  private MemorySegment buffer;

  @BeforeEach
  void open() {
    arena = Arena.ofConfined();
    iommufd =
        Iommufd.emulated(
            Configuration.builder()
                .privateHost(true)
                .memlockLimit(Configuration.UNLIMITED)
                .build());
    ioas = iommufd.createIoas();
    buffer = arena.allocate(4 * MIB, 2 * MIB);
  }

  @AfterEach
  void close() {
    iommufd.close();
    arena.close();
  }

  private static void assertFault(Runnable dma, IommuFaultException.Reason reason, long iova) {
    assertThatThrownBy(dma::run)
        .isInstanceOfSatisfying(
            IommuFaultException.class,
            f -> {
              assertThat(f.reason()).isEqualTo(reason);
              assertThat(f.iova()).isEqualTo(iova);
            });
  }

  @Test
  void vtdDeviceReservesOutsideItsApertureAndTheMsiWindow() {
    try (EmulatedDevice dev = iommufd.createDevice(DomainModel.vtd())) {
      dev.attach(ioas);
      assertThat(ioas.iovaRanges().ranges())
          .containsExactly(
              new IovaRange(0, 0xfedf_ffffL), new IovaRange(0xfef0_0000L, (1L << 48) - 1));
      assertThat(ioas.iovaRanges().alignment()).isEqualTo(4096);
      assertThatThrownBy(
              () -> ioas.mapFixed(0xfee0_0000L, buffer.asSlice(0, 4096), Protection.READ))
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }
    assertThat(ioas.iovaRanges().ranges()).containsExactly(new IovaRange(0, -1));
  }

  @Test
  void deviceWritesAndReadsTheProgramsMemoryThroughItsMappings() {
    EmulatedDevice dev = iommufd.createDevice(DomainModel.vtd());
    dev.attach(ioas);
    Mapping m = ioas.mapFixed(0x4000_0000L, buffer, Protection.READ_WRITE);
    MemorySegment packet = arena.allocate(6000);
    for (int i = 0; i < 6000; i++) {
      packet.set(ValueLayout.JAVA_BYTE, i, (byte) i);
    }
    dev.dmaWrite(m.iova() + 100, packet);
    assertThat(buffer.asSlice(100, 6000).mismatch(packet)).isEqualTo(-1);
    MemorySegment back = arena.allocate(6000);
    dev.dmaRead(m.iova() + 100, back);
    assertThat(back.mismatch(packet)).isEqualTo(-1);
  }

  @Test
  void dmaOutsideMappingsOrAgainstTheirPermissionFaults() {
    EmulatedDevice dev = iommufd.createDevice(DomainModel.vtd());
    MemorySegment page = arena.allocate(4096);
    assertFault(() -> dev.dmaRead(0x1000, page), IommuFaultException.Reason.NOT_ATTACHED, 0x1000);
    dev.attach(ioas);
    ioas.mapFixed(0x10_0000L, buffer.asSlice(0, 8192), Protection.READ);
    dev.dmaRead(0x10_0000L, page);
    assertFault(
        () -> dev.dmaWrite(0x10_0000L, page), IommuFaultException.Reason.WRITE_DENIED, 0x10_0000L);
    assertFault(
        () -> dev.dmaRead(0x10_1000L, arena.allocate(8192)),
        IommuFaultException.Reason.NOT_MAPPED,
        0x10_2000L);
    ioas.unmap(0x10_0000L, 8192);
    assertFault(
        () -> dev.dmaRead(0x10_0000L, page), IommuFaultException.Reason.NOT_MAPPED, 0x10_0000L);
  }

  @Test
  void narrowApertureRefusesAnIoasWithMappingsOutsideIt() {
    ioas.mapFixed(0x1000, buffer.asSlice(0, 4096), Protection.READ);
    EmulatedDevice dev = iommufd.createDevice(DomainModel.vtd().withAperture(MIB, 0xffff_ffffL));
    assertThatThrownBy(() -> dev.attach(ioas))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE));
    assertThat(dev.hwptId()).isZero();
    assertThat(ioas.iovaRanges().ranges()).containsExactly(new IovaRange(0, -1));
  }

  @Test
  void reservedRegionOverAnAllowedRangeFailsTheAttach() {
    ioas.allowIovas(List.of(new IovaRange(0xfe00_0000L, 0xffff_ffffL)));
    EmulatedDevice dev = iommufd.createDevice(DomainModel.vtd());
    assertThatThrownBy(() -> dev.attach(ioas))
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EADDRINUSE));
    assertThat(dev.hwptId()).isZero();
  }

  @Test
  void devicesOfTheSameModelShareAnAutomaticHwptAndOthersGetTheirOwn() {
    EmulatedDevice a = iommufd.createDevice(DomainModel.vtd());
    EmulatedDevice b = iommufd.createDevice(DomainModel.vtd());
    EmulatedDevice mock = iommufd.createDevice(DomainModel.selftestMock());
    a.attach(ioas);
    b.attach(ioas);
    mock.attach(ioas);
    assertThat(b.hwptId()).isEqualTo(a.hwptId());
    assertThat(mock.hwptId()).isNotEqualTo(a.hwptId());
    assertThat(ioas.iovaRanges().ranges())
        .as("the intersection of both apertures")
        .containsExactly(new IovaRange(1L << 24, (1L << 31) - 1));
    assertThat(ioas.iovaRanges().alignment()).isEqualTo(4096);
    Mapping m = ioas.map(buffer.asSlice(0, 8192), Protection.READ_WRITE);
    MemorySegment word = arena.allocate(8);
    word.set(ValueLayout.JAVA_LONG, 0, 0x1122334455667788L);
    mock.dmaWrite(m.iova(), word);
    MemorySegment seen = arena.allocate(8);
    a.dmaRead(m.iova(), seen);
    assertThat(seen.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(0x1122334455667788L);
    mock.close();
    assertThatThrownBy(() -> ioas.close())
        .isInstanceOfSatisfying(
            IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBUSY));
  }
}
