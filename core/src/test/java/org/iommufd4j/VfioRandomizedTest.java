package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertOk;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import java.util.stream.Stream;
import org.iommufd4j.VfioCalls.Unmapped;
import org.iommufd4j.engine.IoasAreas;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random sequences of VFIO MAP_DMA/UNMAP_DMA (vfio_compat.c: iommufd_vfio_map_dma(),
 * iommufd_vfio_unmap_dma()):
 *
 * <ul>
 *   <li>in TYPE1v2 mode against IOMMU_IOAS_MAP (FIXED_IOVA) and IOMMU_IOAS_UNMAP on a second IOAS
 *       of the same context, on inputs where the kernel makes them agree (no 2^64 - 1 arguments, at
 *       least one of READ/WRITE); the only difference allowed is the one vfio_compat.c:
 *       iommufd_vfio_unmap_dma() makes: removing nothing succeeds, and a failed removal still
 *       reports its bytes;
 *   <li>in TYPE1 mode against a deliberately simple model (a list of areas, linear scans) of the
 *       cuts of io_pagetable.c: iopt_cut_iova() and the removal of iopt_unmap_iova_range().
 * </ul>
 *
 * Each runs without a domain, with the selftest mock domain and with a VT-d-like domain; the
 * engine's invariant checker (domain contents, pins) runs after every step. {@code -Dseed=N}
 * changes the sequences.
 */
class VfioRandomizedTest extends ConformanceTest {
  private static final long SEED = Long.parseLong(System.getProperty("seed", "7"));
  private static final int SEQUENCES = 4;
  private static final int STEPS = 300;
  private static final long GRANULE = 2048;
  private static final long BUFFER_PAGES = 64;
  private static final long MOCK_BASE = IommuTestCmd.MOCK_APERTURE_START;
  private static final long MOCK_LAST = IommuTestCmd.MOCK_APERTURE_LAST;

  /** What the IOASes of a sequence have attached. */
  enum Domains {
    NONE(0x10_0000, 0, -1),
    MOCK(MOCK_BASE, MOCK_BASE, MOCK_LAST),
    VTD(0x10_0000, 0, (1L << 48) - 1);

    /** Where the sequence's IOVAs cluster. */
    final long base;

    final long apertureStart;
    final long apertureLast;

    Domains(long base, long apertureStart, long apertureLast) {
      this.base = base;
      this.apertureStart = apertureStart;
      this.apertureLast = apertureLast;
    }

    void attach(VfioCalls vfio, int ioasId) {
      switch (this) {
        case NONE -> {}
        case MOCK -> vfio.mockDomain(ioasId, 0);
        case VTD ->
            vfio.iommufd().createDevice(DomainModel.vtd()).attach(vfio.iommufd().ioas(ioasId));
      }
    }
  }

  static Stream<Arguments> sequences() {
    SplittableRandom seeds = new SplittableRandom(SEED);
    return LongStream.range(0, SEQUENCES)
        .boxed()
        .flatMap(
            i -> {
              long s = seeds.nextLong();
              return Stream.of(Domains.values()).map(d -> Arguments.of(s, d));
            });
  }

  private static String where(long sequenceSeed, int step, String op) {
    return String.format("seed=%d sequence=%d step=%d %s", SEED, sequenceSeed, step, op);
  }

  // ---- TYPE1v2 against the IOAS commands -----------------------------------------------------

  private int ioasMap(Iommufd iommufd, int ioasId, int prot, long va, long iova, long length) {
    int flags =
        IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
            | ((prot & VfioCalls.READ) != 0 ? IommuIoasMap.IOMMU_IOAS_MAP_READABLE : 0)
            | ((prot & VfioCalls.WRITE) != 0 ? IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE : 0);
    return struct(Command.IOMMU_IOAS_MAP)
        .u32(IommuIoasMap.FLAGS, flags)
        .u32(IommuIoasMap.IOAS_ID, ioasId)
        .u64(IommuIoasMap.USER_VA, va)
        .u64(IommuIoasMap.LENGTH, length)
        .u64(IommuIoasMap.IOVA, iova)
        .ioctl(iommufd);
  }

  private Unmapped ioasUnmap(Iommufd iommufd, int ioasId, long iova, long length) {
    Struct s =
        struct(Command.IOMMU_IOAS_UNMAP)
            .u32(IommuIoasUnmap.IOAS_ID, ioasId)
            .u64(IommuIoasUnmap.IOVA, iova)
            .u64(IommuIoasUnmap.LENGTH, length);
    int rc = s.ioctl(iommufd);
    return new Unmapped(rc, s.u64(IommuIoasUnmap.LENGTH));
  }

  private static long bytes(List<IoasAreas.View> areas) {
    long sum = 0;
    for (IoasAreas.View a : areas) {
      sum += a.last() - a.iova() + 1;
    }
    return sum;
  }

  private static boolean intersectsAny(List<IoasAreas.View> areas, long start, long last) {
    for (IoasAreas.View a : areas) {
      if (Long.compareUnsigned(a.iova(), last) <= 0 && Long.compareUnsigned(start, a.last()) <= 0) {
        return true;
      }
    }
    return false;
  }

  @ParameterizedTest(name = "sequence {0}, domains {1}")
  @MethodSource("sequences")
  void type1v2MapDmaAndUnmapDmaAgreeWithIoasMapAndUnmap(long sequenceSeed, Domains domains) {
    SplittableRandom random = new SplittableRandom(sequenceSeed);
    Iommufd iommufd = open();
    VfioCalls vfio = new VfioCalls(iommufd, arena);
    int compat = vfio.compatIoas();
    int plain = iommufd.createIoas().id();
    domains.attach(vfio, compat);
    domains.attach(vfio, plain);
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1v2_IOMMU));
    MemorySegment buffer = arena.allocate(BUFFER_PAGES * PAGE, 1 << 21);
    long base = domains.base;

    for (int step = 0; step < STEPS; step++) {
      long iova = base + random.nextLong(64) * GRANULE;
      if (random.nextInt(20) == 0) {
        iova = random.nextBoolean() ? random.nextLong(1, 1L << 20) : -2 - random.nextLong(1 << 16);
      }
      List<IoasAreas.View> before = vfio.areas(compat);
      if (random.nextInt(3) != 0) {
        long length = random.nextLong(0, 12) * GRANULE + (random.nextInt(8) == 0 ? 1 : 0);
        long va =
            buffer.address() + random.nextLong(32) * GRANULE + (random.nextInt(8) == 0 ? 0x400 : 0);
        int prot = 1 + random.nextInt(3);
        String op =
            String.format(
                "map prot=%d va=+0x%x iova=0x%x length=0x%x",
                prot, va - buffer.address(), iova, length);

        int expected = ioasMap(iommufd, plain, prot, va, iova, length);
        int actual = vfio.mapDma(prot, va, iova, length);

        assertThat(ErrnoAssertions.describe(actual))
            .as(where(sequenceSeed, step, op))
            .isEqualTo(ErrnoAssertions.describe(expected));
      } else {
        long size =
            random.nextInt(10) == 0
                ? -random.nextLong(2, 1 << 20)
                : random.nextLong(0, 24) * GRANULE;
        String op = String.format("unmap iova=0x%x size=0x%x", iova, size);
        boolean overflows = size != 0 && Long.compareUnsigned(iova + size - 1, iova) < 0;

        Unmapped expected = ioasUnmap(iommufd, plain, iova, size);
        Unmapped actual = vfio.unmapDma(0, iova, size);

        long removed = bytes(before) - bytes(vfio.areas(compat));
        Unmapped want;
        if (expected.rc() == 0) {
          want = expected;
        } else if (expected.rc() == -Errno.ENOENT.number()) {
          boolean nothing = !intersectsAny(before, iova, iova + size - 1);
          want = nothing ? new Unmapped(0, 0) : new Unmapped(expected.rc(), removed);
        } else {
          assertThat(size == 0 || overflows).as(where(sequenceSeed, step, op)).isTrue();
          want = new Unmapped(expected.rc(), 0);
        }
        assertThat(actual).as(where(sequenceSeed, step, op)).isEqualTo(want);
      }
      assertThat(vfio.areas(compat))
          .as(where(sequenceSeed, step, "areas"))
          .isEqualTo(vfio.areas(plain));
      assertThat(((EmulatedIommufd) iommufd).checkInvariants())
          .as(where(sequenceSeed, step, "invariants"))
          .isEmpty();
    }
  }

  // ---- TYPE1 against a list model ------------------------------------------------------------

  /** One area of the model: inclusive range, protection, byte offset in its memory's pages. */
  private record ModelArea(long iova, long last, int prot, long offset) {}

  /**
   * The IOAS as io_pagetable.c: iopt_cut_iova() and iopt_unmap_iova_range() change it, with linear
   * scans.
   */
  private static final class Model {
    final List<ModelArea> areas = new ArrayList<>();
    final Domains domains;

    Model(Domains domains) {
      this.domains = domains;
    }

    /** MAP_DMA in TYPE1 mode (align 4096), for inputs that never overflow. */
    int map(int prot, long va, long iova, long size) {
      if (size == 0 || size % PAGE != 0 || iova % PAGE != 0) {
        return -Errno.EINVAL.number();
      }
      long last = iova + size - 1;
      if (domains != Domains.NONE
          && (iova < domains.apertureStart || last > domains.apertureLast)) {
        return -Errno.EINVAL.number();
      }
      for (ModelArea a : areas) {
        if (a.iova() <= last && iova <= a.last()) {
          return -Errno.EEXIST.number();
        }
      }
      if (va % PAGE != 0) {
        return -Errno.EINVAL.number();
      }
      if (domains == Domains.VTD && prot == 0) {
        return -Errno.EINVAL.number(); // filling the domain: VT-d has no entry without permissions
      }
      areas.add(new ModelArea(iova, last, prot, 0));
      areas.sort((x, y) -> Long.compare(x.iova(), y.iova()));
      return 0;
    }

    /** A cut at p: 0, or the refusal's errno. */
    int cut(long p) {
      for (int i = 0; i < areas.size(); i++) {
        ModelArea a = areas.get(i);
        if (p < a.iova() || p > a.last()) {
          continue;
        }
        if (p == a.iova() || p == a.last()) {
          return 0;
        }
        if ((p + 1) % PAGE != 0) {
          return -Errno.EINVAL.number();
        }
        areas.set(i, new ModelArea(a.iova(), p, a.prot(), a.offset()));
        areas.add(i + 1, new ModelArea(p + 1, a.last(), a.prot(), a.offset() + (p + 1 - a.iova())));
        return 0;
      }
      return 0;
    }

    /** UNMAP_DMA flags 0 in TYPE1 mode; {@code size} in the result is what the caller sees. */
    Unmapped unmap(long iova, long size) {
      int rc = cut(iova + size - 1);
      if (rc == 0 && iova != 0) {
        rc = cut(iova - 1);
      }
      if (rc != 0) {
        return new Unmapped(rc, size);
      }
      if (size == 0) {
        return new Unmapped(-Errno.EINVAL.number(), 0);
      }
      long last = iova + size - 1;
      long removed = 0;
      for (ModelArea a : List.copyOf(areas)) {
        if (a.last() < iova || a.iova() > last) {
          continue;
        }
        if (a.iova() < iova || a.last() > last) {
          return new Unmapped(-Errno.ENOENT.number(), removed);
        }
        areas.remove(a);
        removed += a.last() - a.iova() + 1;
      }
      return new Unmapped(0, removed);
    }

    Unmapped unmapAll() {
      long removed = 0;
      for (ModelArea a : areas) {
        removed += a.last() - a.iova() + 1;
      }
      areas.clear();
      return new Unmapped(0, removed);
    }

    List<IoasAreas.View> views() {
      List<IoasAreas.View> out = new ArrayList<>();
      for (ModelArea a : areas) {
        out.add(new IoasAreas.View(a.iova(), a.last(), a.prot(), a.offset()));
      }
      return out;
    }
  }

  @ParameterizedTest(name = "sequence {0}, domains {1}")
  @MethodSource("sequences")
  void type1UnmapDmaCutsAndRemovesAsTheListModelSays(long sequenceSeed, Domains domains) {
    SplittableRandom random = new SplittableRandom(sequenceSeed);
    Iommufd iommufd = open();
    VfioCalls vfio = new VfioCalls(iommufd, arena);
    int compat = vfio.compatIoas();
    domains.attach(vfio, compat);
    assertOk(vfio.setIommu(Vfio.VFIO_TYPE1_IOMMU));
    MemorySegment buffer = arena.allocate(BUFFER_PAGES * PAGE, 1 << 21);
    long base = domains.base;
    Model model = new Model(domains);

    for (int step = 0; step < STEPS; step++) {
      int dice = random.nextInt(20);
      if (dice < 8) {
        long iova = base + random.nextLong(48) * PAGE + (random.nextInt(10) == 0 ? GRANULE : 0);
        long size = random.nextLong(0, 16) * PAGE + (random.nextInt(10) == 0 ? GRANULE : 0);
        long va =
            buffer.address() + random.nextLong(32) * PAGE + (random.nextInt(10) == 0 ? GRANULE : 0);
        int prot = random.nextInt(4);
        String op =
            String.format(
                "map prot=%d va=+0x%x iova=0x%x size=0x%x",
                prot, va - buffer.address(), iova, size);

        int expected = model.map(prot, va - buffer.address(), iova, size);
        int actual = vfio.mapDma(prot, va, iova, size);

        assertThat(ErrnoAssertions.describe(actual))
            .as(where(sequenceSeed, step, op))
            .isEqualTo(ErrnoAssertions.describe(expected));
      } else if (dice == 19) {
        assertThat(vfio.unmapDma(VfioCalls.ALL, 0, 0))
            .as(where(sequenceSeed, step, "unmap all"))
            .isEqualTo(model.unmapAll());
      } else {
        long iova = base + random.nextLong(64) * GRANULE;
        if (random.nextInt(30) == 0) {
          iova = 0;
        }
        long size = random.nextLong(0, 24) * GRANULE;
        String op = String.format("unmap iova=0x%x size=0x%x", iova, size);

        Unmapped expected = model.unmap(iova, size);
        Unmapped actual = vfio.unmapDma(0, iova, size);

        assertThat(actual).as(where(sequenceSeed, step, op)).isEqualTo(expected);
      }
      assertThat(vfio.areas(compat))
          .as(where(sequenceSeed, step, "areas"))
          .isEqualTo(model.views());
      assertThat(((EmulatedIommufd) iommufd).checkInvariants())
          .as(where(sequenceSeed, step, "invariants"))
          .isEmpty();
    }
  }
}
