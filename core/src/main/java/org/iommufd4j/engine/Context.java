package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENODEV;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EPERM;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_HUGE_PAGES;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_GET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_SET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_RLIMIT_MODE;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_CLEAR;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_GET;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_SET;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;
import org.iommufd4j.Errno;
import org.iommufd4j.IovaRanges;
import org.iommufd4j.inspect.Snapshot;

/**
 * One open {@code /dev/iommu} (spec §2.1): the object table, the accounting mode and the
 * VFIO-compatibility IOAS, and the entry point of every command. Thread safe.
 */
public final class Context {
  final ObjectTable table = new ObjectTable();
  private final IoasCommands ioasCommands = new IoasCommands(this);
  private final Selftest selftest = new Selftest(this);
  private final HwptCommands hwptCommands = new HwptCommands(this);
  private final VfioCompat vfioCompat = new VfioCompat(this, ioasCommands);
  private final boolean testAbi;
  private final boolean selftestCompat;
  final Host host;
  final FileTable files;
  private volatile boolean mmAccounting;
  /** The IOAS the VFIO compatibility commands use; guarded by {@code this}. */
  private IoasObject compatIoas;
  private volatile boolean closed;
  /**
   * References to the file (§2.8): its own descriptor until {@link #close()}, plus one per
   * internal holder (each ACCESS object, each open fault fd); the context is torn down when the last goes. Guarded by
   * {@code this}.
   */
  private int fileRefs = 1;
  private volatile boolean tornDown;

  /**
   * @param host the emulated machine (pins and memory-lock accounts are shared across its contexts)
   * @param files where descriptors of access and fault files come from
   * @param testAbi whether the kernel has {@code IOMMUFD_TEST} (§1.4, §6)
   * @param vfioContainer opened as {@code /dev/vfio/vfio}: starts in MM accounting (§1.2)
   */
  public Context(Host host, FileTable files, boolean testAbi, boolean vfioContainer) {
    this(host, files, testAbi, vfioContainer, false);
  }

  /**
   * @param selftestCompat accept what the selftest sources shipped with 6.12.117 need from later
   *     kernels (§6.7): the PASID mock device flag and GET_HW_INFO's INPUT_TYPE flag
   */
  public Context(Host host, FileTable files, boolean testAbi, boolean vfioContainer,
      boolean selftestCompat) {
    this.host = host;
    this.files = files;
    this.testAbi = testAbi;
    this.mmAccounting = vfioContainer;
    this.selftestCompat = selftestCompat;
  }

  /** The {@code IOMMU_TEST_CMD} ops (only reachable when {@link #testAbi()}). */
  public Selftest selftest() {
    return selftest;
  }

  /** The emulated machine this context belongs to. */
  public Host host() {
    return host;
  }

  /** The VFIO type-1 compatibility commands (§7.7) on this context's compat IOAS. */
  public VfioCompat vfioCompat() {
    return vfioCompat;
  }

  public boolean testAbi() {
    return testAbi;
  }

  /** Whether the selftest-compatibility extension of §6.7 is on. */
  public boolean selftestCompat() {
    return selftestCompat;
  }

  /** HWPT_ALLOC, GET_HW_INFO, dirty tracking, HWPT_INVALIDATE and FAULT_QUEUE_ALLOC (§7.1-§7.6). */
  public HwptCommands hwpt() {
    return hwptCommands;
  }

  /** Whether {@link #close()} has run: the descriptor is gone (the context may still live). */
  public boolean isClosed() {
    return closed;
  }

  /** Whether the last reference to the file went and every object was destroyed (§2.8). */
  public boolean isTornDown() {
    return tornDown;
  }

  IoasObject ioas(int id) {
    return (IoasObject) table.get(id, ObjectType.IOAS);
  }

  /** The IOAS {@code id}, for typed handles; ENOENT if there is none. */
  public IoasObject lookupIoas(int id) {
    return ioas(id);
  }

  AccountingMode accountingMode(Caller caller) {
    if (caller.capIpcLock()) {
      return AccountingMode.NONE;
    }
    return mmAccounting ? AccountingMode.MM : AccountingMode.USER;
  }

  // ---- object lifetime (§2) ----------------------------------------------------------------

  /**
   * {@code IOMMU_IOAS_ALLOC} (§3.1). {@code respond} writes the id to the caller and returns false
   * if that faulted; the IOAS is then destroyed again and the call fails with EFAULT.
   */
  public int ioasAlloc(int flags, IntPredicate respond) {
    if (flags != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    IoasObject ioas = new IoasObject(host);
    table.reserve(ioas);
    if (!respond.test(ioas.id)) {
      table.abort(ioas);
      throw ErrnoException.of(EFAULT, "cannot write out_ioas_id");
    }
    table.publish(ioas);
    return ioas.id;
  }

  /** {@code IOMMU_DESTROY} (§2.5). */
  public void destroy(int id) {
    destroy(id, null);
  }

  /** DESTROY through a typed handle: only if {@code id} still names {@code object}. */
  public void destroy(int id, IommufdObject object) {
    IommufdObject o = table.remove(id, object);
    synchronized (this) {
      if (compatIoas == o) {
        compatIoas = null;
      }
    }
    o.destroy();
  }

  /**
   * {@code close()} of the iommufd's own descriptor. The context is torn down (§2.8) at once, or,
   * while an access still holds the file, when that access goes. Idempotent; never fails.
   */
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      compatIoas = null;
    }
    putFile();
  }

  /** An internal holder (an access, §5.1) takes a reference to the file; EBADF once torn down. */
  void getFile() {
    synchronized (this) {
      if (fileRefs == 0) {
        throw ErrnoException.of(Errno.EBADF, "the iommufd is gone");
      }
      fileRefs++;
    }
  }

  /** Drops a reference to the file; the last one tears the context down. */
  void putFile() {
    synchronized (this) {
      if (--fileRefs > 0) {
        return;
      }
    }
    tearDown();
  }

  /** The last reference went (§2.8): objects are destroyed in passes, ascending by id. */
  private void tearDown() {
    synchronized (this) {
      compatIoas = null;
    }
    for (IommufdObject o : table.snapshot()) {
      if (o instanceof Device d && d.boundByApi) {
        unbindDevice(d.id); // the typed API is the driver: it lets go of its devices first
      }
    }
    while (true) {
      List<IommufdObject> gone = table.removeUnreferenced();
      if (gone.isEmpty()) {
        break;
      }
      for (IommufdObject o : gone) {
        o.destroy();
      }
    }
    tornDown = true;
  }

  // ---- IOAS commands (§3) --------------------------------------------------------------------

  public IovaRanges iovaRanges(int ioasId, int reserved) {
    return ioasCommands.iovaRanges(ioasId, reserved);
  }

  public void allowIovas(int ioasId, int reserved, int count, RangeReader reader) {
    ioasCommands.allowIovas(ioasId, reserved, count, reader);
  }

  public long map(Caller caller, MapRequest request) {
    return ioasCommands.map(caller, request);
  }

  public long copy(Caller caller, CopyRequest request) {
    return ioasCommands.copy(caller, request);
  }

  public long unmap(int ioasId, long iova, long length) {
    return ioasCommands.unmap(ioasId, iova, length);
  }

  /** {@code IOMMU_OPTION} (§3.9); returns the {@code val64} to write back. */
  public long option(Caller caller, int optionId, int op, int reserved, int objectId, long val64) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    switch (optionId) {
      case IOMMU_OPTION_RLIMIT_MODE:
        return rlimitModeOption(caller, op, objectId, val64);
      case IOMMU_OPTION_HUGE_PAGES:
        return ioasCommands.hugePagesOption(op, objectId, val64);
      default:
        throw ErrnoException.of(EOPNOTSUPP, "option_id=" + Integer.toUnsignedString(optionId));
    }
  }

  private long rlimitModeOption(Caller caller, int op, int objectId, long val64) {
    if (objectId != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "object_id=" + Integer.toUnsignedString(objectId));
    }
    switch (op) {
      case IOMMU_OPTION_OP_GET:
        return mmAccounting ? 1 : 0;
      case IOMMU_OPTION_OP_SET:
        if (!caller.capSysResource()) {
          throw ErrnoException.of(EPERM, "RLIMIT_MODE SET needs CAP_SYS_RESOURCE");
        }
        synchronized (this) {
          if (table.hasObjects()) {
            throw ErrnoException.of(EBUSY, "RLIMIT_MODE SET on a context with objects");
          }
          if (val64 != 0 && val64 != 1) {
            throw ErrnoException.of(EINVAL, "RLIMIT_MODE val64=" + hex(val64));
          }
          mmAccounting = val64 == 1;
        }
        return val64;
      default:
        throw ErrnoException.of(EOPNOTSUPP, "op=" + op);
    }
  }

  /** {@code IOMMU_VFIO_IOAS} (§3.10); returns the compat IOAS id for GET, else 0. */
  public int vfioIoas(int op, int reserved, int ioasId) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    switch (op) {
      case IOMMU_VFIO_IOAS_GET:
        synchronized (this) {
          if (compatIoas == null) {
            throw ErrnoException.of(ENODEV, "no VFIO compatibility IOAS");
          }
          return compatIoas.id;
        }
      case IOMMU_VFIO_IOAS_SET:
        IoasObject ioas = ioas(ioasId);
        synchronized (this) {
          compatIoas = ioas;
        }
        return 0;
      case IOMMU_VFIO_IOAS_CLEAR:
        synchronized (this) {
          compatIoas = null;
        }
        return 0;
      default:
        throw ErrnoException.of(EOPNOTSUPP, "op=" + op);
    }
  }

  // ---- emulated devices of the typed API (issue 4 item 8) ---------------------------------

  private Device device(int devId) {
    return (Device) table.get(devId, ObjectType.DEVICE);
  }

  /** Binds a new emulated device behind {@code spec} hardware; returns its DEVICE id. */
  public int bindDevice(DomainSpec spec) {
    Device d = new Device(this, 0, spec);
    d.boundByApi = true;
    table.reserve(d);
    table.publish(d);
    return d.id;
  }

  /** Attaches device {@code devId} to an IOAS or HWPT; returns the HWPT id used (§2.7). */
  public int attachDevice(int devId, int ptId) {
    selftest.attachLock.lock();
    try {
      Device d = device(devId);
      IommufdObject target = table.find(ptId);
      if (target == null) {
        throw ErrnoException.of(org.iommufd4j.Errno.ENOENT, "no object with id " + ptId);
      }
      return (d.attached == null ? d.attach(target) : d.replace(target)).id;
    } finally {
      selftest.attachLock.unlock();
    }
  }

  /** Detaches device {@code devId}: its DMA is blocked until it attaches again. */
  public void detachDevice(int devId) {
    selftest.attachLock.lock();
    try {
      device(devId).detach();
    } finally {
      selftest.attachLock.unlock();
    }
  }

  /** Detaches and unbinds device {@code devId} (its id becomes free). */
  public void unbindDevice(int devId) {
    selftest.attachLock.lock();
    try {
      Device d = device(devId);
      d.detach();
      table.removeOwned(d);
    } finally {
      selftest.attachLock.unlock();
    }
  }

  /** The HWPT id device {@code devId} is attached to, or 0. */
  public int attachedHwpt(int devId) {
    Hwpt h = device(devId).attached;
    return h == null ? 0 : h.id;
  }

  /** The user address {@code iova} reaches through device {@code devId}'s domain, or -1. */
  public long translate(int devId, long iova) {
    return device(devId).translate(iova);
  }

  /** DMA by device {@code devId}; {@link DmaFault} when the IOMMU refuses it. */
  public void dma(int devId, long iova, java.lang.foreign.MemorySegment buffer, boolean write) {
    device(devId).dma(iova, buffer, write);
  }

  /** The compat IOAS for the VFIO commands (§7.7): ENODEV if none is set (or it was destroyed). */
  IoasObject compatIoas() {
    synchronized (this) {
      if (compatIoas == null) {
        throw ErrnoException.of(ENODEV, "no VFIO compatibility IOAS");
      }
      return compatIoas;
    }
  }

  // ---- observability -----------------------------------------------------------------------

  /** Every invariant violation found across the context's IOASes (empty when all hold). */
  public List<String> checkInvariants() {
    List<String> problems = new ArrayList<>();
    for (IommufdObject o : table.snapshot()) {
      if (o instanceof IoasObject ioas) {
        ioas.lock.lock();
        try {
          String p = ioas.iopt.checkInvariants();
          if (p != null) {
            problems.add("ioas " + ioas.id + ": " + p);
          }
        } finally {
          ioas.lock.unlock();
        }
      }
    }
    problems.addAll(hwptCommands.checkReferences(table.snapshot()));
    return problems;
  }

  /** Every published object, ascending by id (package-private: for inspection by tests). */
  List<IommufdObject> objects() {
    return table.snapshot();
  }

  /**
   * The context's state as values (spec §4.1): objects, IOASes with their ranges, areas and page
   * sources, HWPTs, devices, accesses, fault queues and the host's pins and charges. Each IOAS is
   * read under its lock; see {@link Snapshot}. Works after {@link #close()} too.
   */
  public Snapshot snapshot() {
    return SnapshotWalker.take(this);
  }

  /**
   * The whole state as text: {@link Snapshot#toTable()} of {@link #snapshot()}, one row per fact
   * in a stable order. Two states are equal exactly when their descriptions are; the fault sweep
   * compares them around every failed call.
   */
  public String describe() {
    return snapshot().toTable();
  }

  /** Number of published objects (0 after the teardown). */
  public int objectCount() {
    return table.snapshot().size();
  }
}
