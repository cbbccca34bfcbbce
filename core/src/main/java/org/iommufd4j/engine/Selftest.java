package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EIO;
import static org.iommufd4j.Errno.ENOENT;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_LAST_PAGE;
import static org.iommufd4j.uapi.IommuHwptPgfault.IOMMU_PGFAULT_FLAGS_PASID_VALID;
import static org.iommufd4j.uapi.IommuHwptSelftest.MOCK_NESTED_DOMAIN_IOTLB_ID_MAX;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_DEVICE_HUGE_IOVA;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_DEVICE_NO_DIRTY;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_DEVICE_PASID;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The ops of {@code IOMMU_TEST_CMD} (selftest.c: iommufd_test()) that drive the mock driver:
 * reserved ranges, mock devices and domains, and the checks the kernel selftests make on domains
 * and page pins.
 */
public final class Selftest {
  private static final int KNOWN_DEV_FLAGS =
      MOCK_FLAGS_DEVICE_NO_DIRTY | MOCK_FLAGS_DEVICE_HUGE_IOVA;
  private static final long PAGE_SIZE = PageSource.PAGE_SIZE;

  private final Context ctx;
  private final AccessTestCommands accesses;

  Selftest(Context ctx) {
    this.ctx = ctx;
    this.accesses = new AccessTestCommands(ctx);
  }

  /**
   * The access ops (CREATE_ACCESS, ACCESS_PAGES, ...; selftest.c: iommufd_test_create_access(),
   * ..., iommufd_test_access_replace_ioas()).
   */
  public AccessTestCommands accesses() {
    return accesses;
  }

  /** ADD_RESERVED (selftest.c: iommufd_test_add_reserved()). */
  public void addReserved(int ioasId, long start, long length) {
    if (length == 0) {
      throw ErrnoException.of(EINVAL, "length=0");
    }
    if (Unsigned.lastOverflows(start, length)) {
      throw ErrnoException.of(EOVERFLOW, "start=" + hex(start) + " length=" + hex(length));
    }
    IoasObject ioas = ctx.ioas(ioasId);
    ioas.lockLive();
    try {
      ioas.iopt.reserve(start, start + length - 1, ReservedRanges.TEST_OWNER);
    } finally {
      ioas.lock.unlock();
    }
  }

  /** The ids MOCK_DOMAIN reports. */
  public record MockDomainIds(int stdevId, int hwptId, int idevId) {}

  /** Writes MOCK_DOMAIN's outputs to the caller; false if that faulted. */
  @FunctionalInterface
  public interface MockDomainResponder {
    boolean respond(MockDomainIds ids);
  }

  /**
   * MOCK_DOMAIN and MOCK_DOMAIN_FLAGS (selftest.c: iommufd_test_mock_domain()): a new mock device
   * attached to {@code id}.
   */
  public MockDomainIds mockDomain(int id, int devFlags, MockDomainResponder respond) {
    ctx.attachLock.lock();
    try {
      Device device = new Device(ctx.table, ctx.host, devFlags, DomainSpec.SELFTEST_MOCK);
      MockDeviceObject stdev = new MockDeviceObject(ctx.table, ctx.attachLock, device);
      ctx.table.reserve(stdev);
      int known = KNOWN_DEV_FLAGS | (ctx.selftestCompat() ? MOCK_FLAGS_DEVICE_PASID : 0);
      if ((devFlags & ~known) != 0) {
        ctx.table.abort(stdev);
        throw ErrnoException.of(EINVAL, "dev_flags=" + hex(devFlags));
      }
      ctx.table.reserve(device);
      ctx.table.publish(device);
      MockDomainIds ids;
      try {
        IommufdObject target = ctx.table.find(id);
        if (target == null) {
          throw ErrnoException.of(ENOENT, "no object with id " + Integer.toUnsignedString(id));
        }
        HwptObject hwpt = device.attach(target);
        ids = new MockDomainIds(stdev.id, hwpt.id, device.id);
        if (!respond.respond(ids)) {
          throw ErrnoException.of(EFAULT, "cannot write the mock domain ids");
        }
      } catch (RuntimeException e) {
        device.detach();
        ctx.table.removeOwned(device);
        ctx.table.abort(stdev);
        throw e;
      }
      ctx.table.publish(stdev);
      return ids;
    } finally {
      ctx.attachLock.unlock();
    }
  }

  /**
   * MOCK_DOMAIN_REPLACE (selftest.c: iommufd_test_mock_domain_replace()); returns the id of the
   * HWPT now attached.
   */
  public int mockDomainReplace(int stdevId, int ptId) {
    ctx.attachLock.lock();
    try {
      MockDeviceObject stdev = (MockDeviceObject) ctx.table.get(stdevId, ObjectType.SELFTEST);
      IommufdObject target = ctx.table.find(ptId);
      if (target == null) {
        throw ErrnoException.of(ENOENT, "no object with id " + Integer.toUnsignedString(ptId));
      }
      return stdev.device.replace(target).id;
    } finally {
      ctx.attachLock.unlock();
    }
  }

  /**
   * MD_CHECK_MAP (selftest.c: iommufd_test_md_check_pa()): the domain maps each 2 KiB granule to
   * the caller's memory.
   */
  public void checkMap(Caller caller, int hwptId, long iova, long length, long uptr) {
    long g = MockDomain.GRANULE;
    if (((iova | length | uptr) & (g - 1)) != 0 || Unsigned.lt(uptr + length, uptr)) {
      throw ErrnoException.of(
          EINVAL, "iova=" + hex(iova) + " length=" + hex(length) + " uptr=" + hex(uptr));
    }
    HwPagetable hwpt = (HwPagetable) ctx.table.get(hwptId, ObjectType.HWPT_PAGING);
    if (!(hwpt.domain instanceof MockDomain domain)) {
      throw ErrnoException.of(EINVAL, "not a mock domain");
    }
    hwpt.ioas.lock.lock();
    try {
      for (long off = 0; off != length; off += g) {
        long va = uptr + off;
        if (!caller.memory().isPinnable(va & -PAGE_SIZE, PAGE_SIZE, false)) {
          throw ErrnoException.of(EFAULT, "cannot resolve user page at " + hex(va));
        }
        long expected = ctx.host.physicalAddress(caller.memory(), va);
        if (domain.translate(iova + off) != expected) {
          throw ErrnoException.of(EINVAL, "iova " + hex(iova + off) + " does not map " + hex(va));
        }
      }
    } finally {
      hwpt.ioas.lock.unlock();
    }
  }

  /** Largest number of bits DIRTY takes (16 Mi bytes of bitmap). */
  private static final long DIRTY_MAX_BITS = 134_217_728L;

  /**
   * DIRTY (selftest.c: iommufd_test_dirty()): marks the entries a bitmap at {@code uptr} selects
   * dirty, as device writes would; returns how many existed ({@code out_nr_dirty}).
   */
  public long dirty(Caller caller, int hwptId, long iova, long length, long pageSize, long uptr) {
    if (pageSize == 0
        || length == 0
        || Long.remainderUnsigned(iova, pageSize) != 0
        || Long.remainderUnsigned(length, pageSize) != 0
        || uptr == 0) {
      throw ErrnoException.of(
          EINVAL,
          "iova="
              + hex(iova)
              + " length="
              + hex(length)
              + " page_size="
              + hex(pageSize)
              + " uptr="
              + hex(uptr));
    }
    long max = Long.divideUnsigned(length, pageSize);
    if (Long.compareUnsigned(max, DIRTY_MAX_BITS) > 0) {
      throw ErrnoException.of(EOVERFLOW, "length / page_size=" + max);
    }
    HwPagetable hwpt = (HwPagetable) ctx.table.get(hwptId, ObjectType.HWPT_PAGING);
    if (!(hwpt.domain instanceof MockDomain domain)) {
      throw ErrnoException.of(EINVAL, "not a mock domain");
    }
    hwpt.ioas.lock.lock();
    try {
      if (!domain.isDirtyTracking()) {
        throw ErrnoException.of(EINVAL, "dirty tracking is off on hwpt " + hwptId);
      }
      byte[] bits = new byte[(int) ((max + 7) / 8)];
      if (!caller.memory().read(uptr, MemorySegment.ofArray(bits))) {
        throw ErrnoException.of(EFAULT, "bitmap at " + hex(uptr) + " unreadable");
      }
      long count = 0;
      for (int b = 0; b < bits.length; b++) {
        for (int bit = 0; bits[b] != 0 && bit < 8; bit++) {
          long i = b * 8L + bit;
          if ((bits[b] & (1 << bit)) != 0 && i < max) {
            // The entry number divides by page_size, not by the 2 KiB granule (selftest.c:
            // iommufd_test_dirty()).
            long index = Long.divideUnsigned(iova + i * pageSize, pageSize);
            if (domain.markDirty(index)) {
              count++;
            }
          }
        }
      }
      return count;
    } finally {
      hwpt.ioas.lock.unlock();
    }
  }

  /**
   * MD_CHECK_IOTLB (selftest.c: iommufd_test_md_check_iotlb()): slot {@code slot} of a mock nested
   * domain holds {@code expected}.
   */
  public void checkIotlb(int hwptId, int slot, int expected) {
    NestedHwPagetable hwpt = (NestedHwPagetable) ctx.table.get(hwptId, ObjectType.HWPT_NESTED);
    if (Integer.compareUnsigned(slot, MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) > 0) {
      throw ErrnoException.of(EINVAL, "iotlb slot " + Integer.toUnsignedString(slot));
    }
    int actual = hwpt.domain.iotlb(slot);
    if (actual != expected) {
      throw ErrnoException.of(
          EINVAL,
          "iotlb["
              + slot
              + "]="
              + hex(Integer.toUnsignedLong(actual))
              + ", expected "
              + hex(Integer.toUnsignedLong(expected)));
    }
  }

  /**
   * TRIGGER_IOPF (selftest.c: iommufd_test_trigger_iopf()): the mock device {@code devId} reports a
   * one-fault group through its attachment; it is dropped silently when that HWPT routes no faults.
   */
  public void triggerIopf(int devId, int pasid, int grpid, int perm, long addr) {
    Device device = (Device) ctx.table.get(devId, ObjectType.DEVICE);
    if (!device.isMock()) {
      throw ErrnoException.of(EINVAL, "device " + devId + " is not a mock device");
    }
    int flags = IOMMU_PGFAULT_FLAGS_LAST_PAGE | (pasid != 0 ? IOMMU_PGFAULT_FLAGS_PASID_VALID : 0);
    ctx.attachLock.lock();
    try {
      HwptObject hwpt = device.attached;
      // With a PASID only a nested attachment takes it: the mock keeps PASID tables in user space.
      if (hwpt == null
          || hwpt.fault == null
          || (pasid != 0 && !(hwpt instanceof NestedHwPagetable))) {
        return;
      }
      hwpt.fault.report(
          new FaultObject.Group(
              device, List.of(new FaultObject.PageFault(flags, pasid, grpid, perm, addr))));
    } finally {
      ctx.attachLock.unlock();
    }
  }

  /**
   * MD_CHECK_REFS (selftest.c: iommufd_test_md_check_refs()): every page's pin count equals {@code
   * refs}.
   */
  public void checkRefs(Caller caller, long length, long uptr, int refs) {
    if (((length | uptr) & (PAGE_SIZE - 1)) != 0 || Unsigned.lt(uptr + length, uptr)) {
      throw ErrnoException.of(EINVAL, "length=" + hex(length) + " uptr=" + hex(uptr));
    }
    for (long off = 0; off != length; off += PAGE_SIZE) {
      long va = uptr + off;
      if (!caller.memory().isPinnable(va, PAGE_SIZE, false)) {
        throw ErrnoException.of(EFAULT, "cannot resolve user page at " + hex(va));
      }
      long pins = ctx.host.pinCount(caller.memory(), va);
      if (pins != Integer.toUnsignedLong(refs)) {
        throw ErrnoException.of(
            EIO,
            "page " + hex(va) + " has " + pins + " pins, expected " + Integer.toUnsignedLong(refs));
      }
    }
  }

  /**
   * SET_TEMP_MEMORY_LIMIT (selftest.c: iommufd_test()): range-checked; it only changes how the
   * kernel batches.
   */
  public void setTempMemoryLimit(int limit) {
    if (Integer.compareUnsigned(limit, 12) < 0) {
      throw ErrnoException.of(EINVAL, "limit=" + limit);
    }
    ctx.host.setTempMemoryLimit(limit);
  }
}
