package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_CAP_DIRTY_TRACKING;
import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_INFO_FLAG_INPUT_TYPE;
import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_INFO_TYPE_INTEL_VTD;
import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_INFO_TYPE_NONE;
import static org.iommufd4j.uapi.IommuHwInfo.IOMMU_HW_INFO_TYPE_SELFTEST;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_ALLOC_NEST_PARENT;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_DATA_NONE;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_DATA_SELFTEST;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_FAULT_ID_VALID;
import static org.iommufd4j.uapi.IommuTestHwInfo.IOMMU_HW_INFO_SELFTEST_REGVAL;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntPredicate;
import java.util.function.IntSupplier;
import org.iommufd4j.uapi.IommuHwptSelftest;

/**
 * The HWPT, hardware-info, invalidation and fault-queue ioctls (hw_pagetable.c:
 * iommufd_hwpt_alloc(), iommufd_hwpt_invalidate(); device.c: iommufd_get_hw_info(); fault.c:
 * iommufd_fault_alloc()), with every check in the order Linux 6.12 makes it; dirty tracking
 * (hw_pagetable.c: iommufd_hwpt_{set_dirty_tracking,get_dirty_bitmap}()) is in {@link
 * DirtyTracking}. The driver behaviour is the selftest mock's (selftest.c: mock_ops); a device of
 * the radix model gets paging HWPTs of its own hardware but no nesting, dirty tracking or hardware
 * data.
 */
public final class HwptCommands {
  /**
   * HWPT_INVALIDATE refuses more requests than this, and longer ones (hw_pagetable.c:
   * iommufd_hwpt_invalidate()).
   */
  private static final long MAX_INVALIDATE_ENTRIES = 524_288;

  private static final int MAX_INVALIDATE_ENTRY_LEN = 4096;

  private final Context ctx;
  private final DirtyTracking dirty;

  HwptCommands(Context ctx) {
    this.ctx = ctx;
    this.dirty = new DirtyTracking(ctx.table);
  }

  // ---- IOMMU_HWPT_ALLOC (hw_pagetable.c: iommufd_hwpt_alloc()) -----------------------------

  /**
   * {@code IOMMU_HWPT_ALLOC}: a paging HWPT on an IOAS, or a nested one on a NEST_PARENT paging
   * HWPT. {@code selftestData} reads {@code struct iommu_hwpt_selftest} at {@code data_uptr}
   * (ErrnoException EFAULT if it cannot); {@code respond} writes {@code out_hwpt_id} and returns
   * false if that faulted, in which case the HWPT is destroyed again and the call fails with
   * EFAULT.
   */
  public int alloc(HwptAllocRequest r, IntSupplier selftestData, IntPredicate respond) {
    if (r.reserved() != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + Integer.toUnsignedString(r.reserved()));
    }
    if ((r.dataType() == IOMMU_HWPT_DATA_NONE) != (r.dataLen() == 0)) {
      throw ErrnoException.of(
          EINVAL,
          "data_type="
              + hex(Integer.toUnsignedLong(r.dataType()))
              + " data_len="
              + Integer.toUnsignedString(r.dataLen()));
    }
    Device device = (Device) ctx.table.get(r.devId(), ObjectType.DEVICE);
    IommufdObject pt = ctx.table.find(r.ptId());
    if (pt == null) {
      // Any pt_id lookup failure is EINVAL here, not ENOENT (main.c: iommufd_get_object()).
      throw ErrnoException.of(EINVAL, "no object with id " + Integer.toUnsignedString(r.ptId()));
    }
    HwptObject hwpt;
    if (pt instanceof IoasObject ioas) {
      hwpt = allocPaging(r, device, ioas);
    } else if (pt instanceof HwPagetable parent) {
      hwpt = allocNested(r, device, parent, selftestData);
    } else {
      throw ErrnoException.of(EINVAL, "pt_id " + r.ptId() + " is a " + pt.type());
    }
    boolean committed = false;
    try {
      if ((r.flags() & IOMMU_HWPT_FAULT_ID_VALID) != 0) {
        FaultObject fault = (FaultObject) ctx.table.get(r.faultId(), ObjectType.FAULT);
        ctx.table.addUser(fault);
        hwpt.fault = fault;
      }
      if (!respond.test(hwpt.id)) {
        throw ErrnoException.of(EFAULT, "cannot write out_hwpt_id");
      }
      committed = true;
    } finally {
      if (!committed) {
        hwpt.destroy();
        ctx.table.abort(hwpt);
      }
    }
    ctx.table.publish(hwpt);
    return hwpt.id;
  }

  /**
   * A mock paging domain, filled from the IOAS at once, pins taken now (hw_pagetable.c:
   * iommufd_hwpt_paging_alloc()).
   */
  private HwPagetable allocPaging(HwptAllocRequest r, Device device, IoasObject ioas) {
    int known = IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING;
    if ((r.flags() & ~known) != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(r.flags()) + " for a paging HWPT");
    }
    boolean dirtyTracking = (r.flags() & IOMMU_HWPT_ALLOC_DIRTY_TRACKING) != 0;
    if (device.hwData != null && (r.flags() & IOMMU_HWPT_ALLOC_NEST_PARENT) != 0) {
      // QEMU's VT-d has no nested translation (ecap NEST clear; intel/iommu.c:
      // intel_iommu_domain_alloc_user())
      throw ErrnoException.of(EOPNOTSUPP, "device " + device.id + " cannot be a nesting parent");
    }
    if (dirtyTracking && !device.dirtyCapable()) {
      throw ErrnoException.of(EOPNOTSUPP, "device " + device.id + " cannot track dirty pages");
    }
    if (r.dataLen() != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "a paging domain takes no driver data");
    }
    return HwPagetable.create(
        ctx.table,
        ioas,
        device.spec.newDomain(device.hugeIova(), dirtyTracking),
        false,
        (r.flags() & IOMMU_HWPT_ALLOC_NEST_PARENT) != 0);
  }

  /**
   * A mock nested domain with its four IOTLB slots (hw_pagetable.c: iommufd_hwpt_nested_alloc();
   * selftest.c: __mock_domain_alloc_nested()).
   */
  private NestedHwPagetable allocNested(
      HwptAllocRequest r, Device device, HwPagetable parent, IntSupplier selftestData) {
    if ((r.flags() & ~IOMMU_HWPT_FAULT_ID_VALID) != 0 || r.dataLen() == 0 || !device.isMock()) {
      throw ErrnoException.of(
          EOPNOTSUPP,
          "flags="
              + hex(r.flags())
              + " data_len="
              + Integer.toUnsignedString(r.dataLen())
              + " for a nested HWPT");
    }
    if (parent.auto
        || !parent.nestParent
        || !parent.domain.spec.equals(device.spec)
        || !(parent.domain instanceof MockDomain)) {
      throw ErrnoException.of(EINVAL, "hwpt " + parent.id + " cannot be a nesting parent");
    }
    // The mock driver's checks (selftest.c: mock_domain_alloc_user()); they fail before anything is
    // built, which the caller cannot tell from failing after the id was reserved.
    if (r.dataType() != IOMMU_HWPT_DATA_SELFTEST) {
      throw ErrnoException.of(EOPNOTSUPP, "data_type=" + hex(Integer.toUnsignedLong(r.dataType())));
    }
    if (r.dataLen() != IommuHwptSelftest.SIZE) {
      throw ErrnoException.of(EINVAL, "data_len=" + Integer.toUnsignedString(r.dataLen()));
    }
    int iotlb = selftestData.getAsInt();
    NestedHwPagetable hwpt = new NestedHwPagetable(ctx.table, parent, new MockNestedDomain(iotlb));
    ctx.table.reserve(hwpt);
    ctx.table.addUser(parent);
    return hwpt;
  }

  // ---- IOMMU_GET_HW_INFO (device.c: iommufd_get_hw_info()) ---------------------------------

  /**
   * {@code IOMMU_GET_HW_INFO} of a device: the mock driver's data, or the data of the hardware a
   * device bound by an outside driver sits behind (intel-iommu's for VFIO's devices). {@code
   * reserved} holds the three {@code __reserved} bytes; {@code inDataType} is only looked at with
   * the INPUT_TYPE flag of selftestCompat.
   */
  public HwInfoReport hwInfo(int flags, int devId, int reserved, int inDataType) {
    int known = ctx.selftestCompat() ? IOMMU_HW_INFO_FLAG_INPUT_TYPE : 0;
    if ((flags & ~known) != 0 || reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags) + " __reserved=" + hex(reserved));
    }
    Device device = (Device) ctx.table.get(devId, ObjectType.DEVICE);
    if (device.hwData != null) {
      return new HwInfoReport(
          IOMMU_HW_INFO_TYPE_INTEL_VTD, device.hwData, device.maxPasidLog2(), 0);
    }
    if (!device.isMock()) {
      // A driver without hardware data (device.c: iommufd_get_hw_info()): type NONE, no bytes.
      return new HwInfoReport(IOMMU_HW_INFO_TYPE_NONE, null, 0, 0);
    }
    if ((flags & IOMMU_HW_INFO_FLAG_INPUT_TYPE) != 0
        && inDataType != IOMMU_HW_INFO_TYPE_NONE
        && inDataType != IOMMU_HW_INFO_TYPE_SELFTEST) {
      throw ErrnoException.of(
          EOPNOTSUPP, "in_data_type=" + hex(Integer.toUnsignedLong(inDataType)));
    }
    return new HwInfoReport(
        IOMMU_HW_INFO_TYPE_SELFTEST,
        new HwInfoReport.SelftestData(0, IOMMU_HW_INFO_SELFTEST_REGVAL),
        device.maxPasidLog2(),
        device.dirtyCapable() ? IOMMU_HW_CAP_DIRTY_TRACKING : 0);
  }

  // ---- dirty tracking (hw_pagetable.c: iommufd_hwpt_{set_dirty_tracking,get_dirty_bitmap}()) ----

  /** {@code IOMMU_HWPT_SET_DIRTY_TRACKING}. */
  public void setDirtyTracking(int flags, int hwptId) {
    dirty.set(flags, hwptId);
  }

  /** {@code IOMMU_HWPT_GET_DIRTY_BITMAP}: sets bits in the caller's bitmap at {@code data}. */
  public void getDirtyBitmap(Caller caller, DirtyBitmapRequest r) {
    dirty.getBitmap(caller, r);
  }

  // ---- IOMMU_HWPT_INVALIDATE (hw_pagetable.c: iommufd_hwpt_invalidate()) -------------------

  /**
   * {@code IOMMU_HWPT_INVALIDATE}. {@code handled[0]} receives the number of requests applied,
   * which the caller writes back whatever the outcome.
   */
  public void invalidate(InvalidateRequest r, InvalidationReader reader, int[] handled) {
    handled[0] = 0;
    if (r.reserved() != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + Integer.toUnsignedString(r.reserved()));
    }
    if (r.entryNum() != 0
        && (r.dataUptr() == 0
            || r.entryLen() == 0
            || Integer.compareUnsigned(r.entryLen(), MAX_INVALIDATE_ENTRY_LEN) > 0
            || Integer.toUnsignedLong(r.entryNum()) > MAX_INVALIDATE_ENTRIES)) {
      throw ErrnoException.of(
          EINVAL,
          "data_uptr="
              + hex(r.dataUptr())
              + " entry_len="
              + Integer.toUnsignedString(r.entryLen())
              + " entry_num="
              + Integer.toUnsignedString(r.entryNum()));
    }
    NestedHwPagetable hwpt = (NestedHwPagetable) ctx.table.get(r.hwptId(), ObjectType.HWPT_NESTED);
    hwpt.domain.invalidate(r.dataType(), r.entryLen(), r.entryNum(), reader, handled);
  }

  // ---- IOMMU_FAULT_QUEUE_ALLOC (fault.c: iommufd_fault_alloc()) ----------------------------

  /**
   * {@code IOMMU_FAULT_QUEUE_ALLOC}: a FAULT object and its fd. If {@code respond} faults, the fd
   * number is released, the object destroyed and the call fails with EFAULT.
   */
  public FaultQueueIds faultQueueAlloc(int flags, FaultQueueIds.Responder respond) {
    if (flags != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    FaultObject fault = new FaultObject();
    ctx.table.reserve(fault);
    FaultFile file = new FaultFile(ctx, fault);
    int fd;
    try {
      fd = ctx.files.reserve();
    } catch (RuntimeException e) {
      file.release();
      fault.destroy();
      ctx.table.abort(fault);
      throw e;
    }
    FaultQueueIds queue = new FaultQueueIds(fault.id, fd);
    if (!respond.respond(queue)) {
      ctx.files.unreserve(fd);
      file.release();
      fault.destroy();
      ctx.table.abort(fault);
      throw ErrnoException.of(EFAULT, "cannot write out_fault_id and out_fault_fd");
    }
    ctx.table.publish(fault);
    ctx.files.install(fd, file);
    return queue;
  }

  // ---- invariants --------------------------------------------------------------------------

  /**
   * Reference counts of HWPTs and FAULT objects against their holders (main.c:
   * iommufd_object_remove()): a paging HWPT is held by its devices and nested children, a nested
   * one by its devices, a FAULT object by its HWPTs and its open fd.
   */
  List<String> checkReferences(List<IommufdObject> objects) {
    Map<IommufdObject, Integer> expected = new IdentityHashMap<>();
    for (IommufdObject o : objects) {
      if (o instanceof HwptObject || o instanceof FaultObject) {
        expected.merge(o, 1, Integer::sum);
      }
      if (o instanceof FaultObject f && f.fileOpen) {
        expected.merge(f, 1, Integer::sum);
      }
      if (o instanceof Device d && d.attached != null) {
        expected.merge(d.attached, 1, Integer::sum);
      }
      if (o instanceof HwptObject h && h.fault != null) {
        expected.merge(h.fault, 1, Integer::sum);
      }
      if (o instanceof NestedHwPagetable n) {
        expected.merge(n.parent, 1, Integer::sum);
      }
    }
    List<String> problems = new ArrayList<>();
    expected.forEach(
        (o, users) -> {
          if (o.users != users) {
            problems.add(
                o.type() + " " + o.id + " has " + o.users + " users, its holders make " + users);
          }
        });
    return problems;
  }
}
