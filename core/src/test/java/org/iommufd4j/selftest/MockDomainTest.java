package org.iommufd4j.selftest;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.Iommufd;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuIovaRange;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The mock domain path of the selftests (selftest.c: mock_ops, iommufd_test_mock_domain(),
 * iommufd_test_md_check_pa(), iommufd_test_md_check_refs()), through the byte ABI.
 */
class MockDomainTest {
  private static final int EBUSY = -16;
  private static final int EIO = -5;
  private static final int EINVAL = -22;
  private static final long BASE = IommuTestCmd.MOCK_APERTURE_START;

  private Arena arena;
  private Iommufd iommufd;
  private MemorySegment buffer;

  @BeforeEach
  void open() {
    arena = Arena.ofConfined();
    iommufd = Iommufd.emulated();
    buffer = arena.allocate(1 << 16, 1 << 21);
    buffer.fill((byte) 1);
  }

  @AfterEach
  void close() {
    iommufd.close();
    assertThat(checkRefs(buffer, 0)).as("no pin survives the close").isZero();
    arena.close();
  }

  private int ioasAlloc() {
    Struct s = IommuIoasAlloc.of(arena);
    assertThat(s.ioctl(iommufd)).isZero();
    return s.u32(IommuIoasAlloc.OUT_IOAS_ID);
  }

  private int[] mockDomain(int id, int flags) {
    Struct s =
        IommuTestCmd.of(
                arena,
                flags == 0
                    ? IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN
                    : IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
                id)
            .u32(IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS, flags);
    assertThat(s.ioctl(iommufd)).isZero();
    return new int[] {
      s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID),
      s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID),
      s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID)
    };
  }

  private int map(int ioas, long iova, MemorySegment mem, long length) {
    return IommuIoasMap.of(
            arena,
            IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
                | IommuIoasMap.IOMMU_IOAS_MAP_READABLE
                | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE,
            ioas,
            mem.address(),
            length,
            iova)
        .ioctl(iommufd);
  }

  private int unmap(int ioas, long iova, long length) {
    return IommuIoasUnmap.of(arena, ioas, iova, length).ioctl(iommufd);
  }

  private int checkRefs(MemorySegment mem, int refs) {
    try (Iommufd fresh = Iommufd.emulated();
        Arena a = Arena.ofConfined()) {
      return IommuTestCmd.of(a, IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS, 0)
          .u64(IommuTestCmd.CHECK_REFS_LENGTH, mem.byteSize())
          .u64(IommuTestCmd.CHECK_REFS_UPTR, mem.address())
          .u32(IommuTestCmd.CHECK_REFS_REFS, refs)
          .ioctl(fresh);
    }
  }

  private int checkMap(int hwpt, long iova, MemorySegment mem) {
    return IommuTestCmd.of(arena, IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP, hwpt)
        .u64(IommuTestCmd.CHECK_MAP_IOVA, iova)
        .u64(IommuTestCmd.CHECK_MAP_LENGTH, mem.byteSize())
        .u64(IommuTestCmd.CHECK_MAP_UPTR, mem.address())
        .ioctl(iommufd);
  }

  private int destroy(int id) {
    return IommuDestroy.of(arena, id).ioctl(iommufd);
  }

  @Test
  void mockDomainNarrowsTheIovaRangesAndSharesOneAutomaticHwpt() {
    int ioas = ioasAlloc();
    assertThat(mockDomain(ioas, 0)).containsExactly(2, 4, 3);
    assertThat(mockDomain(ioas, IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY)).containsExactly(5, 4, 6);
    Struct ranges = IommuIovaRange.array(arena, 2);
    Struct s = IommuIoasIovaRanges.of(arena, ioas, 2, ranges.address());
    assertThat(s.ioctl(iommufd)).isZero();
    assertThat(s.u32(IommuIoasIovaRanges.NUM_IOVAS)).isEqualTo(1);
    assertThat(s.u64(IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(2048);
    assertThat(ranges.u64(IommuIovaRange.START)).isEqualTo(BASE);
    assertThat(ranges.u64(IommuIovaRange.LAST)).isEqualTo(IommuTestCmd.MOCK_APERTURE_LAST);
  }

  @Test
  void mapWithDomainPinsOncePerPageAndUnmapReleases() {
    int ioas = ioasAlloc();
    int hwpt = mockDomain(ioas, 0)[1];
    assertThat(map(ioas, BASE, buffer, buffer.byteSize())).isZero();
    assertThat(checkMap(hwpt, BASE, buffer)).isZero();
    assertThat(checkMap(hwpt, BASE + 4096, buffer)).isEqualTo(EINVAL);
    assertThat(checkRefs(buffer, 1)).isZero();
    assertThat(checkRefs(buffer, 0)).isEqualTo(EIO);
    assertThat(map(ioas, BASE + (1 << 20), buffer, buffer.byteSize())).isZero();
    assertThat(checkRefs(buffer, 2)).as("two MAPs of the same memory pin twice").isZero();
    assertThat(unmap(ioas, BASE, buffer.byteSize())).isZero();
    assertThat(unmap(ioas, BASE + (1 << 20), buffer.byteSize())).isZero();
    assertThat(checkRefs(buffer, 0)).isZero();
  }

  @Test
  void attachingToAnIoasWithAreasPinsThemAndDetachUnpins() {
    int ioas = ioasAlloc();
    assertThat(map(ioas, BASE, buffer, buffer.byteSize())).isZero();
    assertThat(checkRefs(buffer, 0)).as("no domain, no pins").isZero();
    int[] ids = mockDomain(ioas, 0);
    assertThat(checkRefs(buffer, 1)).isZero();
    assertThat(checkMap(ids[1], BASE, buffer)).isZero();
    assertThat(destroy(ioas)).isEqualTo(EBUSY);
    assertThat(destroy(ids[2])).as("device ids cannot be destroyed").isEqualTo(EBUSY);
    assertThat(destroy(ids[0])).isZero();
    assertThat(checkRefs(buffer, 0)).isZero();
    assertThat(destroy(ids[1])).as("the automatic HWPT went with its device").isEqualTo(-2);
    assertThat(destroy(ioas)).isZero();
  }

  @Test
  void closeWithDevicesAndMappingsReleasesEverything() {
    int ioas = ioasAlloc();
    mockDomain(ioas, 0);
    assertThat(map(ioas, BASE, buffer, buffer.byteSize())).isZero();
    assertThat(checkRefs(buffer, 1)).isZero();
  }
}
