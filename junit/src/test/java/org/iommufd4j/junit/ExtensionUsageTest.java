package org.iommufd4j.junit;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.DomainModel;
import org.iommufd4j.EmulatedDevice;
import org.iommufd4j.Ioas;
import org.iommufd4j.Iommufd;
import org.iommufd4j.Mapping;
import org.iommufd4j.Protection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The extension used as the README shows it: a device's DMA lands in the test's buffer. */
@ExtendWith(IommufdExtension.class)
@IommufdConfig(domainModel = IommufdConfig.Model.VTD)
class ExtensionUsageTest {
  @Test
  void deviceWritesIntoAMappedBuffer(Iommufd iommufd, EmulatedDevice nic) {
    Ioas ioas = iommufd.createIoas();
    nic.attach(ioas);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment ring = arena.allocate(4096, 4096);
      Mapping m = ioas.map(ring, Protection.READ_WRITE);
      nic.dmaWrite(m.iova() + 8, arena.allocateFrom("packet"));
      assertThat(ring.getString(8)).isEqualTo("packet");
      ioas.unmap(m); // unpins before the arena frees the memory
    }
    nic.detach(); // what the test made, it takes down: the extension fails a test that does not
    ioas.close();
  }

  @Test
  void eachTestHasItsOwnMachine(Iommufd iommufd, DomainModel model) {
    assertThat(model).isEqualTo(DomainModel.vtd());
    assertThat(iommufd.inspect().host().pinnedFrames()).isZero();
  }
}
