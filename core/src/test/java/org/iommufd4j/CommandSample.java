package org.iommufd4j;

import java.lang.foreign.Arena;
import java.util.function.Consumer;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuHwInfo;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptInvalidate;
import org.iommufd4j.uapi.IommuHwptSelftest;
import org.iommufd4j.uapi.IommuHwptSetDirtyTracking;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.IommuVfioIoas;
import org.iommufd4j.uapi.Struct;

/**
 * One well-formed call of each command of the 6.12 table (main.c: iommufd_ioctl_ops[]), on a
 * context prepared for it, with the result it gives at {@code size = ksize}. The generic decode
 * tests vary only the size word and the bytes around the struct and compare with this result.
 */
enum CommandSample {
  DESTROY(Command.IOMMU_DESTROY, 0, d -> d.createIoas(), s -> s.u32(IommuDestroy.ID, 1)),
  IOAS_ALLOC(Command.IOMMU_IOAS_ALLOC, 0, d -> {}, s -> {}),
  ALLOW_IOVAS(
      Command.IOMMU_IOAS_ALLOW_IOVAS,
      0,
      d -> d.createIoas(),
      s -> s.u32(IommuIoasAllowIovas.IOAS_ID, 1)),
  COPY(
      Command.IOMMU_IOAS_COPY,
      0,
      d -> d.mapFixed(d.createIoas(), 0x1000, ConformanceTest.USER_VA, 0x1000, Protection.READ),
      s ->
          s.u32(IommuIoasCopy.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_READABLE)
              .u32(IommuIoasCopy.DST_IOAS_ID, 1)
              .u32(IommuIoasCopy.SRC_IOAS_ID, 1)
              .u64(IommuIoasCopy.LENGTH, 0x1000)
              .u64(IommuIoasCopy.SRC_IOVA, 0x1000)),
  /**
   * The usual probe: capacity 0, NULL array → EMSGSIZE with the count written (ioas.c:
   * iommufd_ioas_iova_ranges()).
   */
  IOVA_RANGES(
      Command.IOMMU_IOAS_IOVA_RANGES,
      -Errno.EMSGSIZE.number(),
      d -> d.createIoas(),
      s -> s.u32(IommuIoasIovaRanges.IOAS_ID, 1)),
  MAP(
      Command.IOMMU_IOAS_MAP,
      0,
      d -> d.createIoas(),
      s ->
          s.u32(IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_READABLE)
              .u32(IommuIoasMap.IOAS_ID, 1)
              .u64(IommuIoasMap.USER_VA, ConformanceTest.USER_VA)
              .u64(IommuIoasMap.LENGTH, 0x1000)),
  UNMAP(
      Command.IOMMU_IOAS_UNMAP,
      0,
      d -> d.mapFixed(d.createIoas(), 0x1000, ConformanceTest.USER_VA, 0x1000, Protection.READ),
      s ->
          s.u32(IommuIoasUnmap.IOAS_ID, 1)
              .u64(IommuIoasUnmap.IOVA, 0)
              .u64(IommuIoasUnmap.LENGTH, 0x10000)),
  OPTION(
      Command.IOMMU_OPTION,
      0,
      d -> d.createIoas(),
      s ->
          s.u32(IommuOption.OPTION_ID, IommuOption.IOMMU_OPTION_HUGE_PAGES)
              .u16(IommuOption.OP, IommuOption.IOMMU_OPTION_OP_GET)
              .u32(IommuOption.OBJECT_ID, 1)
              .u64(IommuOption.VAL64, 0x5a5a)),
  VFIO_IOAS(
      Command.IOMMU_VFIO_IOAS,
      0,
      d -> {
        d.createIoas();
        d.createIoas();
        try (var arena = Arena.ofConfined()) {
          Struct set =
              Struct.of(arena, Command.IOMMU_VFIO_IOAS)
                  .u32(IommuVfioIoas.IOAS_ID, 2)
                  .u16(IommuVfioIoas.OP, IommuVfioIoas.IOMMU_VFIO_IOAS_SET);
          if (set.ioctl(d.iommufd()) != 0) {
            throw new AssertionError("VFIO_IOAS SET failed");
          }
        }
      },
      s -> s.u16(IommuVfioIoas.OP, IommuVfioIoas.IOMMU_VFIO_IOAS_GET)),
  // The HWPT, hardware-info and fault commands on a mock device: IOAS 1, stdev 2, idev 3, automatic
  // HWPT 4, a dirty-tracking NEST_PARENT HWPT 5 and a nested HWPT 6 on it. (FAULT_QUEUE_ALLOC is
  // left out: its fd would keep the context alive after the close.)
  HWPT_ALLOC(
      Command.IOMMU_HWPT_ALLOC,
      0,
      CommandSample::mockDevice,
      s -> s.u32(IommuHwptAlloc.DEV_ID, 3).u32(IommuHwptAlloc.PT_ID, 1)),
  GET_HW_INFO(
      Command.IOMMU_GET_HW_INFO, 0, CommandSample::mockDevice, s -> s.u32(IommuHwInfo.DEV_ID, 3)),
  HWPT_SET_DIRTY_TRACKING(
      Command.IOMMU_HWPT_SET_DIRTY_TRACKING,
      0,
      CommandSample::mockDevice,
      s -> s.u32(IommuHwptSetDirtyTracking.HWPT_ID, 5).u32(IommuHwptSetDirtyTracking.FLAGS, 1)),
  // No area covers the range: the walk fails after the checks (the real kernel answers EINVAL too)
  HWPT_GET_DIRTY_BITMAP(
      Command.IOMMU_HWPT_GET_DIRTY_BITMAP,
      -Errno.EINVAL.number(),
      CommandSample::mockDevice,
      s ->
          s.u32(IommuHwptGetDirtyBitmap.HWPT_ID, 5)
              .u64(IommuHwptGetDirtyBitmap.IOVA, 1 << 24)
              .u64(IommuHwptGetDirtyBitmap.LENGTH, 0x1000)
              .u64(IommuHwptGetDirtyBitmap.PAGE_SIZE, 0x1000)),
  HWPT_INVALIDATE(
      Command.IOMMU_HWPT_INVALIDATE,
      0,
      CommandSample::mockDevice,
      s ->
          s.u32(IommuHwptInvalidate.HWPT_ID, 6)
              .u32(
                  IommuHwptInvalidate.DATA_TYPE,
                  IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST));

  final Command command;

  /** The ioctl result at {@code size = ksize}. */
  final int result;

  private final Consumer<Door> prepare;
  private final Consumer<Struct> fill;

  CommandSample(Command command, int result, Consumer<Door> prepare, Consumer<Struct> fill) {
    this.command = command;
    this.result = result;
    this.prepare = prepare;
    this.fill = fill;
  }

  /** IOAS 1 with a mock device (ids 2, 3, 4), a dirty NEST_PARENT HWPT 5 and a nested HWPT 6. */
  private static void mockDevice(Door d) {
    Iommufd iommufd = d.iommufd();
    try (var arena = Arena.ofConfined()) {
      d.createIoas();
      call(
          iommufd,
          Struct.of(arena, Command.IOMMU_TEST_CMD)
              .u32(IommuTestCmd.OP, IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN)
              .u32(IommuTestCmd.ID, 1));
      call(
          iommufd,
          Struct.of(arena, Command.IOMMU_HWPT_ALLOC)
              .u32(IommuHwptAlloc.DEV_ID, 3)
              .u32(IommuHwptAlloc.PT_ID, 1)
              .u32(
                  IommuHwptAlloc.FLAGS,
                  IommuHwptAlloc.IOMMU_HWPT_ALLOC_NEST_PARENT
                      | IommuHwptAlloc.IOMMU_HWPT_ALLOC_DIRTY_TRACKING));
      var data = arena.allocate(IommuHwptSelftest.SIZE, 4);
      call(
          iommufd,
          Struct.of(arena, Command.IOMMU_HWPT_ALLOC)
              .u32(IommuHwptAlloc.DEV_ID, 3)
              .u32(IommuHwptAlloc.PT_ID, 5)
              .u32(IommuHwptAlloc.DATA_TYPE, IommuHwptAlloc.IOMMU_HWPT_DATA_SELFTEST)
              .u32(IommuHwptAlloc.DATA_LEN, IommuHwptSelftest.SIZE)
              .u64(IommuHwptAlloc.DATA_UPTR, data.address()));
    }
  }

  private static void call(Iommufd iommufd, Struct s) {
    if (s.ioctl(iommufd) != 0) {
      throw new AssertionError(s.command() + " failed while preparing a sample");
    }
  }

  /** Creates what the call needs (IOAS 1, a mapping at 0x1000, ...) through the raw door. */
  void prepare(Iommufd iommufd) {
    prepare.accept(new RawDoor(iommufd));
  }

  /** Fills the struct fields after {@code size}. */
  Struct fill(Struct s) {
    fill.accept(s);
    return s;
  }
}
