package org.iommufd4j.trace;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.Errno;
import org.iommufd4j.trace.MemoryLog.Kind;
import org.iommufd4j.trace.MemoryLog.Op;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.iommufd4j.uapi.Vfio;
import org.iommufd4j.uapi.VfioIommuType1DmaMap;
import org.junit.jupiter.api.Test;

class CallPrinterTest {
  private static final int PID = 7;
  private static final long ARG = 0x7ffd0000L;

  /** A call on file 1 that read {@code in} at its argument and wrote {@code out} there. */
  private static Trace.Ioctl call(long request, long result, byte[] in, byte[] out, Op... more) {
    List<Op> memory = new ArrayList<>();
    memory.add(read(ARG, new byte[] {in[0], in[1], in[2], in[3]})); // the size word first
    memory.add(read(ARG, in));
    if (out != null) {
      memory.add(new Op(Kind.WRITE, PID, ARG, out.length, false, true, out, 0, 0));
    }
    memory.addAll(List.of(more));
    return new Trace.Ioctl(3, 1, PID, 1, request, ARG, result, 2_500_000_000L, 900, memory);
  }

  private static Op read(long address, byte[] bytes) {
    return new Op(Kind.READ, PID, address, bytes.length, false, true, bytes, 0, 0);
  }

  private static String line(Trace.Event e) {
    return CallPrinter.line(e, false);
  }

  private static Struct map() {
    return IommuIoasMap.of(
        Struct.HEAP,
        IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE | IommuIoasMap.IOMMU_IOAS_MAP_READABLE,
        2,
        0x7f0000001000L,
        0x2000,
        0);
  }

  @Test
  void aMapShowsItsStructWithNamedFlagsAndTheIovaItChose() {
    Struct in = map();
    byte[] out = map().u64(IommuIoasMap.IOVA, 0x1000000).bytes();

    assertThat(line(call(Command.IOMMU_IOAS_MAP.request(), 0, in.bytes(), out)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_IOAS_MAP, {size=40, flags=WRITEABLE|READABLE, "
                + "ioas_id=2, user_va=0x7f0000001000, length=0x2000, iova=0x0} => {iova=0x1000000}) "
                + "= 0");
  }

  @Test
  void aFailedCallShowsItsErrnoNameAndNoReply() {
    Struct in =
        map()
            .u32(IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA)
            .u64(IommuIoasMap.IOVA, 0x4000);

    assertThat(
            line(call(Command.IOMMU_IOAS_MAP.request(), -Errno.EEXIST.number(), in.bytes(), null)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_IOAS_MAP, {size=40, flags=FIXED_IOVA, "
                + "ioas_id=2, user_va=0x7f0000001000, length=0x2000, iova=0x4000}) "
                + "= -1 EEXIST (File exists)");
  }

  @Test
  void aReservedMemberIsShownOnlyWhenItIsNotZero() {
    Struct in = map().u32(IommuIoasMap.RESERVED, 9);

    assertThat(
            line(
                call(
                    Command.IOMMU_IOAS_MAP.request(),
                    -Errno.EOPNOTSUPP.number(),
                    in.bytes(),
                    null)))
        .contains("ioas_id=2, __reserved=0x9, user_va=0x7f0000001000,");
  }

  @Test
  void aReplyThatRewritesTheWholeStructListsOnlyTheMembersThatChanged() {
    byte[] in = Struct.of(Struct.HEAP, Command.IOMMU_IOAS_ALLOC).bytes();
    byte[] out = Struct.of(Struct.HEAP, Command.IOMMU_IOAS_ALLOC).set("out_ioas_id", 5).bytes();

    assertThat(line(call(Command.IOMMU_IOAS_ALLOC.request(), 0, in, out)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_IOAS_ALLOC, {size=12, flags=0, out_ioas_id=0} "
                + "=> {out_ioas_id=5}) = 0");
  }

  @Test
  void aTestCommandShowsTheUnionArmItsOpNames() {
    Struct in =
        IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, 1)
            .u32(
                IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS,
                IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA | 0x100);
    byte[] out =
        IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, 1)
            .u32(
                IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS,
                IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA | 0x100)
            .u32(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID, 2)
            .u32(IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID, 3)
            .u32(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID, 4)
            .bytes();

    assertThat(line(call(Command.IOMMU_TEST_CMD.request(), 0, in.bytes(), out)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_TEST_CMD, {size=72, op=MOCK_DOMAIN_FLAGS, id=1, "
                + "out_stdev_id=0, out_hwpt_id=0, out_idev_id=0, dev_flags=HUGE_IOVA|0x100, last=0} "
                + "=> {out_stdev_id=2, out_hwpt_id=3, out_idev_id=4}) = 0");
  }

  @Test
  void aCallThatMadeADescriptorSaysWhichFileItIs() {
    Struct in =
        IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, 1)
            .u32(
                IommuTestCmd.CREATE_ACCESS_FLAGS,
                IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
    byte[] out =
        IommuTestCmd.of(Struct.HEAP, IommuTestCmd.IOMMU_TEST_OP_CREATE_ACCESS, 1)
            .u32(
                IommuTestCmd.CREATE_ACCESS_FLAGS,
                IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES)
            .u32(IommuTestCmd.CREATE_ACCESS_OUT_ACCESS_FD, 6)
            .bytes();
    Op fd = new Op(Kind.FD, PID, 0, 0, false, true, null, 6, 2);

    assertThat(line(call(Command.IOMMU_TEST_CMD.request(), 0, in.bytes(), out, fd)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_TEST_CMD, {size=72, op=CREATE_ACCESS, id=1, "
                + "out_access_fd=0, flags=NEEDS_PIN_PAGES, last=0} => {out_access_fd=6}) = 0 "
                + "(fd 6 = file 2)");
  }

  @Test
  void hwptFlagsAreNamedAndUnknownBitsKeptInHex() {
    Struct in =
        Struct.of(Struct.HEAP, Command.IOMMU_HWPT_ALLOC)
            .set("flags", IommuHwptAlloc.IOMMU_HWPT_ALLOC_DIRTY_TRACKING | 0x80)
            .set("dev_id", 3)
            .set("pt_id", 2);

    assertThat(
            line(
                call(
                    Command.IOMMU_HWPT_ALLOC.request(),
                    -Errno.EOPNOTSUPP.number(),
                    in.bytes(),
                    null)))
        .startsWith("[pid 7] ioctl(file 1, IOMMU_HWPT_ALLOC, {size=")
        .contains("flags=ALLOC_DIRTY_TRACKING|0x80, dev_id=3, pt_id=2, out_hwpt_id=0")
        .contains("data_type=NONE")
        .endsWith("}) = -1 EOPNOTSUPP (Operation not supported)");
  }

  @Test
  void vfioContainerCallsAreNamedWithTheirStructOrExtension() {
    byte[] dma =
        Struct.of(Struct.HEAP, VfioIommuType1DmaMap.LAYOUT)
            .set("argsz", VfioIommuType1DmaMap.SIZE)
            .set(
                "flags",
                VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_READ
                    | VfioIommuType1DmaMap.VFIO_DMA_MAP_FLAG_WRITE)
            .set("vaddr", 0x7f0000000000L)
            .set("iova", 0x100000)
            .set("size", 0x1000)
            .bytes();
    Trace.Ioctl check =
        new Trace.Ioctl(
            1, 1, PID, 1, Vfio.VFIO_CHECK_EXTENSION, Vfio.VFIO_TYPE1v2_IOMMU, 1, 0, 0, List.of());

    assertThat(line(call(Vfio.VFIO_IOMMU_MAP_DMA, 0, dma, null)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, VFIO_IOMMU_MAP_DMA, {argsz=32, flags=READ|WRITE, "
                + "vaddr=0x7f0000000000, iova=0x100000, size=0x1000}) = 0");
    assertThat(line(check))
        .isEqualTo("[pid 7] ioctl(file 1, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) = 1");
  }

  @Test
  void anUnknownRequestShowsItsNumberAndTheRawBytes() {
    assertThat(
            line(call(0x3b7f, -Errno.ENOTTY.number(), new byte[] {8, 0, 0, 0, 1, 2, 3, 4}, null)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, 0x3b7f, 0x7ffd0000 <0800000001020304>) = -1 "
                + "ENOTTY (Inappropriate ioctl for device)");
  }

  @Test
  void anUnreadableArgumentShowsItsAddress() {
    Op failed = new Op(Kind.READ, PID, ARG, 4, false, false, null, 0, 0);
    Trace.Ioctl call =
        new Trace.Ioctl(
            1,
            1,
            PID,
            1,
            Command.IOMMU_IOAS_MAP.request(),
            ARG,
            -Errno.EFAULT.number(),
            0,
            0,
            List.of(failed));

    assertThat(line(call))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_IOAS_MAP, 0x7ffd0000) " + "= -1 EFAULT (Bad address)");
  }

  @Test
  void aShortStructShowsOnlyTheMembersItHolds() {
    byte[] in = new byte[16];
    System.arraycopy(map().size(16).bytes(), 0, in, 0, 16);

    assertThat(line(call(Command.IOMMU_IOAS_MAP.request(), -Errno.EINVAL.number(), in, null)))
        .isEqualTo(
            "[pid 7] ioctl(file 1, IOMMU_IOAS_MAP, {size=16, flags=WRITEABLE|READABLE, "
                + "ioas_id=2}) = -1 EINVAL (Invalid argument)");
  }

  @Test
  void opensClosesAndExitsAreLinesOfTheirOwnWithOptionalTimes() {
    assertThat(line(new Trace.Open(1, PID, false, 1_000_000)))
        .isEqualTo("[pid 7] open /dev/iommu = file 1");
    assertThat(line(new Trace.Open(2, PID, true, 0)))
        .isEqualTo("[pid 7] open /dev/vfio/vfio = file 2");
    assertThat(line(new Trace.Close(1, 0))).isEqualTo("close file 1");
    assertThat(line(new Trace.Exit(PID, 0, List.of()))).isEqualTo("[pid 7] exit");
    assertThat(line(new Trace.Process(PID, 0, false, true, 8 << 20)))
        .isEqualTo("[pid 7] process uid=0 caps=CAP_IPC_LOCK memlock=8388608");
    assertThat(CallPrinter.line(new Trace.Close(1, 2_500_000_000L), true))
        .isEqualTo("  2.500000 close file 1");
  }
}
