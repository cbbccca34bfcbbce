package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import org.iommufd4j.engine.IoasAreas;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.IommuVfioIoas;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.iommufd4j.uapi.VfioIommuType1DmaUnmap;

/**
 * The VFIO compatibility calls (vfio_compat.c: iommufd_vfio_ioctl()) as a C client makes them:
 * structs in native memory filled by the uapi offsets, integer arguments passed as the segment
 * address.
 */
final class VfioCalls {
  static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  static final int READ = VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_READ;
  static final int WRITE = VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE;
  static final int RW = READ | WRITE;
  static final int ALL = VfioIommuType1DmaUnmap.VFIO_DMA_UNMAP_FLAG_ALL;

  private final Iommufd iommufd;
  private final Arena arena;

  VfioCalls(Iommufd iommufd, Arena arena) {
    this.iommufd = iommufd;
    this.arena = arena;
  }

  Iommufd iommufd() {
    return iommufd;
  }

  /** An ioctl whose argument is an integer. */
  int withInteger(long request, long value) {
    return iommufd.ioctl(request, MemorySegment.ofAddress(value));
  }

  int checkExtension(long extension) {
    return withInteger(Vfio.VFIO_CHECK_EXTENSION, extension);
  }

  int setIommu(long type) {
    return withInteger(Vfio.VFIO_SET_IOMMU, type);
  }

  /** A new IOAS made the compat IOAS with IOMMU_VFIO_IOAS SET. */
  int compatIoas() {
    int id = iommufd.createIoas().id();
    setCompat(id);
    return id;
  }

  void setCompat(int ioasId) {
    MemorySegment s = arena.allocate(IommuVfioIoas.SIZE, 8);
    s.set(U32, 0, IommuVfioIoas.SIZE);
    s.set(U32, IommuVfioIoas.IOAS_ID, ioasId);
    s.set(U16, IommuVfioIoas.OP, (short) IommuVfioIoas.IOMMU_VFIO_IOAS_SET);
    assertThat(iommufd.ioctl(Command.IOMMU_VFIO_IOAS.request(), s)).isZero();
  }

  /** The compat IOAS with one mock device (an automatic mock HWPT); returns its id. */
  int compatIoasWithMockDomain() {
    int id = compatIoas();
    mockDomain(id, 0);
    return id;
  }

  /** IOMMU_TEST_CMD MOCK_DOMAIN(_FLAGS) on {@code ioasId}: {stdev, hwpt, idev} ids. */
  int[] mockDomain(int ioasId, int devFlags) {
    MemorySegment s =
        testCmd(
            devFlags == 0
                ? IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN
                : IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
            ioasId);
    s.set(U32, IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS, devFlags);
    assertThat(iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), s)).isZero();
    return new int[] {
      s.get(U32, IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID),
      s.get(U32, IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID),
      s.get(U32, IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID)
    };
  }

  /** IOMMU_TEST_CMD ADD_RESERVED. */
  void addReserved(int ioasId, long start, long length) {
    MemorySegment s = testCmd(IommuTestCmd.IOMMU_TEST_OP_ADD_RESERVED, ioasId);
    s.set(U64, IommuTestCmd.ADD_RESERVED_START, start);
    s.set(U64, IommuTestCmd.ADD_RESERVED_LENGTH, length);
    assertThat(iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), s)).isZero();
  }

  /** IOMMU_TEST_CMD MD_CHECK_MAP of {@code mem} at {@code iova} in HWPT {@code hwptId}. */
  int checkMap(int hwptId, long iova, MemorySegment mem) {
    MemorySegment s = testCmd(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP, hwptId);
    s.set(U64, IommuTestCmd.CHECK_MAP_IOVA, iova);
    s.set(U64, IommuTestCmd.CHECK_MAP_LENGTH, mem.byteSize());
    s.set(U64, IommuTestCmd.CHECK_MAP_UPTR, mem.address());
    return iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), s);
  }

  /** IOMMU_TEST_CMD MD_CHECK_REFS: 0 if every page of {@code mem} has {@code refs} pins. */
  int checkRefs(MemorySegment mem, int refs) {
    MemorySegment s = testCmd(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS, 0);
    s.set(U64, IommuTestCmd.CHECK_REFS_LENGTH, mem.byteSize());
    s.set(U64, IommuTestCmd.CHECK_REFS_UPTR, mem.address());
    s.set(U32, IommuTestCmd.CHECK_REFS_REFS, refs);
    return iommufd.ioctl(Command.IOMMU_TEST_CMD.request(), s);
  }

  private MemorySegment testCmd(int op, int id) {
    MemorySegment s = arena.allocate(IommuTestCmd.SIZE, 8);
    s.set(U32, 0, IommuTestCmd.SIZE);
    s.set(U32, IommuTestCmd.OP, op);
    s.set(U32, IommuTestCmd.ID, id);
    return s;
  }

  /** A filled {@code vfio_iommu_type1_dma_map}. */
  MemorySegment mapStruct(int flags, long vaddr, long iova, long size) {
    MemorySegment s = arena.allocate(VfioIommuType1DmaMap.SIZE, 8);
    s.set(U32, VfioIommuType1DmaMap.ARGSZ, VfioIommuType1DmaMap.SIZE);
    s.set(U32, VfioIommuType1DmaMap.FLAGS, flags);
    s.set(U64, VfioIommuType1DmaMap.VADDR, vaddr);
    s.set(U64, VfioIommuType1DmaMap.IOVA, iova);
    s.set(U64, VfioIommuType1DmaMap.SIZE_FIELD, size);
    return s;
  }

  int mapDma(int flags, long vaddr, long iova, long size) {
    return iommufd.ioctl(Vfio.VFIO_IOMMU_MAP_DMA, mapStruct(flags, vaddr, iova, size));
  }

  int mapDma(long iova, MemorySegment mem) {
    return mapDma(RW, mem.address(), iova, mem.byteSize());
  }

  /** A filled {@code vfio_iommu_type1_dma_unmap}. */
  MemorySegment unmapStruct(int flags, long iova, long size) {
    MemorySegment s = arena.allocate(VfioIommuType1DmaUnmap.SIZE, 8);
    s.set(U32, VfioIommuType1DmaUnmap.ARGSZ, VfioIommuType1DmaUnmap.SIZE);
    s.set(U32, VfioIommuType1DmaUnmap.FLAGS, flags);
    s.set(U64, VfioIommuType1DmaUnmap.IOVA, iova);
    s.set(U64, VfioIommuType1DmaUnmap.SIZE_FIELD, size);
    return s;
  }

  /** The result of an UNMAP_DMA: the return value and the {@code size} field afterwards. */
  record Unmapped(int rc, long size) {}

  Unmapped unmapDma(int flags, long iova, long size) {
    MemorySegment s = unmapStruct(flags, iova, size);
    int rc = iommufd.ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, s);
    return new Unmapped(rc, s.get(U64, VfioIommuType1DmaUnmap.SIZE_FIELD));
  }

  /** The areas of an IOAS, as the engine holds them. */
  List<IoasAreas.View> areas(int ioasId) {
    return IoasAreas.of(((EmulatedIommufd) iommufd).context(), ioasId);
  }
}
