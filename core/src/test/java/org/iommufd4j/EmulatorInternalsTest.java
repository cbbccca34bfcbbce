package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class EmulatorInternalsTest {
  private static final Configuration OWN_HOST = Configuration.builder().privateHost(true).build();

  @Test
  void countsAndStateOfAContextBeforeAndAfterClose() {
    try (Iommufd iommufd = Iommufd.emulated(OWN_HOST); Arena arena = Arena.ofConfined()) {
      Ioas a = iommufd.createIoas();
      MemorySegment buf = arena.allocate(1 << 20, 1 << 20);
      EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
      dev.attach(a);
      a.map(buf, Protection.READ);
      assertThat(EmulatorInternals.isEmulated(iommufd)).isTrue();
      assertThat(EmulatorInternals.objectCount(iommufd)).isEqualTo(3); // IOAS, device, HWPT
      assertThat(EmulatorInternals.pinnedPages(iommufd)).isEqualTo(256);
      assertThat(EmulatorInternals.chargedPages(iommufd)).isEqualTo(256);
      assertThat(EmulatorInternals.describe(iommufd)).contains("object 1 IOAS", "area [0x");
      assertThat(EmulatorInternals.checkInvariants(iommufd)).isEmpty();
      iommufd.close();
      assertThat(EmulatorInternals.isTornDown(iommufd)).isTrue();
      assertThat(EmulatorInternals.objectCount(iommufd)).isZero();
      assertThat(EmulatorInternals.pinnedPages(iommufd)).isZero();
      assertThat(EmulatorInternals.chargedPages(iommufd)).isZero();
    }
  }

  @Test
  void otherBackendsHaveNoEmulatorState() {
    try (Iommufd notEmulated = new IoctlOverEmulator(Iommufd.emulated(OWN_HOST))) {
      assertThat(EmulatorInternals.isEmulated(notEmulated)).isFalse();
      assertThat(EmulatorInternals.describe(notEmulated)).contains("no emulator state");
      assertThatThrownBy(() -> EmulatorInternals.checkInvariants(notEmulated))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }
}
