package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.engine.ContextSnapshot;
import org.iommufd4j.engine.ContextSnapshot.AreaRow;
import org.iommufd4j.engine.ObjectType;
import org.junit.jupiter.api.Test;

class EmulatorInternalsTest {
  private static final Configuration OWN_HOST = Configuration.builder().privateHost(true).build();

  @Test
  void snapshotShowsObjectsAreasReservedAndAllowedRangesAndPins() {
    try (Iommufd iommufd = Iommufd.emulated(OWN_HOST); Arena arena = Arena.ofConfined()) {
      Ioas a = iommufd.createIoas();
      Ioas b = iommufd.createIoas();
      MemorySegment buf = arena.allocate(1 << 20, 1 << 20);
      b.allowIovas(List.of(new IovaRange(0x1000_0000L, 0x1fff_ffffL)));
      try (EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock())) {
        dev.attach(a);
        Mapping m = a.map(buf, Protection.READ);
        ContextSnapshot s = EmulatorInternals.snapshot(iommufd).orElseThrow();
        assertThat(s.objects()).extracting(o -> o.id() + " " + o.type() + " " + o.detail())
            .containsExactly("1 IOAS ", "2 IOAS ", "3 DEVICE hwpt=4", "4 HWPT_PAGING ioas=1 auto");
        assertThat(s.ioases().get(0).areas()).containsExactly(
            new AreaRow(m.iova(), m.last(), buf.address(), "r"));
        assertThat(s.ioases().get(0).reserved()).extracting(r -> r.owner())
            .containsOnly("hwpt 4");
        assertThat(s.ioases().get(0).alignment()).isEqualTo(2048);
        assertThat(s.ioases().get(1).allowed())
            .containsExactly(new IovaRange(0x1000_0000L, 0x1fff_ffffL));
        assertThat(s.pinnedPages()).isEqualTo(256);
        assertThat(s.lockedPagesUser()).isEqualTo(256);
        String table = EmulatorInternals.describe(iommufd);
        assertThat(table).contains("4 objects", "IOAS 1: alignment=0x800", "owner=hwpt 4",
            "allowed   0x10000000         .. 0x1fffffff", "pinned pages=256", " r\n");
      }
      assertThat(EmulatorInternals.checkInvariants(iommufd)).isEmpty();
      iommufd.close();
      ContextSnapshot after = EmulatorInternals.snapshot(iommufd).orElseThrow();
      assertThat(after.objects()).isEmpty();
      assertThat(after.pinnedPages()).isZero();
      assertThat(after.tornDown()).isTrue();
    }
  }

  @Test
  void otherBackendsHaveNoSnapshot() {
    try (Iommufd notEmulated = new IoctlOverEmulator(Iommufd.emulated(OWN_HOST))) {
      assertThat(EmulatorInternals.isEmulated(notEmulated)).isFalse();
      assertThat(EmulatorInternals.snapshot(notEmulated)).isEmpty();
      assertThat(EmulatorInternals.describe(notEmulated)).contains("no emulator state");
      assertThatThrownBy(() -> EmulatorInternals.checkInvariants(notEmulated))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void theObjectTypesAreTheEnginesOwn() {
    try (Iommufd iommufd = Iommufd.emulated(OWN_HOST)) {
      iommufd.createIoas();
      assertThat(EmulatorInternals.snapshot(iommufd).orElseThrow().objects())
          .extracting(ContextSnapshot.ObjectRow::type).containsExactly(ObjectType.IOAS);
    }
  }
}
