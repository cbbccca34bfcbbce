package org.iommufd4j.uapi;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.iommufd4j.uapi.Dispatcher.U32;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.DirtyBitmapRequest;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.HwInfoReport;
import org.iommufd4j.engine.HwptAllocRequest;
import org.iommufd4j.engine.InvalidateRequest;
import org.iommufd4j.engine.InvalidationReader;
import org.iommufd4j.engine.Selftest;
import org.iommufd4j.memory.UserMemory;

/**
 * The byte side of the HWPT, hardware-info, dirty-tracking, invalidation and fault-queue ioctls
 * (hw_pagetable.c: iommufd_hwpt_alloc(), iommufd_hwpt_set_dirty_tracking(),
 * iommufd_hwpt_get_dirty_bitmap(), iommufd_hwpt_invalidate(); device.c: iommufd_get_hw_info();
 * fault.c: iommufd_fault_alloc()) and of the test ops DIRTY, MD_CHECK_IOTLB and TRIGGER_IOPF
 * (selftest.c: iommufd_test_dirty(), iommufd_test_md_check_iotlb(), iommufd_test_trigger_iopf()):
 * fields by named offsets in, engine call, outputs and driver data out. The generic decode of
 * {@link Dispatcher} has already run.
 */
final class HwptIoctls {
  private static final int ZERO_CHUNK = 4096;

  private HwptIoctls() {}

  private static int efault() {
    return -Errno.EFAULT.number();
  }

  static int hwptAlloc(Context ctx, Dispatcher.Arg a) {
    long dataUptr = a.u64(IommuHwptAlloc.DATA_UPTR);
    ctx.hwpt()
        .alloc(
            new HwptAllocRequest(
                a.u32(IommuHwptAlloc.FLAGS),
                a.u32(IommuHwptAlloc.DEV_ID),
                a.u32(IommuHwptAlloc.PT_ID),
                a.u32(IommuHwptAlloc.RESERVED),
                a.u32(IommuHwptAlloc.DATA_TYPE),
                a.u32(IommuHwptAlloc.DATA_LEN),
                a.u32(IommuHwptAlloc.FAULT_ID)),
            () -> {
              MemorySegment data = MemorySegment.ofArray(new byte[IommuHwptSelftest.SIZE]);
              if (!a.memory.read(dataUptr, data)) {
                throw ErrnoException.of(
                    Errno.EFAULT, "HWPT data at 0x" + Long.toHexString(dataUptr) + " unreadable");
              }
              return data.get(U32, IommuHwptSelftest.IOTLB);
            },
            id -> {
              a.putU32(IommuHwptAlloc.OUT_HWPT_ID, id);
              return a.respond();
            });
    return 0;
  }

  /** The driver data first, then the struct (device.c: iommufd_get_hw_info()). */
  static int getHwInfo(Context ctx, Dispatcher.Arg a) {
    HwInfoReport info =
        ctx.hwpt()
            .hwInfo(
                a.u32(IommuHwInfo.FLAGS),
                a.u32(IommuHwInfo.DEV_ID),
                a.u32(IommuHwInfo.OUT_MAX_PASID_LOG2) >>> 8,
                a.u32(IommuHwInfo.IN_DATA_TYPE));
    MemorySegment data = encode(info.data());
    long userLength = Integer.toUnsignedLong(a.u32(IommuHwInfo.DATA_LEN));
    long uptr = a.u64(IommuHwInfo.DATA_UPTR);
    long copy = Math.min(userLength, data.byteSize());
    if (copy > 0 && !a.memory.write(uptr, data.asSlice(0, copy))) {
      return efault();
    }
    if (userLength > copy && !zero(a.memory, uptr + copy, userLength - copy)) {
      return efault();
    }
    a.putU32(IommuHwInfo.DATA_LEN, (int) data.byteSize());
    a.putU32(IommuHwInfo.OUT_DATA_TYPE, info.dataType());
    a.kbuf.set(JAVA_BYTE, IommuHwInfo.OUT_MAX_PASID_LOG2, (byte) info.maxPasidLog2());
    a.putU64(IommuHwInfo.OUT_CAPABILITIES, info.capabilities());
    return a.respond() ? 0 : efault();
  }

  /** The driver's data as its C struct. */
  private static MemorySegment encode(HwInfoReport.DriverData data) {
    if (data instanceof HwInfoReport.SelftestData d) {
      MemorySegment s = MemorySegment.ofArray(new byte[IommuTestHwInfo.SIZE]);
      s.set(U32, IommuTestHwInfo.FLAGS, d.flags());
      s.set(U32, IommuTestHwInfo.TEST_REG, d.testReg());
      return s;
    }
    if (data instanceof HwInfoReport.VtdData d) {
      // struct iommu_hw_info_vtd (iommufd.h): u32 flags, u32 __reserved, u64 cap_reg, u64 ecap_reg
      MemorySegment s = MemorySegment.ofArray(new byte[24]);
      s.set(U32, 0, d.flags());
      s.set(Dispatcher.U64, 8, d.capReg());
      s.set(Dispatcher.U64, 16, d.ecapReg());
      return s;
    }
    if (data == null) {
      return MemorySegment.ofArray(new byte[0]);
    }
    throw new IllegalStateException("no layout for " + data);
  }

  private static boolean zero(UserMemory memory, long address, long length) {
    MemorySegment zeros = MemorySegment.ofArray(new byte[(int) Math.min(length, ZERO_CHUNK)]);
    for (long done = 0; done < length; done += zeros.byteSize()) {
      long n = Math.min(zeros.byteSize(), length - done);
      if (!memory.write(address + done, zeros.asSlice(0, n))) {
        return false;
      }
    }
    return true;
  }

  static int setDirtyTracking(Context ctx, Dispatcher.Arg a) {
    ctx.hwpt()
        .setDirtyTracking(
            a.u32(IommuHwptSetDirtyTracking.FLAGS), a.u32(IommuHwptSetDirtyTracking.HWPT_ID));
    return 0;
  }

  static int getDirtyBitmap(Context ctx, Caller caller, Dispatcher.Arg a) {
    ctx.hwpt()
        .getDirtyBitmap(
            caller,
            new DirtyBitmapRequest(
                a.u32(IommuHwptGetDirtyBitmap.HWPT_ID),
                a.u32(IommuHwptGetDirtyBitmap.FLAGS),
                a.u32(IommuHwptGetDirtyBitmap.RESERVED),
                a.u64(IommuHwptGetDirtyBitmap.IOVA),
                a.u64(IommuHwptGetDirtyBitmap.LENGTH),
                a.u64(IommuHwptGetDirtyBitmap.PAGE_SIZE),
                a.u64(IommuHwptGetDirtyBitmap.DATA)));
    return 0;
  }

  /**
   * {@code entry_num} goes back on every path, then the command's result (hw_pagetable.c:
   * iommufd_hwpt_invalidate()).
   */
  static int invalidate(Context ctx, Dispatcher.Arg a) {
    long uptr = a.u64(IommuHwptInvalidate.DATA_UPTR);
    long entryLen = Integer.toUnsignedLong(a.u32(IommuHwptInvalidate.ENTRY_LEN));
    InvalidationReader reader =
        i -> {
          MemorySegment entry = MemorySegment.ofArray(new byte[IommuHwptInvalidateSelftest.SIZE]);
          long at = uptr + i * entryLen;
          if (!a.memory.read(at, entry)) {
            throw ErrnoException.of(
                Errno.EFAULT, "request " + i + " at 0x" + Long.toHexString(at) + " unreadable");
          }
          return new InvalidationReader.Request(
              entry.get(U32, IommuHwptInvalidateSelftest.FLAGS),
              entry.get(U32, IommuHwptInvalidateSelftest.IOTLB_ID));
        };
    int[] handled = {0};
    int result = 0;
    try {
      ctx.hwpt()
          .invalidate(
              new InvalidateRequest(
                  a.u32(IommuHwptInvalidate.HWPT_ID),
                  uptr,
                  a.u32(IommuHwptInvalidate.DATA_TYPE),
                  (int) entryLen,
                  a.u32(IommuHwptInvalidate.ENTRY_NUM),
                  a.u32(IommuHwptInvalidate.RESERVED)),
              reader,
              handled);
    } catch (ErrnoException e) {
      result = -e.errno().number();
    }
    a.putU32(IommuHwptInvalidate.ENTRY_NUM, handled[0]);
    return a.respond() ? result : efault();
  }

  static int faultQueueAlloc(Context ctx, Dispatcher.Arg a) {
    ctx.hwpt()
        .faultQueueAlloc(
            a.u32(IommuFaultAlloc.FLAGS),
            q -> {
              a.putU32(IommuFaultAlloc.OUT_FAULT_ID, q.faultId());
              a.putU32(IommuFaultAlloc.OUT_FAULT_FD, q.faultFd());
              return a.respond();
            });
    return 0;
  }

  // ---- IOMMU_TEST_CMD ops ------------------------------------------------------------------

  static int testDirty(Selftest t, Caller caller, Dispatcher.Arg a, int id) {
    long count =
        t.dirty(
            caller,
            id,
            a.u64(IommuTestCmd.DIRTY_IOVA),
            a.u64(IommuTestCmd.DIRTY_LENGTH),
            a.u64(IommuTestCmd.DIRTY_PAGE_SIZE),
            a.u64(IommuTestCmd.DIRTY_UPTR));
    a.putU64(IommuTestCmd.DIRTY_OUT_NR_DIRTY, count);
    return a.respond() ? 0 : efault();
  }

  static int testCheckIotlb(Selftest t, Dispatcher.Arg a, int id) {
    t.checkIotlb(id, a.u32(IommuTestCmd.CHECK_IOTLB_ID), a.u32(IommuTestCmd.CHECK_IOTLB_IOTLB));
    return 0;
  }

  static int testTriggerIopf(Selftest t, Dispatcher.Arg a) {
    t.triggerIopf(
        a.u32(IommuTestCmd.TRIGGER_IOPF_DEV_ID),
        a.u32(IommuTestCmd.TRIGGER_IOPF_PASID),
        a.u32(IommuTestCmd.TRIGGER_IOPF_GRPID),
        a.u32(IommuTestCmd.TRIGGER_IOPF_PERM),
        a.u64(IommuTestCmd.TRIGGER_IOPF_ADDR));
    return 0;
  }
}
