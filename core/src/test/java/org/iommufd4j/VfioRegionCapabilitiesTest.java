package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioRegionInfo;
import org.junit.jupiter.api.Test;

/**
 * What {@link VfioDevice#region} makes of GET_REGION_INFO capability chains, well formed or not,
 * from a scripted backend that answers as a kernel would (argsz grown first, then the chain):
 * sparse mmap areas and MSI-X mappability read, and a chain that loops, points outside the struct
 * or claims more than it holds ends without harm.
 */
class VfioRegionCapabilitiesTest {
  private static final int HEADER = VfioRegionInfo.SIZE; // 32

  /** A backend whose one device answers GET_REGION_INFO with {@code reply}, as the kernel would. */
  private static VfioDevice deviceAnswering(byte[] reply) {
    Syscalls scripted =
        new Syscalls() {
          @Override
          public String name() {
            return "scripted";
          }

          @Override
          public int open(String path) {
            return 3;
          }

          @Override
          public int ioctl(int fd, long request, MemorySegment arg) {
            if (request != Vfio.VFIO_DEVICE_GET_REGION_INFO) {
              return -Errno.ENOTTY.number();
            }
            int argsz = arg.get(JAVA_INT_UNALIGNED, 0);
            MemorySegment answer = MemorySegment.ofArray(reply.clone());
            if (argsz < reply.length) { // vfio_info_add_capability(): only the size needed
              arg.asSlice(0, HEADER).copyFrom(answer.asSlice(0, HEADER));
              arg.set(JAVA_INT_UNALIGNED, VfioRegionInfo.CAP_OFFSET, 0);
            } else {
              arg.asSlice(0, reply.length).copyFrom(answer);
            }
            arg.set(JAVA_INT_UNALIGNED, 0, reply.length);
            return 0;
          }

          @Override
          public long read(int fd, MemorySegment buffer) {
            return -Errno.EINVAL.number();
          }

          @Override
          public long write(int fd, MemorySegment buffer) {
            return -Errno.EINVAL.number();
          }

          @Override
          public long pread(int fd, MemorySegment buffer, long offset) {
            return -Errno.EINVAL.number();
          }

          @Override
          public long pwrite(int fd, MemorySegment buffer, long offset) {
            return -Errno.EINVAL.number();
          }

          @Override
          public long mmap(int fd, long offset, long length, int prot) {
            return -Errno.EINVAL.number();
          }

          @Override
          public void munmap(long address, long length) {}

          @Override
          public int close(int fd) {
            return 0;
          }
        };
    return VfioDevice.open(scripted, "/dev/vfio/devices/vfio0");
  }

  /** A region info of {@code length} bytes: BAR 2, 16 KiB, READ|WRITE|MMAP|CAPS, chain at 32. */
  private static MemorySegment info(int length) {
    MemorySegment s = MemorySegment.ofArray(new byte[length]);
    s.set(JAVA_INT_UNALIGNED, VfioRegionInfo.FLAGS, 0xf);
    s.set(JAVA_INT_UNALIGNED, VfioRegionInfo.INDEX, 2);
    s.set(JAVA_INT_UNALIGNED, VfioRegionInfo.CAP_OFFSET, HEADER);
    s.set(JAVA_LONG_UNALIGNED, VfioRegionInfo.SIZE_FIELD, 0x4000);
    s.set(JAVA_LONG_UNALIGNED, VfioRegionInfo.OFFSET, 2L << 40);
    return s;
  }

  private static void cap(MemorySegment s, long at, int id, long next) {
    s.set(JAVA_SHORT_UNALIGNED, at, (short) id);
    s.set(JAVA_SHORT_UNALIGNED, at + 2, (short) 1);
    s.set(JAVA_INT_UNALIGNED, at + 4, (int) next);
  }

  /**
   * A sparse mmap capability at {@code at} claiming {@code claimed} areas, of which it holds these.
   */
  private static void sparse(MemorySegment s, long at, long next, int claimed, long... areas) {
    cap(s, at, VfioRegionInfo.VFIO_REGION_INFO_CAP_SPARSE_MMAP, next);
    s.set(JAVA_INT_UNALIGNED, at + 8, claimed);
    for (int i = 0; i < areas.length; i++) {
      s.set(JAVA_LONG_UNALIGNED, at + 16 + 8L * i, areas[i]);
    }
  }

  private static VfioRegion region(MemorySegment reply) {
    try (VfioDevice device =
        deviceAnswering(reply.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE))) {
      return device.region(2);
    }
  }

  @Test
  void sparseAreasAndMsixMappabilityAreReadFromTheChain() {
    MemorySegment s = info(HEADER + 48 + 8);
    sparse(s, HEADER, HEADER + 48, 2, 0x0, 0x1000, 0x3000, 0x1000);
    cap(s, HEADER + 48, VfioRegionInfo.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
    VfioRegion region = region(s);
    assertThat(region.size()).isEqualTo(0x4000);
    assertThat(region.offset()).isEqualTo(2L << 40);
    assertThat(region.mappable()).isTrue();
    assertThat(region.sparseMmap())
        .containsExactly(
            new VfioRegion.MmapArea(0x0, 0x1000), new VfioRegion.MmapArea(0x3000, 0x1000));
    assertThat(region.msixMappable()).isTrue();
  }

  @Test
  void aChainThatLoopsEndsAtTheFirstStepBack() {
    MemorySegment s = info(HEADER + 8 + 32);
    cap(s, HEADER, VfioRegionInfo.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, HEADER + 8);
    sparse(s, HEADER + 8, HEADER, 1, 0x0, 0x4000); // next: back to the first
    VfioRegion region = region(s);
    assertThat(region.msixMappable()).isTrue();
    assertThat(region.sparseMmap()).containsExactly(new VfioRegion.MmapArea(0, 0x4000));
  }

  @Test
  void areasClaimedBeyondTheStructAreNotRead() {
    MemorySegment s = info(HEADER + 32);
    sparse(s, HEADER, 0, -1, 0x0, 0x2000); // 2^32 - 1 claimed, one there
    assertThat(region(s).sparseMmap()).containsExactly(new VfioRegion.MmapArea(0, 0x2000));
  }

  @Test
  void aCapabilityOffsetOutsideTheStructIsIgnored() {
    MemorySegment s = info(HEADER + 8);
    s.set(JAVA_INT_UNALIGNED, VfioRegionInfo.CAP_OFFSET, 0x7fff_fff0);
    VfioRegion region = region(s);
    assertThat(region.sparseMmap()).isEmpty();
    assertThat(region.msixMappable()).isFalse();
    assertThat(region.size()).isEqualTo(0x4000);
  }

  @Test
  void anArgszGrownBeyondAnyRealChainIsNotBelieved() {
    MemorySegment s = info(CapChain.MAX_INFO + 8);
    cap(s, HEADER, VfioRegionInfo.VFIO_REGION_INFO_CAP_MSIX_MAPPABLE, 0);
    VfioRegion region = region(s);
    assertThat(region.msixMappable()).as("not asked again").isFalse();
    assertThat(region.flags()).isEqualTo(0xf);
    assertThat(List.of(region.size(), region.offset())).containsExactly(0x4000L, 2L << 40);
  }
}
