package org.iommufd4j.diff;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuOption;

/**
 * Ready-made sequences for trying the differential runner against a kernel: each touches the common
 * paths and a few of their errno cases.
 */
public final class SampleSequences {
  private static final int READ = IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
  private static final int RW = READ | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
  private static final int FIXED = IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
  private static final long MIB = 1L << 20;

  private SampleSequences() {}

  /**
   * IOAS commands without any domain: automatic and fixed MAP, EEXIST, COPY, IOVA_RANGES (the
   * EMSGSIZE probe, then the array), ALLOW_IOVAS, UNMAP with the superset rule, HUGE_PAGES, DESTROY
   * and ENOENT. Runs on any kernel with iommufd.
   */
  public static OpSequence ioasBasics() {
    return OpSequence.builder()
        .buffer("data", 4 * MIB, 0x5a)
        .buffer("ranges", 4L * OpSequence.IOVA_RANGE_SIZE)
        .ioasAlloc() // id 1
        .ioasAlloc() // id 2
        .map(1, RW, "data", 0, 2 * MIB, 0) // automatic IOVA
        .map(1, READ | FIXED, "data", 2 * MIB, MIB, 0x4000_0000L)
        .map(1, READ | FIXED, "data", 0, MIB, 0x4000_0000L) // EEXIST
        .map(1, RW, "data", 4096, 3 * 4096, 0) // in-page offset kept
        .copy(2, 1, READ, MIB, 0, 0x4000_0000L) // automatic destination
        .copy(2, 1, RW, MIB, 0x8000_0000L, 0x4000_0000L) // EPERM: source is read-only
        .iovaRanges(1, null, 0) // EMSGSIZE, count written back
        .iovaRanges(1, "ranges", 4)
        .allowIovas(2, "allowed", 0x1000_0000L, 0x1fff_ffffL)
        .map(2, RW, "data", 0, MIB, 0) // inside the allowed range
        .allowIovas(2, "bad", 0x2000L, 0x1000L) // EINVAL: start > last
        .unmap(1, 0x4000_0000L, 4096) // ENOENT: would split an area
        .unmap(1, 0x3000_0000L, 0x2000_0000L) // superset: removes the fixed area
        .option(IommuOption.IOMMU_OPTION_HUGE_PAGES, IommuOption.IOMMU_OPTION_OP_GET, 1, 0)
        .option(IommuOption.IOMMU_OPTION_RLIMIT_MODE, IommuOption.IOMMU_OPTION_OP_GET, 0, 0)
        .unmap(1, 0, -1L) // unmap all
        .destroy(2)
        .destroy(2) // ENOENT
        .ioasAlloc() // reuses id 2
        .build();
  }

  /**
   * The selftest mock domain (kernels with {@code CONFIG_IOMMUFD_TEST}): attaching it reserves
   * outside the aperture {@code [2^24, 2^31 - 1]} and raises the alignment to 2 KiB; MAP then pins.
   */
  public static OpSequence mockDomain() {
    return OpSequence.builder()
        .buffer("data", 2 * MIB, 0x11)
        .buffer("ranges", 4L * OpSequence.IOVA_RANGE_SIZE)
        .ioasAlloc()
        .map(1, RW | FIXED, "data", 0, MIB, 0x1_0000_0000L) // outside the aperture, no domain yet
        .mockDomain(1) // EADDRINUSE: the area is in the way
        .unmap(1, 0, -1L)
        .mockDomain(1)
        .iovaRanges(1, "ranges", 4)
        .map(1, RW, "data", 0, 2 * MIB, 0)
        .map(1, RW | FIXED, "data", 0, MIB, 0x1_0000_0000L) // EINVAL: reserved
        .addReserved(1, 0x4000_0000L, 0x10_0000L)
        .iovaRanges(1, "ranges", 4)
        .unmap(1, 0, -1L)
        .build();
  }

  /**
   * {@code count} seeded random IOAS commands over three IOASes (ids 1 to 3) and two buffers: MAP
   * (automatic and fixed, offsets and lengths in pages and odd sizes), COPY, UNMAP (exact, partial,
   * all), IOVA_RANGES, ALLOW_IOVAS, HUGE_PAGES and DESTROY/ALLOC. Many calls fail, on purpose: the
   * point is that both sides fail the same way. No test ABI, so it runs on any iommufd kernel.
   */
  public static OpSequence random(long seed, int count) {
    return random(seed, count, false);
  }

  /**
   * As {@link #random(long, int)}, plus the test ABI: now and then a selftest mock domain is
   * attached to an IOAS (MOCK_DOMAIN, which pins every area and narrows the IOVA space) or a range
   * is reserved (ADD_RESERVED). Needs a kernel with {@code CONFIG_IOMMUFD_TEST}.
   */
  public static OpSequence randomWithMockDomains(long seed, int count) {
    return random(seed, count, true);
  }

  private static OpSequence random(long seed, int count, boolean mock) {
    SplittableRandom r = new SplittableRandom(seed);
    OpSequence.Builder b =
        OpSequence.builder()
            .buffer("a", 4 * MIB, 0x11)
            .buffer("b", 64 * 4096, 0x22)
            .buffer("ranges", 8L * OpSequence.IOVA_RANGE_SIZE)
            .ioasAlloc()
            .ioasAlloc()
            .ioasAlloc();
    long[] iovas = {0, 0x10_0000L, 0x20_0000L, 0x4000_0000L, 0x4010_0000L, 0xffff_f000L, -4096L};
    int allowed = 0;
    for (int i = 0; i < count; i++) {
      int ioas = 1 + r.nextInt(3);
      long length = r.nextInt(8) == 0 ? 1 + r.nextInt(8192) : 4096L * (1 + r.nextInt(64));
      long iova = iovas[r.nextInt(iovas.length)] + (r.nextInt(4) == 0 ? 4096L * r.nextInt(16) : 0);
      int prot = r.nextBoolean() ? RW : READ;
      switch (r.nextInt(12)) {
        case 0, 1, 2 ->
            b.map(ioas, prot, r.nextBoolean() ? "a" : "b", 4096L * r.nextInt(16), length, 0);
        case 3, 4 ->
            b.map(
                ioas,
                prot | FIXED,
                r.nextBoolean() ? "a" : "b",
                4096L * r.nextInt(16),
                length,
                iova);
        case 5 ->
            b.copy(
                ioas,
                1 + r.nextInt(3),
                prot | (r.nextBoolean() ? FIXED : 0),
                length,
                iovas[r.nextInt(iovas.length)],
                iova);
        case 6, 7 -> b.unmap(ioas, iova, r.nextInt(4) == 0 ? -1L : length);
        case 8 -> b.iovaRanges(ioas, "ranges", r.nextInt(3));
        case 9 -> {
          long start = iovas[1 + r.nextInt(4)];
          b.allowIovas(ioas, "allowed" + allowed++, start, start + length - 1);
        }
        case 10 ->
            b.option(
                IommuOption.IOMMU_OPTION_HUGE_PAGES,
                r.nextBoolean() ? IommuOption.IOMMU_OPTION_OP_GET : IommuOption.IOMMU_OPTION_OP_SET,
                ioas,
                r.nextInt(2));
        default -> {
          // With domains, destroy rarely: the devices and HWPTs take the ids after 3.
          int pick = r.nextInt(mock ? 10 : 2);
          switch (pick) {
            case 0 -> b.destroy(ioas);
            case 1 -> b.ioasAlloc();
            case 2, 3, 4, 5 -> b.mockDomain(ioas);
            default -> b.addReserved(ioas, iova, length);
          }
        }
      }
      if (r.nextInt(8) == 0) {
        b.replaceLast(op -> mutate(op, r));
      }
    }
    return b.build();
  }

  /**
   * The generic decode's edge cases (main.c: iommufd_fops_ioctl()): a size word below {@code
   * min_size}, a longer struct with a zero or a non-zero tail, a shorter one, a stray flag bit, a
   * non-zero {@code __reserved} word. Pointer fields stay where they are.
   */
  private static OpSequence.Ioctl mutate(OpSequence.Ioctl op, SplittableRandom r) {
    byte[] s = op.struct();
    ByteBuffer le = ByteBuffer.wrap(s).order(ByteOrder.LITTLE_ENDIAN);
    int size = le.getInt(0);
    switch (r.nextInt(6)) {
      case 0 -> le.putInt(0, size - 4 - 4 * r.nextInt(2));
      case 1, 2 -> {
        byte[] longer = Arrays.copyOf(s, s.length + 8 * (1 + r.nextInt(2)));
        ByteBuffer.wrap(longer).order(ByteOrder.LITTLE_ENDIAN).putInt(0, longer.length);
        if (r.nextBoolean()) {
          longer[longer.length - 1 - r.nextInt(8)] = 1;
        }
        s = longer;
      }
      case 3 -> {
        int word = 4 * (1 + r.nextInt(Math.max(1, s.length / 4 - 1)));
        if (!op.isPointerByte(word) && word + 4 <= s.length) {
          le.putInt(word, le.getInt(word) ^ (1 << r.nextInt(32)));
        }
      }
      case 4 -> {
        if (s.length >= 16 && !op.isPointerByte(12)) {
          le.putInt(12, 1 + r.nextInt(3)); // __reserved in most structs
        }
      }
      default -> le.putInt(0, size + 4); // claims more than the block holds: the tail is read
    }
    return new OpSequence.Ioctl(op.request(), s, op.pointers());
  }
}
