package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.describe;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import org.iommufd4j.engine.Host;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuFaultAlloc;
import org.iommufd4j.uapi.IommuHwptAlloc;
import org.iommufd4j.uapi.IommuHwptGetDirtyBitmap;
import org.iommufd4j.uapi.IommuHwptSelftest;
import org.iommufd4j.uapi.IommuHwptSetDirtyTracking;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuTestCmd;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.AfterEach;

/**
 * Raw-ioctl helpers for the HWPT, dirty-tracking and fault-queue tests, in the spirit of the
 * selftests' {@code iommufd_utils.h}: {@code xxx(...)} asserts success and returns the outputs,
 * {@code xxxRc(...)} returns the ioctl result. Every test runs on a context of its own machine
 * ({@code privateHost}), so that after the close the machine must hold no pin at all.
 */
abstract class MockDeviceFixture extends ConformanceTest {
  static final long BASE = IommuTestCmd.MOCK_APERTURE_START;
  static final long MOCK_PAGE = 2048;
  static final long HUGE_PAGE = 1 << 20;
  static final int SELFTEST = IommuHwptAlloc.IOMMU_HWPT_DATA_SELFTEST;
  static final int NEST_PARENT = IommuHwptAlloc.IOMMU_HWPT_ALLOC_NEST_PARENT;
  static final int DIRTY_TRACKING = IommuHwptAlloc.IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
  static final int FAULT_ID_VALID = IommuHwptAlloc.IOMMU_HWPT_FAULT_ID_VALID;

  /** The ids a mock device gets (MOCK_DOMAIN outputs). */
  record MockDev(int stdevId, int hwptId, int idevId) {}

  /** FAULT_QUEUE_ALLOC outputs. */
  record FaultQueue(int faultId, int fd) {}

  Iommufd iommufd;

  Iommufd openPrivate() {
    return openPrivate(Configuration.builder());
  }

  Iommufd openPrivate(Configuration.Builder builder) {
    iommufd = open(builder.privateHost(true).build());
    return iommufd;
  }

  EmulatedIommufd emulated() {
    return (EmulatedIommufd) iommufd;
  }

  Host host() {
    return emulated().context().host();
  }

  /** Runs before ConformanceTest's check: invariants, close, then no object and no pin is left. */
  @AfterEach
  void closeAndCheckNothingIsLeft() {
    if (iommufd == null || emulated().context().isClosed()) {
      return;
    }
    assertThat(emulated().checkInvariants()).as("engine invariants").isEmpty();
    Host host = host();
    iommufd.close();
    assertThat(objectCount(iommufd)).as("objects left after close").isZero();
    assertThat(host.totalPins()).as("pins left after close").isZero();
  }

  /** A native buffer of {@code bytes} bytes at an address aligned to {@code alignment}. */
  MemorySegment buffer(long bytes, long alignment) {
    MemorySegment s = arena.allocate(bytes, alignment);
    s.fill((byte) 0x5a);
    return s;
  }

  int rc(Struct s) {
    return s.ioctl(iommufd);
  }

  /**
   * Issues {@code command} with its struct placed so that its bytes from {@code readOnlyFrom} on
   * lie on a read-only page: the emulator reads the whole struct but cannot write it back there.
   */
  int ioctlWithReadOnlyTail(Command command, long readOnlyFrom, Consumer<Struct> fill) {
    try (NativePages pages = NativePages.map(2)) {
      long start = pages.page(1) - readOnlyFrom;
      fill.accept(Struct.over(NativePages.segment(start, command.ksize()), command));
      pages.protect(1, NativePages.PROT_READ);
      return Struct.over(NativePages.segment(start, readOnlyFrom), command).ioctl(iommufd);
    }
  }

  static void ok(int rc) {
    assertThat(describe(rc)).as("ioctl result").isEqualTo("0");
  }

  static void fails(Errno expected, int rc) {
    assertThat(describe(rc)).as("ioctl result").isEqualTo("-" + expected.name());
  }

  // ---- IOAS and devices --------------------------------------------------------------------

  int ioasAlloc() {
    Struct s = struct(Command.IOMMU_IOAS_ALLOC);
    ok(rc(s));
    return s.u32(IommuIoasAlloc.OUT_IOAS_ID);
  }

  int destroyRc(int id) {
    return rc(struct(Command.IOMMU_DESTROY).u32(IommuDestroy.ID, id));
  }

  void mapFixed(int ioasId, long iova, MemorySegment memory) {
    ok(
        rc(
            struct(Command.IOMMU_IOAS_MAP)
                .u32(
                    IommuIoasMap.FLAGS,
                    IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
                        | IommuIoasMap.IOMMU_IOAS_MAP_READABLE
                        | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE)
                .u32(IommuIoasMap.IOAS_ID, ioasId)
                .u64(IommuIoasMap.USER_VA, memory.address())
                .u64(IommuIoasMap.LENGTH, memory.byteSize())
                .u64(IommuIoasMap.IOVA, iova)));
  }

  Struct testCmd(int op, int id) {
    return struct(Command.IOMMU_TEST_CMD).u32(IommuTestCmd.OP, op).u32(IommuTestCmd.ID, id);
  }

  Struct mockDomainStruct(int id, int devFlags) {
    return testCmd(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, id)
        .u32(IommuTestCmd.MOCK_DOMAIN_FLAGS_DEV_FLAGS, devFlags);
  }

  int mockDomainRc(int id, int devFlags) {
    return rc(mockDomainStruct(id, devFlags));
  }

  MockDev mockDomain(int id) {
    return mockDomain(id, 0);
  }

  MockDev mockDomain(int id, int devFlags) {
    Struct s = mockDomainStruct(id, devFlags);
    ok(rc(s));
    return new MockDev(
        s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_STDEV_ID),
        s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_HWPT_ID),
        s.u32(IommuTestCmd.MOCK_DOMAIN_OUT_IDEV_ID));
  }

  Struct replaceStruct(int stdevId, int ptId) {
    return testCmd(IommuTestCmd.IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, stdevId)
        .u32(IommuTestCmd.MOCK_DOMAIN_REPLACE_PT_ID, ptId);
  }

  int replaceRc(int stdevId, int ptId) {
    return rc(replaceStruct(stdevId, ptId));
  }

  /** MOCK_DOMAIN_REPLACE; returns the id of the HWPT now attached. */
  int replace(int stdevId, int ptId) {
    Struct s = replaceStruct(stdevId, ptId);
    ok(rc(s));
    return s.u32(IommuTestCmd.MOCK_DOMAIN_REPLACE_PT_ID);
  }

  int checkMapRc(int hwptId, long iova, MemorySegment memory) {
    return rc(
        testCmd(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_MAP, hwptId)
            .u64(IommuTestCmd.CHECK_MAP_IOVA, iova)
            .u64(IommuTestCmd.CHECK_MAP_LENGTH, memory.byteSize())
            .u64(IommuTestCmd.CHECK_MAP_UPTR, memory.address()));
  }

  int checkRefsRc(MemorySegment memory, int refs) {
    return rc(
        testCmd(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_REFS, 0)
            .u64(IommuTestCmd.CHECK_REFS_LENGTH, memory.byteSize())
            .u64(IommuTestCmd.CHECK_REFS_UPTR, memory.address())
            .u32(IommuTestCmd.CHECK_REFS_REFS, refs));
  }

  // ---- HWPT_ALLOC --------------------------------------------------------------------------

  Struct hwptAllocStruct(int devId, int ptId, int flags) {
    return struct(Command.IOMMU_HWPT_ALLOC)
        .u32(IommuHwptAlloc.DEV_ID, devId)
        .u32(IommuHwptAlloc.PT_ID, ptId)
        .u32(IommuHwptAlloc.FLAGS, flags);
  }

  int hwptAllocRc(int devId, int ptId, int flags) {
    return rc(hwptAllocStruct(devId, ptId, flags));
  }

  int hwptAlloc(int devId, int ptId, int flags) {
    Struct s = hwptAllocStruct(devId, ptId, flags);
    ok(rc(s));
    return s.u32(IommuHwptAlloc.OUT_HWPT_ID);
  }

  /** {@code struct iommu_hwpt_selftest} in native memory. */
  MemorySegment selftestData(int iotlb) {
    MemorySegment data = arena.allocate(IommuHwptSelftest.SIZE, 4);
    data.set(ValueLayout.JAVA_INT, IommuHwptSelftest.IOTLB, iotlb);
    return data;
  }

  Struct nestedStruct(
      int devId, int parentId, int flags, int dataType, long dataUptr, int dataLen) {
    return hwptAllocStruct(devId, parentId, flags)
        .u32(IommuHwptAlloc.DATA_TYPE, dataType)
        .u32(IommuHwptAlloc.DATA_LEN, dataLen)
        .u64(IommuHwptAlloc.DATA_UPTR, dataUptr);
  }

  int nestedRc(int devId, int parentId, int flags, int dataType, long dataUptr, int dataLen) {
    return rc(nestedStruct(devId, parentId, flags, dataType, dataUptr, dataLen));
  }

  /** A mock nested HWPT whose four IOTLB slots hold {@code IOMMU_TEST_IOTLB_DEFAULT}. */
  int nested(int devId, int parentId) {
    return nested(devId, parentId, 0, 0);
  }

  int nested(int devId, int parentId, int flags, int faultId) {
    Struct s =
        nestedStruct(
                devId,
                parentId,
                flags,
                SELFTEST,
                selftestData(IommuHwptSelftest.IOMMU_TEST_IOTLB_DEFAULT).address(),
                IommuHwptSelftest.SIZE)
            .u32(IommuHwptAlloc.FAULT_ID, faultId);
    ok(rc(s));
    return s.u32(IommuHwptAlloc.OUT_HWPT_ID);
  }

  int checkIotlbRc(int hwptId, int slot, int expected) {
    return rc(
        testCmd(IommuTestCmd.IOMMU_TEST_OP_MD_CHECK_IOTLB, hwptId)
            .u32(IommuTestCmd.CHECK_IOTLB_ID, slot)
            .u32(IommuTestCmd.CHECK_IOTLB_IOTLB, expected));
  }

  // ---- dirty tracking ----------------------------------------------------------------------

  int setDirtyTrackingRc(int hwptId, boolean enable) {
    return rc(
        struct(Command.IOMMU_HWPT_SET_DIRTY_TRACKING)
            .u32(IommuHwptSetDirtyTracking.HWPT_ID, hwptId)
            .u32(
                IommuHwptSetDirtyTracking.FLAGS,
                enable ? IommuHwptSetDirtyTracking.IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0));
  }

  Struct dirtyBitmapStruct(
      int hwptId, long iova, long length, long pageSize, long data, int flags) {
    return struct(Command.IOMMU_HWPT_GET_DIRTY_BITMAP)
        .u32(IommuHwptGetDirtyBitmap.HWPT_ID, hwptId)
        .u32(IommuHwptGetDirtyBitmap.FLAGS, flags)
        .u64(IommuHwptGetDirtyBitmap.IOVA, iova)
        .u64(IommuHwptGetDirtyBitmap.LENGTH, length)
        .u64(IommuHwptGetDirtyBitmap.PAGE_SIZE, pageSize)
        .u64(IommuHwptGetDirtyBitmap.DATA, data);
  }

  int getDirtyBitmapRc(int hwptId, long iova, long length, long pageSize, long data, int flags) {
    return rc(dirtyBitmapStruct(hwptId, iova, length, pageSize, data, flags));
  }

  Struct dirtyStruct(int hwptId, long iova, long length, long pageSize, long uptr) {
    return testCmd(IommuTestCmd.IOMMU_TEST_OP_DIRTY, hwptId)
        .u64(IommuTestCmd.DIRTY_IOVA, iova)
        .u64(IommuTestCmd.DIRTY_LENGTH, length)
        .u64(IommuTestCmd.DIRTY_PAGE_SIZE, pageSize)
        .u64(IommuTestCmd.DIRTY_UPTR, uptr);
  }

  /** Test op DIRTY; returns {@code out_nr_dirty}. */
  long markDirty(int hwptId, long iova, long length, long pageSize, MemorySegment bits) {
    Struct s = dirtyStruct(hwptId, iova, length, pageSize, bits.address());
    ok(rc(s));
    return s.u64(IommuTestCmd.DIRTY_OUT_NR_DIRTY);
  }

  // ---- fault queue -------------------------------------------------------------------------

  FaultQueue faultAlloc() {
    Struct s = struct(Command.IOMMU_FAULT_QUEUE_ALLOC);
    ok(rc(s));
    return new FaultQueue(s.u32(IommuFaultAlloc.OUT_FAULT_ID), s.u32(IommuFaultAlloc.OUT_FAULT_FD));
  }

  int triggerIopfRc(int devId, int pasid, int grpid, int perm, long addr) {
    return rc(
        testCmd(IommuTestCmd.IOMMU_TEST_OP_TRIGGER_IOPF, 0)
            .u32(IommuTestCmd.TRIGGER_IOPF_DEV_ID, devId)
            .u32(IommuTestCmd.TRIGGER_IOPF_PASID, pasid)
            .u32(IommuTestCmd.TRIGGER_IOPF_GRPID, grpid)
            .u32(IommuTestCmd.TRIGGER_IOPF_PERM, perm)
            .u64(IommuTestCmd.TRIGGER_IOPF_ADDR, addr));
  }
}
