package org.iommufd4j;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.iommufd4j.uapi.VfioIommuType1DmaUnmap;
import org.iommufd4j.uapi.VfioIommuType1Info;
import org.iommufd4j.uapi.VfioIommuType1InfoCapIovaRange;

/**
 * A VFIO container ({@code /dev/vfio/vfio}): the type-1 IOMMU of the groups set to it ({@link
 * VfioGroup#setContainer}), as QEMU and DPDK use it. {@link #setIommu} needs a group first; then
 * {@link #mapDma} and {@link #unmapDma} reach the groups' devices. On Linux 6.12 built with {@code
 * CONFIG_IOMMUFD_VFIO_CONTAINER}, and on an {@link EmulatedMachine}, iommufd's compatibility layer
 * serves it. Fails with the kernel's errno as an {@link IommufdException}; after {@link #close()},
 * EBADF.
 */
public final class VfioContainer implements AutoCloseable {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** {@code VFIO_IOMMU_GET_INFO}: the IOMMU page sizes (a bit per size) and the usable IOVAs. */
  public record Info(long iovaPageSizes, List<IovaRange> iovaRanges) {
    public Info {
      iovaRanges = List.copyOf(iovaRanges);
    }
  }

  private final Descriptor descriptor;

  private VfioContainer(Descriptor descriptor) {
    this.descriptor = descriptor;
  }

  /**
   * Opens the real kernel's {@code /dev/vfio/vfio}.
   *
   * @throws IommufdException ENOENT on a kernel without VFIO (the message says to use {@link
   *     EmulatedMachine#openContainer()})
   */
  public static VfioContainer open() {
    return open(Syscalls.KERNEL);
  }

  static VfioContainer open(Syscalls syscalls) {
    return new VfioContainer(Descriptor.open(syscalls, "/dev/vfio/vfio", "VFIO (CONFIG_VFIO)"));
  }

  Descriptor descriptor() {
    return descriptor;
  }

  private long ioctl(long request, MemorySegment arg, String call) {
    return descriptor.call(fd -> descriptor.syscalls.ioctl(fd, request, arg), call);
  }

  /** {@code VFIO_GET_API_VERSION}: {@code VFIO_API_VERSION}, 0. */
  public int apiVersion() {
    return (int) ioctl(Vfio.VFIO_GET_API_VERSION, MemorySegment.NULL, "VFIO_GET_API_VERSION");
  }

  /**
   * {@code VFIO_CHECK_EXTENSION}: whether the container supports {@code extension} ({@code
   * Vfio.VFIO_TYPE1v2_IOMMU}, ...).
   */
  public boolean checkExtension(long extension) {
    return ioctl(
            Vfio.VFIO_CHECK_EXTENSION,
            MemorySegment.ofAddress(extension),
            "VFIO_CHECK_EXTENSION " + extension)
        > 0;
  }

  /**
   * {@code VFIO_SET_IOMMU} of IOMMU type {@code type} ({@code Vfio.VFIO_TYPE1v2_IOMMU}).
   *
   * @throws IommufdException EINVAL before a group is set to the container, or once set already
   */
  public void setIommu(long type) {
    ioctl(Vfio.VFIO_SET_IOMMU, MemorySegment.ofAddress(type), "VFIO_SET_IOMMU " + type);
  }

  /** {@code VFIO_IOMMU_GET_INFO}, asked again with room for its capabilities. */
  public Info info() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info =
          CapChain.ask(
              arena,
              VfioIommuType1Info.SIZE,
              ask -> ioctl(Vfio.VFIO_IOMMU_GET_INFO, ask, "VFIO_IOMMU_GET_INFO"));
      List<IovaRange> ranges = new ArrayList<>();
      CapChain.walk(
          info,
          Integer.toUnsignedLong(info.get(U32, VfioIommuType1Info.CAP_OFFSET)),
          VfioIommuType1Info.SIZE,
          (id, at) -> {
            if (id == VfioIommuType1InfoCapIovaRange.VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
              ranges.addAll(iovaRanges(info, at));
            }
          });
      return new Info(info.get(U64, VfioIommuType1Info.IOVA_PGSIZES), ranges);
    }
  }

  private static List<IovaRange> iovaRanges(MemorySegment info, long cap) {
    List<IovaRange> ranges = new ArrayList<>();
    if (cap + VfioIommuType1InfoCapIovaRange.SIZE > info.byteSize()) {
      return ranges;
    }
    long count =
        Integer.toUnsignedLong(info.get(U32, cap + VfioIommuType1InfoCapIovaRange.NR_IOVAS));
    long at = cap + VfioIommuType1InfoCapIovaRange.IOVA_RANGES;
    for (long i = 0;
        i < count && at + VfioIommuType1InfoCapIovaRange.RANGE_SIZE <= info.byteSize();
        i++, at += VfioIommuType1InfoCapIovaRange.RANGE_SIZE) {
      ranges.add(
          new IovaRange(
              info.get(U64, at + VfioIommuType1InfoCapIovaRange.RANGE_START),
              info.get(U64, at + VfioIommuType1InfoCapIovaRange.RANGE_END)));
    }
    return ranges;
  }

  /**
   * {@code VFIO_IOMMU_MAP_DMA} of {@code buffer} at {@code iova}.
   *
   * @throws IommufdException EINVAL before {@link #setIommu} or for a misaligned range, EEXIST over
   *     a mapping
   */
  public void mapDma(long iova, MemorySegment buffer, Protection protection) {
    Objects.requireNonNull(protection, "protection");
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment map = VfioDevice.argument(arena, VfioIommuType1DmaMap.SIZE);
      int flags =
          switch (protection) {
            case READ -> VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_READ;
            case WRITE -> VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE;
            case READ_WRITE ->
                VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_READ
                    | VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE;
          };
      map.set(U32, VfioIommuType1DmaMap.FLAGS, flags);
      map.set(U64, VfioIommuType1DmaMap.VADDR, buffer.address());
      map.set(U64, VfioIommuType1DmaMap.IOVA, iova);
      map.set(U64, VfioIommuType1DmaMap.SIZE_FIELD, buffer.byteSize());
      ioctl(Vfio.VFIO_IOMMU_MAP_DMA, map, range("VFIO_IOMMU_MAP_DMA", iova, buffer.byteSize()));
    }
  }

  /**
   * {@code VFIO_IOMMU_UNMAP_DMA} of {@code [iova, iova + size)}.
   *
   * @return the bytes unmapped (the kernel's {@code size} back)
   */
  public long unmapDma(long iova, long size) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment unmap = VfioDevice.argument(arena, VfioIommuType1DmaUnmap.SIZE);
      unmap.set(U64, VfioIommuType1DmaUnmap.IOVA, iova);
      unmap.set(U64, VfioIommuType1DmaUnmap.SIZE_FIELD, size);
      ioctl(Vfio.VFIO_IOMMU_UNMAP_DMA, unmap, range("VFIO_IOMMU_UNMAP_DMA", iova, size));
      return unmap.get(U64, VfioIommuType1DmaUnmap.SIZE_FIELD);
    }
  }

  private static String range(String call, long iova, long size) {
    return call + " iova=0x" + Long.toHexString(iova) + " size=0x" + Long.toHexString(size);
  }

  /** {@code close(2)}: the groups set to it keep it until they are unset or closed. Idempotent. */
  @Override
  public void close() {
    descriptor.close();
  }

  @Override
  public String toString() {
    return "VfioContainer[" + descriptor + "]";
  }
}
