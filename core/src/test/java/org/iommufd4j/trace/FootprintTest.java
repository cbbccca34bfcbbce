package org.iommufd4j.trace;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.junit.jupiter.api.Test;

/**
 * What {@link Footprint} names for calls the fuzzer does not make (VFIO, HWPT data) and for the
 * generic decode's edges. {@code FootprintCoversTheEmulatorTest} checks it against the emulator
 * over random calls.
 */
class FootprintTest {
  private static final long ARG = 0x10000;

  private static MemorySegment struct(int size) {
    MemorySegment s = MemorySegment.ofArray(new byte[Math.max(size, 8)]);
    s.set(JAVA_INT_UNALIGNED, 0, size);
    return s;
  }

  @Test
  void aNumberInTheTablesRangeReadsTheSizeWordEvenWhenItIsNotACommand() {
    // type 'X', nr 0x80: passes the range check, reads the size, then ENOTTY (main.c:
    // iommufd_fops_ioctl())
    Footprint fp = Footprint.of(0x5880, ARG, struct(8));
    assertThat(fp.regions()).containsExactly(new Footprint.Region(ARG, 4, false));
    assertThat(Footprint.of(0x3b7f, ARG, struct(8)).regions()).isEmpty(); // VFIO range, no number
    assertThat(Footprint.of(0x5401, ARG, struct(8)).regions()).isEmpty(); // not ';' below 0x80
  }

  @Test
  void aStructLongerThanTheKernelsIsReadWholeAndWrittenOnlyUpToItsKnownSize() {
    MemorySegment s = struct(64);
    Footprint fp = Footprint.of(Command.IOMMU_IOAS_ALLOC.request(), ARG, s);
    assertThat(fp.regions())
        .containsExactly(
            new Footprint.Region(ARG, 12, true), new Footprint.Region(ARG + 12, 52, false));
    assertThat(Footprint.of(Command.IOMMU_IOAS_ALLOC.request(), ARG, struct(11)).regions())
        .as("shorter than min_size: EINVAL after the size word")
        .containsExactly(new Footprint.Region(ARG, 4, false));
    assertThat(
            Footprint.of(
                    Command.IOMMU_IOAS_ALLOC.request(), ARG, MemorySegment.ofArray(new byte[0]))
                .regions())
        .as("unreadable: the size word faults")
        .containsExactly(new Footprint.Region(ARG, 4, false));
  }

  @Test
  void mapPinsItsUserRangeForWritingOnlyWhenWriteable() {
    MemorySegment s = struct(IommuIoasMap.SIZE);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.USER_VA, 0x7f00_0000_0000L);
    s.set(JAVA_LONG_UNALIGNED, IommuIoasMap.LENGTH, 1 << 20);
    assertThat(Footprint.of(Command.IOMMU_IOAS_MAP.request(), ARG, s).pins())
        .containsExactly(new Footprint.Pin(0x7f00_0000_0000L, 1 << 20, false));
    s.set(JAVA_INT_UNALIGNED, IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE);
    assertThat(Footprint.of(Command.IOMMU_IOAS_MAP.request(), ARG, s).pins())
        .containsExactly(new Footprint.Pin(0x7f00_0000_0000L, 1 << 20, true));
  }

  @Test
  void hwInfoWritesItsDataBufferAndTheDirtyBitmapIsOneBitAPageInWholeWords() {
    MemorySegment info = struct(IommuHwInfo.SIZE);
    info.set(JAVA_INT_UNALIGNED, IommuHwInfo.DATA_LEN, 24);
    info.set(JAVA_LONG_UNALIGNED, IommuHwInfo.DATA_UPTR, 0x20000);
    assertThat(Footprint.of(Command.IOMMU_GET_HW_INFO.request(), ARG, info).regions())
        .contains(new Footprint.Region(0x20000, 24, true));
    MemorySegment dirty = struct(IommuHwptGetDirtyBitmap.SIZE);
    dirty.set(JAVA_LONG_UNALIGNED, IommuHwptGetDirtyBitmap.LENGTH, 65 * 4096);
    dirty.set(JAVA_LONG_UNALIGNED, IommuHwptGetDirtyBitmap.PAGE_SIZE, 4096);
    dirty.set(JAVA_LONG_UNALIGNED, IommuHwptGetDirtyBitmap.DATA, 0x30000);
    assertThat(Footprint.of(Command.IOMMU_HWPT_GET_DIRTY_BITMAP.request(), ARG, dirty).regions())
        .contains(new Footprint.Region(0x30000, 16, true));
    dirty.set(JAVA_LONG_UNALIGNED, IommuHwptGetDirtyBitmap.PAGE_SIZE, 3000);
    assertThat(Footprint.of(Command.IOMMU_HWPT_GET_DIRTY_BITMAP.request(), ARG, dirty).regions())
        .as("a page size that is not a power of two is refused first")
        .hasSize(1);
  }

  @Test
  void vfioMapDmaReadsItsArgszAndPinsItsRange() {
    MemorySegment s = struct(VfioIommuType1DmaMap.SIZE);
    s.set(
        JAVA_INT_UNALIGNED,
        VfioIommuType1DmaMap.FLAGS,
        VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_READ | VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE);
    s.set(JAVA_LONG_UNALIGNED, VfioIommuType1DmaMap.VADDR, 0x40000);
    s.set(JAVA_LONG_UNALIGNED, VfioIommuType1DmaMap.SIZE_FIELD, 0x2000);
    Footprint fp = Footprint.of(Vfio.VFIO_IOMMU_MAP_DMA, ARG, s);
    assertThat(fp.regions()).containsExactly(new Footprint.Region(ARG, 32, false));
    assertThat(fp.pins()).containsExactly(new Footprint.Pin(0x40000, 0x2000, true));
    assertThat(
            Footprint.of(Vfio.VFIO_CHECK_EXTENSION, 1, MemorySegment.ofArray(new byte[0]))
                .regions())
        .as("an integer argument")
        .isEmpty();
  }

  @Test
  void aBogusCountIsRecordedOnlyUpToTheCap() {
    MemorySegment s = struct(32);
    s.set(JAVA_INT_UNALIGNED, 8, -1); // num_iovas 2^32 - 1
    s.set(JAVA_LONG_UNALIGNED, 16, 0x50000);
    assertThat(Footprint.of(Command.IOMMU_IOAS_IOVA_RANGES.request(), ARG, s).regions())
        .contains(new Footprint.Region(0x50000, Footprint.MAX_REGION, true));
  }
}
