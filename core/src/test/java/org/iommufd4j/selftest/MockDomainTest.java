package org.iommufd4j.selftest;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.Iommufd;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The mock domain path of the selftests (spec §6.3, §6.4.2-§6.4.4), through the byte ABI. */
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

  private MemorySegment struct(Command cmd) {
    MemorySegment s = arena.allocate(cmd.ksize(), 8);
    s.set(JAVA_INT, 0, cmd.ksize());
    return s;
  }

  private int ioctl(Command cmd, MemorySegment s) {
    return iommufd.ioctl(cmd.request(), s);
  }

  private int ioasAlloc() {
    MemorySegment s = struct(Command.IOMMU_IOAS_ALLOC);
    assertThat(ioctl(Command.IOMMU_IOAS_ALLOC, s)).isZero();
    return s.get(JAVA_INT, IommuIoasAlloc.OUT_IOAS_ID);
  }

  private int[] mockDomain(int id, int flags) {
    MemorySegment s = struct(Command.IOMMU_TEST_CMD);
    s.set(JAVA_INT, IommuTestCmd.OP, flags == 0 ? IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN
        : IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS);
    s.set(JAVA_INT, IommuTestCmd.ID, id);
    s.set(JAVA_INT, IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS, flags);
    assertThat(ioctl(Command.IOMMU_TEST_CMD, s)).isZero();
    return new int[] {s.get(JAVA_INT, IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID),
        s.get(JAVA_INT, IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID),
        s.get(JAVA_INT, IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID)};
  }

  private int map(int ioas, long iova, MemorySegment mem, long length) {
    MemorySegment s = struct(Command.IOMMU_IOAS_MAP);
    s.set(JAVA_INT, IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
        | IommuIoasMap.IOMMU_IOAS_MAP_READABLE | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE);
    s.set(JAVA_INT, IommuIoasMap.IOAS_ID, ioas);
    s.set(JAVA_LONG, IommuIoasMap.USER_VA, mem.address());
    s.set(JAVA_LONG, IommuIoasMap.LENGTH, length);
    s.set(JAVA_LONG, IommuIoasMap.IOVA, iova);
    return ioctl(Command.IOMMU_IOAS_MAP, s);
  }

  private int unmap(int ioas, long iova, long length) {
    MemorySegment s = struct(Command.IOMMU_IOAS_UNMAP);
    s.set(JAVA_INT, IommuIoasUnmap.IOAS_ID, ioas);
    s.set(JAVA_LONG, IommuIoasUnmap.IOVA, iova);
    s.set(JAVA_LONG, IommuIoasUnmap.LENGTH, length);
    return ioctl(Command.IOMMU_IOAS_UNMAP, s);
  }

  private int checkRefs(MemorySegment mem, int refs) {
    try (Iommufd fresh = Iommufd.emulated(); Arena a = Arena.ofConfined()) {
      MemorySegment s = a.allocate(IommuTestCmd.SIZE, 8);
      s.set(JAVA_INT, 0, IommuTestCmd.SIZE);
      s.set(JAVA_INT, IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS);
      s.set(JAVA_LONG, IommuTestCmd.CHECK_REFS_LENGTH, mem.byteSize());
      s.set(JAVA_LONG, IommuTestCmd.CHECK_REFS_UPTR, mem.address());
      s.set(JAVA_INT, IommuTestCmd.CHECK_REFS_REFS, refs);
      return fresh.ioctl(Command.IOMMU_TEST_CMD.request(), s);
    }
  }

  private int checkMap(int hwpt, long iova, MemorySegment mem) {
    MemorySegment s = struct(Command.IOMMU_TEST_CMD);
    s.set(JAVA_INT, IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP);
    s.set(JAVA_INT, IommuTestCmd.ID, hwpt);
    s.set(JAVA_LONG, IommuTestCmd.CHECK_MAP_IOVA, iova);
    s.set(JAVA_LONG, IommuTestCmd.CHECK_MAP_LENGTH, mem.byteSize());
    s.set(JAVA_LONG, IommuTestCmd.CHECK_MAP_UPTR, mem.address());
    return ioctl(Command.IOMMU_TEST_CMD, s);
  }

  private int destroy(int id) {
    MemorySegment s = struct(Command.IOMMU_DESTROY);
    s.set(JAVA_INT, IommuDestroy.ID, id);
    return ioctl(Command.IOMMU_DESTROY, s);
  }

  @Test
  void mockDomainNarrowsTheIovaRangesAndSharesOneAutomaticHwpt() {
    int ioas = ioasAlloc();
    assertThat(mockDomain(ioas, 0)).containsExactly(2, 4, 3);
    assertThat(mockDomain(ioas, IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY)).containsExactly(5, 4, 6);
    MemorySegment s = struct(Command.IOMMU_IOAS_IOVA_RANGES);
    MemorySegment ranges = arena.allocate(32, 8);
    s.set(JAVA_INT, IommuIoasIovaRanges.IOAS_ID, ioas);
    s.set(JAVA_INT, IommuIoasIovaRanges.NUM_IOVAS, 2);
    s.set(JAVA_LONG, IommuIoasIovaRanges.ALLOWED_IOVAS, ranges.address());
    assertThat(ioctl(Command.IOMMU_IOAS_IOVA_RANGES, s)).isZero();
    assertThat(s.get(JAVA_INT, IommuIoasIovaRanges.NUM_IOVAS)).isEqualTo(1);
    assertThat(s.get(JAVA_LONG, IommuIoasIovaRanges.OUT_IOVA_ALIGNMENT)).isEqualTo(2048);
    assertThat(ranges.get(JAVA_LONG, 0)).isEqualTo(BASE);
    assertThat(ranges.get(JAVA_LONG, 8)).isEqualTo(IommuTestCmd.MOCK_APERTURE_LAST);
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
