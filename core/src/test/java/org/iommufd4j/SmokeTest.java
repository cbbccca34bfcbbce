package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

class SmokeTest {
  @Test
  void typedMapAndUnmap() {
    try (Iommufd fd = Iommufd.emulated()) {
      Ioas ioas = fd.createIoas();
      assertThat(ioas.id()).isEqualTo(1);
      Mapping m = ioas.map(0x7f0000200000L, 4096, Protection.READ_WRITE);
      assertThat(m.iova()).isEqualTo(0x1000);
      Mapping m2 = ioas.map(0x7f0000200000L, 12288, Protection.READ_WRITE);
      assertThat(m2.iova()).isEqualTo(0x4000);
      assertThat(ioas.map(0x7f0000200010L, 1, Protection.READ).iova()).isEqualTo(0x2010);
      assertThatThrownBy(() -> ioas.mapFixed(0x1000, 0x7f0000200000L, 4096, Protection.READ))
          .isInstanceOfSatisfying(
              IommufdException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EEXIST));
      assertThat(ioas.unmapAll()).isEqualTo(4096 + 12288 + 1);
      assertThat(ioas.iovaRanges().ranges()).containsExactly(new IovaRange(0, -1));
    }
  }

  @Test
  void rawIoasAlloc() {
    try (Iommufd fd = Iommufd.emulated();
        Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(12);
      s.set(ValueLayout.JAVA_INT, 0, 12);
      assertThat(fd.ioctl(0x3b81, s)).isZero();
      assertThat(s.get(ValueLayout.JAVA_INT, 8)).isEqualTo(1);
      assertThat(fd.ioctl(0x3b80, MemorySegment.NULL)).isEqualTo(-14);
      assertThat(fd.ioctl(0x3b7f, MemorySegment.NULL)).isEqualTo(-25);
    }
  }
}
