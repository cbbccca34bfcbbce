package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

class CheckInvariantsTest {
  private static final Configuration OWN_HOST = Configuration.builder().privateHost(true).build();

  @Test
  void invariantsOfAnEmulatedContextHoldBeforeAndAfterClose() {
    try (Iommufd iommufd = Iommufd.emulated(OWN_HOST);
        Arena arena = Arena.ofConfined()) {
      Ioas a = iommufd.createIoas();
      EmulatedDevice dev = iommufd.createDevice(DomainModel.selftestMock());
      dev.attach(a);
      a.map(arena.allocate(1 << 20, 1 << 20), Protection.READ);
      assertThat(iommufd.checkInvariants()).isEmpty();
      iommufd.close();
      assertThat(iommufd.checkInvariants()).isEmpty();
    }
  }

  @Test
  void otherBackendsCannotCheckTheirInternals() {
    try (Iommufd notEmulated = new IoctlOverEmulator(Iommufd.emulated(OWN_HOST))) {
      assertThatThrownBy(notEmulated::checkInvariants)
          .isInstanceOf(UnsupportedOperationException.class);
    }
  }
}
