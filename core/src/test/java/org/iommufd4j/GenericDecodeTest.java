package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.ErrnoAssertions.describe;
import static org.iommufd4j.NativePages.PROT_READ;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The generic dispatch every request goes through (main.c: iommufd_fops_ioctl()) and the write-back
 * rules (iommufd_private.h: iommufd_ucmd_respond()): request numbers, the size word, {@code
 * min_size}, the zero tail, truncated responds. Only the byte ABI has these rules; the typed API
 * never sees a size.
 */
class GenericDecodeTest extends ConformanceTest {
  private static final long DESTROY = Command.IOMMU_DESTROY.request();
  private static final long TEST_CMD = Command.IOMMU_TEST_CMD.request();

  private static Configuration recording(RecordingMemory memory, boolean testAbi) {
    return Configuration.builder().userMemory(memory).testAbi(testAbi).build();
  }

  // ---- numbers outside the table never touch arg (main.c: iommufd_fops_ioctl()) -----------

  @ParameterizedTest(name = "request=0x{0}")
  @ValueSource(strings = {"3b7f", "3b00", "3b40", "541b", "3ba1", "3bff", "5801"})
  void requestOutsideTheTableIsEnottyWithoutReadingTheArgument(String hex) {
    RecordingMemory memory = new RecordingMemory();
    Iommufd iommufd = open(recording(memory, true));

    assertErrno(iommufd.ioctl(Long.parseLong(hex, 16), MemorySegment.NULL), Errno.ENOTTY);
    assertThat(memory.accesses).as("reads of arg").hasValue(0);
  }

  @Test
  void ioNr0x7fWithNullArgumentIsEnotty() {
    assertErrno(open().ioctl(0x3b7f, MemorySegment.NULL), Errno.ENOTTY);
  }

  @Test
  void testCmdWithoutTestAbiIsEnottyWithoutReadingTheSize() {
    RecordingMemory memory = new RecordingMemory();
    Iommufd iommufd = open(recording(memory, false));

    assertErrno(iommufd.ioctl(TEST_CMD, MemorySegment.NULL), Errno.ENOTTY);
    assertThat(memory.accesses).hasValue(0);
  }

  @Test
  void testCmdWithTestAbiReadsTheSizeFirst() {
    RecordingMemory memory = new RecordingMemory();
    Iommufd iommufd = open(recording(memory, true));

    assertErrno(iommufd.ioctl(TEST_CMD, MemorySegment.NULL), Errno.EFAULT);
    assertThat(memory.accesses).hasValue(1);
  }

  static IntStream emptySlots() {
    return IntStream.rangeClosed(0x8f, 0x9f);
  }

  @ParameterizedTest(name = "nr=0x{0}")
  @MethodSource("emptySlots")
  void emptySlotOfATestKernelReadsTheSizeThenFailsWithEnotty(int nr) {
    RecordingMemory memory = new RecordingMemory();
    Iommufd recorded = open(recording(memory, true));
    assertErrno(recorded.ioctl(0x3b00 | nr, MemorySegment.NULL), Errno.EFAULT);
    assertThat(memory.accesses).hasValue(1);

    Struct s = struct(Command.IOMMU_DESTROY, 64).size(64);
    assertErrno(open().ioctl(0x3b00 | nr, s.segment()), Errno.ENOTTY);
  }

  @ParameterizedTest(name = "nr=0x{0}")
  @MethodSource("emptySlots")
  void slotBeyondANormalKernelsTableIsEnottyWithoutReadingTheSize(int nr) {
    RecordingMemory memory = new RecordingMemory();
    Iommufd iommufd = open(recording(memory, false));

    assertErrno(iommufd.ioctl(0x3b00 | nr, MemorySegment.NULL), Errno.ENOTTY);
    assertThat(memory.accesses).hasValue(0);
  }

  // ---- the size is read before the number is compared (main.c: iommufd_fops_ioctl()) ------

  @Test
  void destroyWithNullArgumentFailsWithEfault() {
    assertErrno(open().ioctl(DESTROY, MemorySegment.NULL), Errno.EFAULT);
  }

  @Test
  void destroyWithUnreadableArgumentFailsWithEfault() {
    RecordingMemory memory = new RecordingMemory();
    Iommufd iommufd = open(recording(memory, true));

    assertErrno(iommufd.ioctl(DESTROY, MemorySegment.NULL), Errno.EFAULT);
    assertThat(memory.accesses).hasValue(1);
  }

  /** {@code _IO('X', 0x80)}, {@code _IOW(';', 0x80, 8)}, {@code _IOR}, {@code _IOWR}. */
  @ParameterizedTest(name = "request=0x{0}")
  @ValueSource(strings = {"5880", "40083b80", "80083b80", "c0083b80", "00083b80", "40003b80"})
  void wrongTypeDirectionOrSizeBitsFailWithEnottyAfterTheSizeIsRead(String hex) {
    long request = Long.parseLong(hex, 16);
    RecordingMemory memory = new RecordingMemory();
    assertErrno(open(recording(memory, true)).ioctl(request, MemorySegment.NULL), Errno.EFAULT);
    assertThat(memory.accesses).hasValue(1);

    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s = struct(Command.IOMMU_DESTROY).u32(IommuDestroy.ID, ioas);
    assertErrno(iommufd.ioctl(request, s.segment()), Errno.ENOTTY);
    assertThat(objectCount(iommufd)).as("the IOAS was not destroyed").isEqualTo(1);
  }

  @Test
  void requestBitsAbove32AreIgnoredAsByTheSystemCall() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct s = struct(Command.IOMMU_DESTROY).u32(IommuDestroy.ID, ioas);

    assertOk(iommufd.ioctl(0xffff_ffff_0000_0000L | DESTROY, s.segment()));
    assertThat(objectCount(iommufd)).isZero();
  }

  // ---- min_size (main.c: iommufd_fops_ioctl()) --------------------------------------------

  @ParameterizedTest
  @EnumSource(CommandSample.class)
  void sizeBelowMinSizeFailsWithEinval(CommandSample sample) {
    for (int size : new int[] {0, 4, sample.command.minSize() - 1}) {
      Iommufd iommufd = open();
      sample.prepare(iommufd);
      int before = objectCount(iommufd);
      Struct s = sample.fill(struct(sample.command)).size(size);

      assertErrno(s.ioctl(iommufd), Errno.EINVAL);
      assertThat(objectCount(iommufd)).isEqualTo(before);
    }
  }

  @Test
  void tooSmallSizeIsEinvalBeforeAnyFieldCheck() {
    Struct s = struct(Command.IOMMU_IOAS_ALLOC).u32(IommuIoasAlloc.FLAGS, 1).size(8);
    assertErrno(s.ioctl(open()), Errno.EINVAL);
  }

  @Test
  void sizeWordIsUnsigned() {
    // 0x80000000 is not "negative, below min_size": it is a huge size whose tail is non-zero.
    Struct s = struct(Command.IOMMU_DESTROY, 16).fill(8, 16, 0xff).size(0x8000_0000);
    assertErrno(s.ioctl(open()), Errno.E2BIG);
  }

  // ---- the tail beyond ksize (main.c: iommufd_fops_ioctl()) ---------------------------------

  @ParameterizedTest
  @EnumSource(CommandSample.class)
  void oneNonZeroByteBeyondTheStructFailsWithE2big(CommandSample sample) {
    Iommufd iommufd = open();
    sample.prepare(iommufd);
    int before = objectCount(iommufd);
    int ksize = sample.command.ksize();
    Struct s = sample.fill(struct(sample.command, ksize + 8)).size(ksize + 1);
    s.fill(ksize, ksize + 1, 0xff);

    assertErrno(s.ioctl(iommufd), Errno.E2BIG);
    assertThat(objectCount(iommufd)).isEqualTo(before);
  }

  @ParameterizedTest
  @EnumSource(CommandSample.class)
  void nonZeroByteFarBeyondTheStructFailsWithE2big(CommandSample sample) {
    Iommufd iommufd = open();
    sample.prepare(iommufd);
    int ksize = sample.command.ksize();
    Struct s = sample.fill(struct(sample.command, ksize + 5000)).size(ksize + 5000);
    s.fill(ksize + 4999, ksize + 5000, 1);

    assertErrno(s.ioctl(iommufd), Errno.E2BIG);
  }

  @ParameterizedTest
  @EnumSource(CommandSample.class)
  void longerStructWithZeroTailBehavesAsTheKnownSize(CommandSample sample) {
    int ksize = sample.command.ksize();
    Iommufd known = open();
    sample.prepare(known);
    Struct exact = sample.fill(struct(sample.command));
    int exactResult = exact.ioctl(known);

    for (int extra : new int[] {1, 8, 4096, 10000}) {
      Iommufd longer = open();
      sample.prepare(longer);
      Struct s = sample.fill(struct(sample.command, ksize + extra)).size(ksize + extra);
      int result = s.ioctl(longer);

      assertThat(describe(result))
          .as("extra=%d", extra)
          .isEqualTo(describe(sample.result))
          .isEqualTo(describe(exactResult));
      byte[] head = Arrays.copyOf(s.bytes(), ksize);
      System.arraycopy(exact.bytes(), 0, head, 0, 4); // the size words differ by construction
      assertThat(head).as("struct after the call, extra=%d", extra).isEqualTo(exact.bytes());
      assertThat(Arrays.copyOfRange(s.bytes(), ksize, ksize + extra))
          .as("tail")
          .containsOnly((byte) 0);
      assertThat(objectCount(longer)).isEqualTo(objectCount(known));
    }
  }

  @Test
  void tailCrossingIntoUnmappedMemoryFailsWithEfault() {
    try (NativePages pages = NativePages.map(2)) {
      pages.unmap(1);
      Iommufd iommufd = open();
      int ioas = new RawDoor(iommufd).createIoas();
      long at = pages.page(1) - 12;
      Struct s =
          Struct.over(NativePages.segment(at, 12), Command.IOMMU_DESTROY)
              .size(8 + 12)
              .u32(IommuDestroy.ID, ioas);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
      assertThat(objectCount(iommufd)).isEqualTo(1);
    }
  }

  @Test
  void nonZeroTailByteBeforeUnmappedMemoryFailsWithE2big() {
    try (NativePages pages = NativePages.map(2)) {
      pages.unmap(1);
      Iommufd iommufd = open();
      long at = pages.page(1) - 12;
      Struct s = Struct.over(NativePages.segment(at, 12), Command.IOMMU_DESTROY).size(8 + 12);
      s.fill(8, 9, 0xff);

      assertErrno(s.ioctl(iommufd), Errno.E2BIG);
    }
  }

  @Test
  void structEndingInUnmappedMemoryFailsWithEfault() {
    try (NativePages pages = NativePages.map(2)) {
      pages.unmap(1);
      Iommufd iommufd = open();
      // Only the size word is in mapped memory; the id lies in the hole.
      Struct s = Struct.over(NativePages.segment(pages.page(1) - 4, 4), Command.IOMMU_DESTROY);

      assertErrno(s.ioctl(iommufd), Errno.EFAULT);
    }
  }

  @Test
  void structReachingBeyondTheSegmentIsReadFromTheCallersMemory() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    Struct full = struct(Command.IOMMU_DESTROY).u32(IommuDestroy.ID, ioas);
    // The kernel knows no segments: a short segment over a complete struct is the struct.
    Struct shortView = Struct.over(full.segment().asSlice(0, 4), Command.IOMMU_DESTROY);

    assertOk(shortView.ioctl(iommufd));
    assertThat(objectCount(iommufd)).isZero();
  }

  // ---- respond (iommufd_private.h: iommufd_ucmd_respond()) -------------------------------

  @Test
  void respondWritesNoByteBeyondKsize() {
    try (NativePages pages = NativePages.map(2)) {
      pages.protect(1, PROT_READ); // the zero tail is readable but not writable
      Iommufd iommufd = open();
      int ioas = new RawDoor(iommufd).createIoas();
      int ksize = Command.IOMMU_IOAS_MAP.ksize();
      long at = pages.page(1) - ksize;
      Struct s =
          Struct.over(NativePages.segment(at, ksize), Command.IOMMU_IOAS_MAP)
              .size(ksize + 16)
              .u32(IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_READABLE)
              .u32(IommuIoasMap.IOAS_ID, ioas)
              .u64(IommuIoasMap.USER_VA, USER_VA)
              .u64(IommuIoasMap.LENGTH, PAGE);

      assertOk(s.ioctl(iommufd));
      assertThat(s.u64(IommuIoasMap.IOVA)).isEqualTo(0x1000);
    }
  }

  @ParameterizedTest
  @EnumSource(CommandSample.class)
  void bytesBeyondTheUserBlockAreNeverTouched(CommandSample sample) {
    Iommufd iommufd = open();
    sample.prepare(iommufd);
    int ksize = sample.command.ksize();
    Struct s = sample.fill(struct(sample.command, ksize + 64)).size(ksize + 8);
    s.fill(ksize + 8, ksize + 64, 0xa5);

    assertThat(describe(s.ioctl(iommufd))).isEqualTo(describe(sample.result));
    assertThat(Arrays.copyOfRange(s.bytes(), ksize, ksize + 8)).containsOnly((byte) 0);
    assertThat(Arrays.copyOfRange(s.bytes(), ksize + 8, ksize + 64)).containsOnly((byte) 0xa5);
  }

  @Test
  void mapWritesBackEveryInputFieldUnchanged() {
    Iommufd iommufd = open();
    int ioas = new RawDoor(iommufd).createIoas();
    int flags = IommuIoasMap.IOMMU_IOAS_MAP_READABLE | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
    Struct s =
        struct(Command.IOMMU_IOAS_MAP)
            .u32(IommuIoasMap.FLAGS, flags)
            .u32(IommuIoasMap.IOAS_ID, ioas)
            .u64(IommuIoasMap.USER_VA, USER_VA + 0x123)
            .u64(IommuIoasMap.LENGTH, 0x2345)
            .u64(IommuIoasMap.IOVA, 0xdead_beefL);
    byte[] before = s.bytes();

    assertOk(s.ioctl(iommufd));

    byte[] after = s.bytes();
    assertThat(s.u64(IommuIoasMap.IOVA)).isNotEqualTo(0xdead_beefL);
    assertThat(Arrays.copyOf(after, (int) IommuIoasMap.IOVA))
        .isEqualTo(Arrays.copyOf(before, (int) IommuIoasMap.IOVA));
  }
}
