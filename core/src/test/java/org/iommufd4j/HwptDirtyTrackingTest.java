package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.BitSet;
import java.util.List;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptSetDirtyTracking;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;

/**
 * Dirty tracking on mock domains: IOMMU_HWPT_SET_DIRTY_TRACKING (hw_pagetable.c:
 * iommufd_hwpt_set_dirty_tracking()), IOMMU_HWPT_GET_DIRTY_BITMAP (hw_pagetable.c:
 * iommufd_hwpt_get_dirty_bitmap()) with the mock's scan (selftest.c:
 * mock_domain_read_and_clear_dirty()), and the test op DIRTY (selftest.c: iommufd_test_dirty()),
 * with 2 KiB granules and with the 1 MiB pages of a HUGE_IOVA device.
 */
class HwptDirtyTrackingTest extends MockDeviceFixture {
  private static final int NO_CLEAR = IommuHwptGetDirtyBitmap.IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR;

  private int ioas;
  private MockDev dev;
  private MemorySegment buffer;
  private int hwpt;

  /**
   * An IOAS with {@code bytes} of memory mapped at 0x0100_0000 and a dirty-tracking HWPT on it,
   * tracking enabled (the selftests' {@code get_dirty_bitmap} setup).
   */
  private void tracking(long bytes, int devFlags) {
    openPrivate();
    dev = mockDomain(ioasAlloc(), devFlags);
    ioas = ioasAlloc();
    buffer = buffer(bytes, 2 << 20);
    mapFixed(ioas, BASE, buffer);
    hwpt = hwptAlloc(dev.idevId(), ioas, DIRTY_TRACKING);
    ok(setDirtyTrackingRc(hwpt, true));
  }

  /** A zeroed bitmap of {@code bits} bits at {@code offset} bytes into a fresh page run. */
  private MemorySegment bitmap(long bits, long offset) {
    MemorySegment page = arena.allocate(offset + bits / 8 + 4096, 4096);
    return page.asSlice(offset, bits / 8 + 1);
  }

  /** The set bits of a bitmap, ascending. */
  private static List<Integer> bits(MemorySegment bitmap) {
    return indices(BitSet.valueOf(bitmap.toArray(JAVA_BYTE)));
  }

  private static List<Integer> indices(BitSet set) {
    return set.stream().boxed().toList();
  }

  /** Marks the granules whose bits are set in {@code which} (2 KiB each, from BASE). */
  private long mark(BitSet which, long granules) {
    MemorySegment uptr = bitmap(granules, 0);
    byte[] raw = which.toByteArray();
    MemorySegment.copy(MemorySegment.ofArray(raw), 0, uptr, 0, raw.length);
    return markDirty(hwpt, BASE, granules * MOCK_PAGE, MOCK_PAGE, uptr);
  }

  private List<Integer> read(long iova, long length, long pageSize, int flags) {
    MemorySegment bitmap = bitmap(length / pageSize, 0);
    ok(getDirtyBitmapRc(hwpt, iova, length, pageSize, bitmap.address(), flags));
    return bits(bitmap);
  }

  private static BitSet everyOther(int count) {
    BitSet b = new BitSet();
    for (int i = 0; i < count; i += 2) {
      b.set(i);
    }
    return b;
  }

  private static List<Integer> everyOtherBit(int count) {
    return indices(everyOther(count));
  }

  // ---- IOMMU_HWPT_SET_DIRTY_TRACKING -------------------------------------------------------

  @Test
  void setDirtyTrackingWithUnknownFlagsIsEopnotsuppBeforeTheLookup() {
    openPrivate();
    fails(
        Errno.EOPNOTSUPP,
        rc(struct(Command.IOMMU_HWPT_SET_DIRTY_TRACKING).u32(IommuHwptSetDirtyTracking.FLAGS, 2)));
  }

  @Test
  void setDirtyTrackingNeedsAPagingHwpt() {
    tracking(64 << 10, 0);
    int parent = hwptAlloc(dev.idevId(), ioas, NEST_PARENT);
    int nested = nested(dev.idevId(), parent);
    fails(Errno.ENOENT, setDirtyTrackingRc(0, true));
    fails(Errno.ENOENT, setDirtyTrackingRc(ioas, true));
    fails(Errno.ENOENT, setDirtyTrackingRc(nested, true));
  }

  @Test
  void hwptWithoutDirtyTrackingRefusesEnableAndDisableWithEopnotsupp() {
    tracking(64 << 10, 0);
    int plain = hwptAlloc(dev.idevId(), ioas, 0);
    for (int h : new int[] {dev.hwptId(), plain}) {
      fails(Errno.EOPNOTSUPP, setDirtyTrackingRc(h, true));
      fails(Errno.EOPNOTSUPP, setDirtyTrackingRc(h, false));
    }
  }

  @Test
  void enableAndDisableRepeatedlyIgnoringTheReservedField() {
    tracking(64 << 10, 0);
    Struct s =
        struct(Command.IOMMU_HWPT_SET_DIRTY_TRACKING)
            .u32(IommuHwptSetDirtyTracking.HWPT_ID, hwpt)
            .u32(IommuHwptSetDirtyTracking.RESERVED, -1);
    ok(rc(s.u32(IommuHwptSetDirtyTracking.FLAGS, 1)));
    ok(rc(s));
    ok(rc(s.u32(IommuHwptSetDirtyTracking.FLAGS, 0)));
    ok(rc(s));
  }

  @Test
  void enableStartsFromACleanState() {
    tracking(64 << 10, 0);
    assertThat(mark(everyOther(32), 32)).isEqualTo(16);
    ok(setDirtyTrackingRc(hwpt, false));
    fails(
        Errno.EINVAL,
        getDirtyBitmapRc(
            hwpt, BASE, 64 << 10, MOCK_PAGE, bitmap(32, 0).address(), NO_CLEAR)); // tracking off
    ok(setDirtyTrackingRc(hwpt, true));
    assertThat(read(BASE, 64 << 10, MOCK_PAGE, 0)).isEmpty();
    assertThat(mark(everyOther(32), 32)).isEqualTo(16);
    ok(setDirtyTrackingRc(hwpt, true));
    assertThat(read(BASE, 64 << 10, MOCK_PAGE, 0)).as("enabling again clears as well").isEmpty();
  }

  // ---- IOMMU_HWPT_GET_DIRTY_BITMAP: checks -------------------------------------------------

  @Test
  void getDirtyBitmapChecksFlagsAndReservedFirst() {
    openPrivate();
    fails(Errno.EOPNOTSUPP, getDirtyBitmapRc(0, 0, 0, 0, 0, 2));
    fails(
        Errno.EOPNOTSUPP,
        rc(dirtyBitmapStruct(0, 0, 0, 0, 0, 0).u32(IommuHwptGetDirtyBitmap.RESERVED, 1)));
    fails(Errno.ENOENT, getDirtyBitmapRc(0, 0, 0, 0, 0, NO_CLEAR));
  }

  @Test
  void getDirtyBitmapChecksTheRangeThenThePageSizeThenTheDomain() {
    tracking(64 << 10, 0);
    long data = bitmap(64, 0).address();
    int auto = dev.hwptId();
    fails(Errno.ENOENT, getDirtyBitmapRc(ioas, BASE, 4096, 4096, data, 0));
    fails(Errno.EINVAL, getDirtyBitmapRc(auto, BASE, 0, 4096, data, 0));
    fails(Errno.EOVERFLOW, getDirtyBitmapRc(auto, -4096, 8192, 4096, data, 0));
    fails(Errno.EINVAL, getDirtyBitmapRc(auto, BASE + 1024, 4096, 4096, data, 0));
    fails(Errno.EINVAL, getDirtyBitmapRc(auto, BASE, 4096 + 1024, 4096, data, 0));
    fails(Errno.EINVAL, getDirtyBitmapRc(auto, BASE, 4096, 0, data, 0));
    fails(Errno.EINVAL, getDirtyBitmapRc(auto, BASE + 2048, 4096, 4096, data, 0));
    fails(Errno.EOPNOTSUPP, getDirtyBitmapRc(auto, BASE, 4096, 4096, data, 0));
    ok(getDirtyBitmapRc(hwpt, BASE, 4096, 4096, data, 0));
  }

  @Test
  void rangeEndingAtTheTopOfTheAddressSpaceIsNoOverflowButUncoveredIsEinval() {
    tracking(64 << 10, 0);
    long data = bitmap(64, 0).address();
    // the alignment checks pass (no EOVERFLOW at 2^64); no area covers it (real kernel: EINVAL)
    fails(Errno.EINVAL, getDirtyBitmapRc(hwpt, -(1L << 20), 1L << 20, 1L << 20, data, 0));
  }

  // ---- IOMMU_HWPT_GET_DIRTY_BITMAP: bits ---------------------------------------------------

  @Test
  void everyOtherGranuleIsReportedOnceThenCleared() {
    tracking(128 << 10, 0);
    assertThat(mark(everyOther(64), 64)).isEqualTo(32);

    assertThat(read(BASE, 128 << 10, MOCK_PAGE, 0)).isEqualTo(everyOtherBit(64));
    assertThat(read(BASE, 128 << 10, MOCK_PAGE, 0)).isEmpty();
  }

  @Test
  void noClearReportsTheSameBitsAgain() {
    tracking(128 << 10, 0);
    mark(everyOther(64), 64);
    assertThat(read(BASE, 128 << 10, MOCK_PAGE, NO_CLEAR)).isEqualTo(everyOtherBit(64));
    assertThat(read(BASE, 128 << 10, MOCK_PAGE, NO_CLEAR)).isEqualTo(everyOtherBit(64));
    assertThat(read(BASE, 128 << 10, MOCK_PAGE, 0)).isEqualTo(everyOtherBit(64));
    assertThat(read(BASE, 128 << 10, MOCK_PAGE, 0)).isEmpty();
  }

  @Test
  void bitmapAtAnyAlignmentGetsTheSameBits() {
    tracking(64 << 10, 0);
    for (long offset : new long[] {2048, 0xff1}) {
      mark(everyOther(32), 32);
      MemorySegment bitmap = bitmap(32, offset);
      ok(getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, bitmap.address(), 0));
      assertThat(bits(bitmap)).as("offset " + offset).isEqualTo(everyOtherBit(32));
    }
  }

  @Test
  void bitsAreOnlyEverSet() {
    tracking(64 << 10, 0);
    mark(everyOther(32), 32);
    MemorySegment bitmap = bitmap(32, 0);
    bitmap.fill((byte) 0x80);
    ok(getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, bitmap.address(), 0));
    assertThat(bitmap.toArray(JAVA_BYTE))
        .startsWith((byte) 0xd5, (byte) 0xd5, (byte) 0xd5, (byte) 0xd5)
        .containsOnly((byte) 0xd5, (byte) 0x80);
  }

  @Test
  void largerPageSizeSetsOneBitPerPage() {
    tracking(64 << 10, 0);
    BitSet granules = new BitSet();
    granules.set(1);
    granules.set(6);
    mark(granules, 32);
    BitSet expected = new BitSet();
    expected.set(0);
    expected.set(3);
    assertThat(read(BASE, 64 << 10, 4096, 0)).isEqualTo(indices(expected));
  }

  @Test
  void nonPowerOfTwoPageSizeCountsInUnitsOfItsLowestBit() {
    tracking(64 << 10, 0);
    BitSet granules = new BitSet();
    granules.set(3); // IOVA BASE + 0x1800
    mark(granules, 32);
    MemorySegment bitmap = bitmap(16, 0);
    ok(getDirtyBitmapRc(hwpt, BASE, 0x3000 * 4, 0x3000, bitmap.address(), 0));
    assertThat(bits(bitmap)).containsExactly(1);
  }

  @Test
  void walkStopsAtTheFirstGapWithEinvalAndLeavesWhatFollowsDirty() {
    tracking(64 << 10, 0);
    ok(
        rc(
            struct(Command.IOMMU_IOAS_UNMAP)
                .u32(IommuIoasUnmap.IOAS_ID, ioas)
                .u64(IommuIoasUnmap.IOVA, 0)
                .u64(IommuIoasUnmap.LENGTH, -1)));
    mapFixed(ioas, BASE, buffer.asSlice(0, 16 << 10));
    mapFixed(ioas, BASE + (16 << 10), buffer.asSlice(16 << 10, 16 << 10));
    mapFixed(ioas, BASE + (40 << 10), buffer.asSlice(40 << 10, 24 << 10));
    mark(everyOther(32), 32);

    // io_pagetable.c: __iommu_read_and_clear_dirty() reads and clears the contiguous run, then
    // fails with EINVAL because it does not reach the end (checked on the real 6.12 kernel)
    MemorySegment firstBitmap = bitmap(32, 0);
    fails(
        Errno.EINVAL, getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, firstBitmap.address(), 0));
    assertThat(bits(firstBitmap))
        .as("two touching areas reported, then the gap")
        .isEqualTo(everyOtherBit(16));
    MemorySegment holeBitmap = bitmap(16, 0);
    fails(
        Errno.EINVAL,
        getDirtyBitmapRc(hwpt, BASE + (32 << 10), 32 << 10, MOCK_PAGE, holeBitmap.address(), 0));
    assertThat(bits(holeBitmap)).as("starting in the hole reports nothing").isEmpty();
    List<Integer> rest = read(BASE + (40 << 10), 24 << 10, MOCK_PAGE, 0);
    assertThat(rest).as("after the gap: still dirty").isEqualTo(everyOtherBit(12));
  }

  @Test
  void readingWhileTrackingIsOffIsEinvalAndReportsNothing() {
    // selftest.c: the mock's read_and_clear_dirty refuses a bitmap while tracking is off; the real
    // 6.12 kernel answers EINVAL over a mapped area (an uncovered range is EINVAL anyway)
    tracking(64 << 10, 0);
    mark(everyOther(32), 32);
    ok(setDirtyTrackingRc(hwpt, false));
    MemorySegment bitmap = bitmap(32, 0);
    fails(Errno.EINVAL, getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, bitmap.address(), 0));
    assertThat(bits(bitmap)).isEmpty();
  }

  @Test
  void unwritableBitmapSucceedsAndTheDirtyStateIsClearedAnyway() {
    tracking(64 << 10, 0);
    mark(everyOther(32), 32);
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_READ);
      ok(getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, pages.page(0), NO_CLEAR));
      ok(getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, pages.page(0), 0));
      ok(getDirtyBitmapRc(hwpt, BASE, 64 << 10, MOCK_PAGE, 0, 0));
    }
    assertThat(read(BASE, 64 << 10, MOCK_PAGE, 0)).isEmpty();
  }

  // ---- 1 MiB pages of a HUGE_IOVA device ---------------------------------------------------

  @Test
  void hugePageReportsItsWholeMebibyteAsGranuleBits() {
    tracking(4 << 20, IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA);
    long granules = (4 << 20) / MOCK_PAGE;
    BitSet marks = new BitSet();
    for (int i = 0; i < granules; i += 1024) { // one granule in every other 1 MiB block
      marks.set(i + 7);
    }
    assertThat(mark(marks, granules)).isEqualTo(2);

    BitSet expected = new BitSet();
    expected.set(0, 512);
    expected.set(1024, 1536);
    assertThat(read(BASE, 4 << 20, MOCK_PAGE, NO_CLEAR)).isEqualTo(indices(expected));
    assertThat(read(BASE, 4 << 20, MOCK_PAGE, 0)).isEqualTo(indices(expected));
    assertThat(read(BASE, 4 << 20, MOCK_PAGE, 0)).isEmpty();
  }

  @Test
  void hugePageMetInTheMiddleIsReportedFromThatPositionForOneMebibyte() {
    tracking(4 << 20, IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA);
    BitSet marks = new BitSet();
    marks.set(0); // block 0 only
    mark(marks, (4 << 20) / MOCK_PAGE);

    List<Integer> got = read(BASE + (512 << 10), 2 << 20, MOCK_PAGE, 0);
    BitSet expected = new BitSet();
    expected.set(0, 512); // [BASE + 512 KiB, BASE + 1.5 MiB): one page size from the position
    assertThat(got).isEqualTo(indices(expected));
  }

  @Test
  void withoutHugeIovaTheSameBufferUsesGranules() {
    tracking(2 << 20, 0);
    BitSet marks = new BitSet();
    marks.set(7);
    mark(marks, 1024);
    assertThat(read(BASE, 2 << 20, MOCK_PAGE, 0)).containsExactly(7);
  }

  // ---- test op DIRTY -----------------------------------------------------------------------

  @Test
  void dirtyOpChecksItsArgumentsBeforeTheLookup() {
    openPrivate();
    long uptr = bitmap(64, 0).address();
    fails(Errno.EINVAL, rc(dirtyStruct(0, BASE, 4096, 0, uptr)));
    fails(Errno.EINVAL, rc(dirtyStruct(0, BASE, 0, 2048, uptr)));
    fails(Errno.EINVAL, rc(dirtyStruct(0, BASE + 1024, 4096, 2048, uptr)));
    fails(Errno.EINVAL, rc(dirtyStruct(0, BASE, 4096 + 1024, 2048, uptr)));
    fails(Errno.EINVAL, rc(dirtyStruct(0, BASE, 4096, 2048, 0)));
    fails(Errno.EOVERFLOW, rc(dirtyStruct(0, BASE, ((1L << 27) + 1) * 2048, 2048, uptr)));
    fails(Errno.ENOENT, rc(dirtyStruct(0, BASE, (1L << 27) * 2048, 2048, uptr)));
  }

  @Test
  void dirtyOpNeedsAPagingHwptWithTrackingOn() {
    tracking(64 << 10, 0);
    long uptr = bitmap(64, 0).address();
    int nested = nested(dev.idevId(), hwptAlloc(dev.idevId(), ioas, NEST_PARENT));
    fails(Errno.ENOENT, rc(dirtyStruct(nested, BASE, 4096, 2048, uptr)));
    fails(Errno.EINVAL, rc(dirtyStruct(dev.hwptId(), BASE, 4096, 2048, uptr)));
    ok(setDirtyTrackingRc(hwpt, false));
    fails(Errno.EINVAL, rc(dirtyStruct(hwpt, BASE, 4096, 2048, uptr)));
  }

  @Test
  void dirtyOpWithAnUnreadableBitmapIsEfault() {
    tracking(64 << 10, 0);
    try (NativePages pages = NativePages.map(1)) {
      pages.protect(0, NativePages.PROT_NONE);
      fails(Errno.EFAULT, rc(dirtyStruct(hwpt, BASE, 4096, 2048, pages.page(0))));
    }
  }

  @Test
  void dirtyOpCountsOnlyMappedGranules() {
    tracking(64 << 10, 0);
    MemorySegment uptr = bitmap(64, 0);
    uptr.fill((byte) 0xff);
    // [BASE - 64 KiB, BASE + 64 KiB): only the upper half is mapped.
    assertThat(markDirty(hwpt, BASE - (64 << 10), 128 << 10, MOCK_PAGE, uptr)).isEqualTo(32);
    BitSet expected = new BitSet();
    expected.set(0, 32);
    assertThat(read(BASE, 64 << 10, MOCK_PAGE, 0)).isEqualTo(indices(expected));
  }
}
