package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.iommufd4j.kernel.LibC;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioRegionInfo;
import org.iommufd4j.uapi.VfioRegionInfoCapSparseMmap;

/**
 * A region of a {@link VfioDevice} as {@code VFIO_DEVICE_GET_REGION_INFO} describes it (size, the
 * device file offset it lives at, flags and capabilities), with the accesses a driver makes to it:
 * {@link #read}/{@link #write} ({@code pread}/{@code pwrite} at {@link #offset()} plus the offset
 * given), fixed-width conveniences in the device's little-endian order, and {@link #map} where
 * {@link #mappable()}.
 *
 * <p>Offsets are within the region; the kernel answers one past its end (EINVAL, or a short count
 * for {@link #read}/{@link #write} that crosses it), except that an offset outside {@code [0,
 * 2^40)}, the span vfio-pci gives each region, is refused here ({@link IndexOutOfBoundsException})
 * as it would reach another region.
 */
public final class VfioRegion {
  /** vfio-pci's region indexes besides the BARs 0-5. */
  public static final int ROM = VfioRegionInfo.VFIO_PCI_ROM_REGION_INDEX;

  public static final int CONFIG = VfioRegionInfo.VFIO_PCI_CONFIG_REGION_INDEX;
  public static final int VGA = VfioRegionInfo.VFIO_PCI_VGA_REGION_INDEX;

  private static final long SPAN = 1L << 40;
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfShort U16 =
      ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** A part of the region that may be mapped ({@code VFIO_REGION_INFO_CAP_SPARSE_MMAP}). */
  public record MmapArea(long offset, long size) {}

  private final VfioDevice device;
  private final int index;
  private final int flags;
  private final long size;
  private final long offset;
  private final List<MmapArea> sparseMmap;
  private final boolean msixMappable;

  private VfioRegion(
      VfioDevice device,
      int index,
      int flags,
      long size,
      long offset,
      List<MmapArea> sparseMmap,
      boolean msixMappable) {
    this.device = device;
    this.index = index;
    this.flags = flags;
    this.size = size;
    this.offset = offset;
    this.sparseMmap = List.copyOf(sparseMmap);
    this.msixMappable = msixMappable;
  }

  /** GET_REGION_INFO, asked again with room for the capabilities if the kernel has any. */
  static VfioRegion query(VfioDevice device, int index) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment info =
          CapChain.ask(
              arena,
              VfioRegionInfo.SIZE,
              ask -> {
                ask.set(U32, VfioRegionInfo.INDEX, index);
                device.ioctl(
                    Vfio.VFIO_DEVICE_GET_REGION_INFO,
                    ask,
                    "VFIO_DEVICE_GET_REGION_INFO index=" + index);
              });
      int flags = info.get(U32, VfioRegionInfo.FLAGS);
      List<MmapArea> sparse = new ArrayList<>();
      boolean[] msixMappable = {false};
      if ((flags & VfioRegionInfo.VFIO_REGION_INFO_FLAG_CAPS) != 0) {
        CapChain.walk(
            info,
            Integer.toUnsignedLong(info.get(U32, VfioRegionInfo.CAP_OFFSET)),
            VfioRegionInfo.SIZE,
            (id, at) -> {
              if (id == VfioRegionInfo.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE) {
                msixMappable[0] = true;
              } else if (id == VfioRegionInfo.VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
                sparse.addAll(sparseAreas(info, at));
              }
            });
      }
      return new VfioRegion(
          device,
          index,
          flags,
          info.get(U64, VfioRegionInfo.SIZE_FIELD),
          info.get(U64, VfioRegionInfo.OFFSET),
          sparse,
          msixMappable[0]);
    }
  }

  private static List<MmapArea> sparseAreas(MemorySegment info, long cap) {
    List<MmapArea> areas = new ArrayList<>();
    if (cap + VfioRegionInfoCapSparseMmap.SIZE > info.byteSize()) {
      return areas;
    }
    long count = Integer.toUnsignedLong(info.get(U32, cap + VfioRegionInfoCapSparseMmap.NR_AREAS));
    long at = cap + VfioRegionInfoCapSparseMmap.AREAS;
    for (long i = 0;
        i < count && at + VfioRegionInfoCapSparseMmap.AREA_SIZE <= info.byteSize();
        i++) {
      areas.add(
          new MmapArea(
              info.get(U64, at + VfioRegionInfoCapSparseMmap.AREA_OFFSET),
              info.get(U64, at + VfioRegionInfoCapSparseMmap.AREA_SIZE_FIELD)));
      at += VfioRegionInfoCapSparseMmap.AREA_SIZE;
    }
    return areas;
  }

  /** The region index. */
  public int index() {
    return index;
  }

  /** The region's size in bytes (0: the device has no such region, an empty BAR). */
  public long size() {
    return size;
  }

  /** Where the region lies in the device file ({@code index << 40} for vfio-pci). */
  public long offset() {
    return offset;
  }

  /** {@code VFIO_REGION_INFO_FLAG_*}. */
  public int flags() {
    return flags;
  }

  /** {@code VFIO_REGION_INFO_FLAG_READ}. */
  public boolean readable() {
    return (flags & VfioRegionInfo.VFIO_REGION_INFO_FLAG_READ) != 0;
  }

  /** {@code VFIO_REGION_INFO_FLAG_WRITE}. */
  public boolean writable() {
    return (flags & VfioRegionInfo.VFIO_REGION_INFO_FLAG_WRITE) != 0;
  }

  /** {@code VFIO_REGION_INFO_FLAG_MMAP}: {@link #map} can work. */
  public boolean mappable() {
    return (flags & VfioRegionInfo.VFIO_REGION_INFO_FLAG_MMAP) != 0;
  }

  /** The parts that may be mapped when not all of it may ({@code SPARSE_MMAP}); usually empty. */
  public List<MmapArea> sparseMmap() {
    return sparseMmap;
  }

  /** {@code VFIO_REGION_INFO_CAP_MSIX_MAPPABLE}: the MSI-X table in this BAR may be mapped too. */
  public boolean msixMappable() {
    return msixMappable;
  }

  /**
   * {@code pread} of {@code dst.byteSize()} bytes at {@code offset}.
   *
   * @return the bytes read: fewer than asked where the access crosses the region's end
   * @throws IommufdException EINVAL at or past the region's end (or before bind), EIO on a BAR
   *     while the device's memory decoding is off, EBADF once the device is closed
   * @throws IllegalArgumentException if {@code dst} is {@linkplain MemorySegment#isReadOnly()
   *     read-only}
   */
  public long read(long offset, MemorySegment dst) {
    return device.pread(dst, fileOffset(offset));
  }

  /** {@code pwrite} of {@code src} at {@code offset}; as {@link #read}. */
  public long write(long offset, MemorySegment src) {
    return device.pwrite(src, fileOffset(offset));
  }

  public byte readByte(long offset) {
    return (byte) readValue(offset, Byte.BYTES);
  }

  public short readShort(long offset) {
    return (short) readValue(offset, Short.BYTES);
  }

  /**
   * A 4-byte access at {@code offset}, as a driver reads a register.
   *
   * @throws IndexOutOfBoundsException if it crosses the region's end
   */
  public int readInt(long offset) {
    return (int) readValue(offset, Integer.BYTES);
  }

  public long readLong(long offset) {
    return readValue(offset, Long.BYTES);
  }

  public void writeByte(long offset, byte value) {
    writeValue(offset, Byte.BYTES, value);
  }

  public void writeShort(long offset, short value) {
    writeValue(offset, Short.BYTES, value);
  }

  /**
   * A 4-byte store at {@code offset}, as a driver writes a register.
   *
   * @throws IndexOutOfBoundsException if it crosses the region's end
   */
  public void writeInt(long offset, int value) {
    writeValue(offset, Integer.BYTES, value);
  }

  public void writeLong(long offset, long value) {
    writeValue(offset, Long.BYTES, value);
  }

  /** One access of {@code width} bytes, little-endian. */
  long readValue(long offset, int width) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment v = arena.allocate(8, 8);
      whole(read(offset, v.asSlice(0, width)), offset, width);
      return switch (width) {
        case 1 -> v.get(ValueLayout.JAVA_BYTE, 0);
        case 2 -> v.get(U16, 0);
        case 4 -> v.get(U32, 0);
        default -> v.get(U64, 0);
      };
    }
  }

  /** One store of the low {@code width} bytes of {@code value}, little-endian. */
  void writeValue(long offset, int width, long value) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment v = arena.allocate(8, 8);
      v.set(U64, 0, value);
      whole(write(offset, v.asSlice(0, width)), offset, width);
    }
  }

  private void whole(long done, long offset, int width) {
    if (done != width) {
      throw new IndexOutOfBoundsException(
          "a "
              + width
              + "-byte access at 0x"
              + Long.toHexString(offset)
              + " crosses the end of region "
              + index
              + " (size 0x"
              + Long.toHexString(size)
              + "): "
              + done
              + " bytes transferred");
    }
  }

  private long fileOffset(long regionOffset) {
    if (regionOffset < 0 || regionOffset >= SPAN) {
      throw new IndexOutOfBoundsException(
          "offset 0x" + Long.toHexString(regionOffset) + " is outside region " + index + "'s span");
    }
    return offset + regionOffset;
  }

  /** {@link #map(long, long)} of the whole region. */
  public MappedRegion map() {
    return map(0, size);
  }

  /**
   * {@code mmap(MAP_SHARED, PROT_READ | PROT_WRITE)} of {@code length} bytes at {@code offset}
   * (page aligned) of the region: on the kernel the BAR's memory itself; on an emulated machine
   * every access through it is the register access of its width at that offset.
   *
   * @throws IommufdException EINVAL for a region that cannot be mapped, a misaligned offset or a
   *     range beyond the region's pages (vfio_pci_core_mmap()), EBADF once the device is closed
   */
  public MappedRegion map(long offset, long length) {
    long at = fileOffset(offset);
    int prot = LibC.PROT_READ | LibC.PROT_WRITE;
    long address = device.mmap(at, length, prot);
    return address == 0
        ? MappedRegion.throughAccesses(this, offset, length)
        : MappedRegion.ofMemory(device, address, length);
  }

  @Override
  public String toString() {
    return "VfioRegion[index="
        + index
        + ", size=0x"
        + Long.toHexString(size)
        + ", offset=0x"
        + Long.toHexString(offset)
        + ", flags=0x"
        + Integer.toHexString(flags)
        + (sparseMmap.isEmpty() ? "" : ", sparse=" + sparseMmap)
        + (msixMappable ? ", msix-mappable" : "")
        + "]";
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof VfioRegion r
        && r.device == device
        && r.index == index
        && r.flags == flags
        && r.size == size
        && r.offset == offset
        && r.sparseMmap.equals(sparseMmap)
        && r.msixMappable == msixMappable;
  }

  @Override
  public int hashCode() {
    return Objects.hash(device, index, flags, size, offset, sparseMmap, msixMappable);
  }
}
