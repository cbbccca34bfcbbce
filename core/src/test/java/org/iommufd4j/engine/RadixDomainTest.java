package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RadixDomainTest {
  private static final DomainSpec VTD =
      new DomainSpec(
          DomainSpec.Format.RADIX,
          0,
          (1L << 48) - 1,
          RadixDomain.PAGE_4K | RadixDomain.PAGE_2M | RadixDomain.PAGE_1G,
          List.of());

  @Test
  void alignedRunsUseTheLargestPageThatFits() {
    RadixDomain d = new RadixDomain(VTD);
    long pa = 1L << 40;
    d.map(
        RadixDomain.PAGE_1G,
        pa,
        RadixDomain.PAGE_1G + RadixDomain.PAGE_2M + 8192,
        Domain.PROT_READ,
        true);
    assertThat(d.pageSizeAt(RadixDomain.PAGE_1G)).isEqualTo(RadixDomain.PAGE_1G);
    assertThat(d.pageSizeAt(2 * RadixDomain.PAGE_1G)).isEqualTo(RadixDomain.PAGE_2M);
    assertThat(d.pageSizeAt(2 * RadixDomain.PAGE_1G + RadixDomain.PAGE_2M + 4096))
        .isEqualTo(RadixDomain.PAGE_4K);
    assertThat(d.entryCount()).isEqualTo(4);
    assertThat(d.translate(RadixDomain.PAGE_1G + 12345)).isEqualTo(pa + 12345);
    d.unmap(RadixDomain.PAGE_1G, RadixDomain.PAGE_1G + RadixDomain.PAGE_2M + 8192);
    assertThat(d.entryCount()).isZero();
    assertThat(d.translate(RadixDomain.PAGE_1G)).isEqualTo(-1);
  }

  @Test
  void withoutLargePagesEveryPageIs4k() {
    RadixDomain d = new RadixDomain(VTD);
    d.map(0, 0, RadixDomain.PAGE_2M, Domain.PROT_WRITE, false);
    assertThat(d.entryCount()).isEqualTo(512);
    assertThat(d.protection(4096)).isEqualTo(Domain.PROT_WRITE);
  }

  @Test
  void misalignedPhysicalAddressForcesSmallPages() {
    RadixDomain d = new RadixDomain(VTD);
    d.map(
        RadixDomain.PAGE_2M,
        RadixDomain.PAGE_2M + 4096,
        RadixDomain.PAGE_2M,
        Domain.PROT_READ,
        true);
    assertThat(d.pageSizeAt(RadixDomain.PAGE_2M)).isEqualTo(RadixDomain.PAGE_4K);
  }

  @Test
  void randomMapsTranslateExactlyAndUnmapToEmpty() {
    SplittableRandom rnd = new SplittableRandom(Long.getLong("seed", 1234L));
    RadixDomain d = new RadixDomain(VTD);
    long iova = 0;
    long[][] maps = new long[200][];
    for (int i = 0; i < maps.length; i++) {
      long len = (1 + rnd.nextInt(1024)) * 4096L;
      long pa = rnd.nextLong(1L << 36) & -4096L;
      if (rnd.nextBoolean()) {
        iova = (iova + RadixDomain.PAGE_2M - 1) & -RadixDomain.PAGE_2M;
        pa &= -RadixDomain.PAGE_2M;
      }
      d.map(iova, pa, len, Domain.PROT_READ, true);
      maps[i] = new long[] {iova, pa, len};
      iova += len + 4096 * rnd.nextInt(3);
    }
    for (long[] m : maps) {
      for (int k = 0; k < 16; k++) {
        long off = rnd.nextLong(m[2]);
        assertThat(d.translate(m[0] + off))
            .as("seed=%s", Long.getLong("seed", 1234L))
            .isEqualTo(m[1] + off);
      }
    }
    for (long[] m : maps) {
      d.unmap(m[0], m[2]);
    }
    assertThat(d.entryCount()).isZero();
  }
}
