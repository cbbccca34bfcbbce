package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EBADF;
import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EPERM;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_HUGE_PAGES;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_GET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_SET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_RLIMIT_MODE;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.iommufd4j.inspect.Snapshot;

/**
 * One open {@code /dev/iommu} (main.c: iommufd_fops_open()), what the kernel's {@code main.c} is:
 * the object table, the file's lifetime, {@code IOMMU_DESTROY} and {@code IOMMU_OPTION}, and the
 * command families every other ioctl goes to: {@link #ioas()}, {@link #hwpt()}, {@link #vfio()},
 * {@link #selftest()} (the test ABI) and {@link #devices()} (devices of the typed API). Both front
 * doors use the families the same way: the byte ABI ({@code uapi.Dispatcher}) decodes a struct and
 * calls one family method; the typed API calls the same method with Java values. Thread safe.
 */
public final class Context {
  final ObjectTable table = new ObjectTable();
  final Host host;
  final FileTable files;

  /** Serializes device attach, replace, detach and unbind in this context, and snapshots. */
  final ReentrantLock attachLock = new ReentrantLock();

  private final boolean testAbi;
  private final boolean selftestCompat;
  private final IoasCommands ioas;
  private final HwptCommands hwpt;
  private final VfioCompat vfio;
  private final Selftest selftest;
  private final DeviceCommands devices;
  private volatile boolean mmAccounting;
  private volatile boolean closed;

  /**
   * References to the file (main.c: iommufd_fops_release()): its own descriptor until {@link
   * #close()}, plus one per internal holder (each ACCESS object, each open fault fd); the context
   * is torn down when the last goes. Guarded by {@code this}.
   */
  private int fileRefs = 1;

  private volatile boolean tornDown;

  /**
   * @param host the emulated machine (pins and memory-lock accounts are shared across its contexts)
   * @param files where descriptors of access and fault files come from
   * @param testAbi whether the kernel has {@code IOMMUFD_TEST} (main.c: iommufd_fops_ioctl();
   *     selftest.c: iommufd_test())
   * @param vfioContainer opened as {@code /dev/vfio/vfio}: starts in MM accounting (main.c:
   *     iommufd_fops_open())
   */
  public Context(Host host, FileTable files, boolean testAbi, boolean vfioContainer) {
    this(host, files, testAbi, vfioContainer, false);
  }

  /**
   * @param selftestCompat accept what the selftest sources shipped with 6.12.117 need from later
   *     kernels: the PASID mock device flag and GET_HW_INFO's INPUT_TYPE flag
   */
  public Context(
      Host host, FileTable files, boolean testAbi, boolean vfioContainer, boolean selftestCompat) {
    this.host = host;
    this.files = files;
    this.testAbi = testAbi;
    this.mmAccounting = vfioContainer;
    this.selftestCompat = selftestCompat;
    this.ioas = new IoasCommands(this);
    this.hwpt = new HwptCommands(this);
    this.vfio = new VfioCompat(ioas);
    this.selftest = new Selftest(this);
    this.devices = new DeviceCommands(this);
  }

  // ---- the command families ----------------------------------------------------------------

  /** IOAS_ALLOC, IOVA_RANGES, ALLOW_IOVAS, MAP, COPY and UNMAP (ioas.c). */
  public IoasCommands ioas() {
    return ioas;
  }

  /**
   * HWPT_ALLOC, GET_HW_INFO, dirty tracking, HWPT_INVALIDATE and FAULT_QUEUE_ALLOC (hw_pagetable.c:
   * iommufd_hwpt_alloc(), iommufd_hwpt_set_dirty_tracking(), iommufd_hwpt_get_dirty_bitmap(),
   * iommufd_hwpt_invalidate(); device.c: iommufd_get_hw_info(); fault.c: iommufd_fault_alloc()).
   */
  public HwptCommands hwpt() {
    return hwpt;
  }

  /**
   * IOMMU_VFIO_IOAS (vfio_compat.c: iommufd_vfio_ioas()) and the VFIO type-1 compatibility commands
   * (vfio_compat.c: iommufd_vfio_ioctl()).
   */
  public VfioCompat vfio() {
    return vfio;
  }

  /** The {@code IOMMU_TEST_CMD} ops (only reachable when {@link #testAbi()}). */
  public Selftest selftest() {
    return selftest;
  }

  /** Emulated devices of the typed API: bind, attach, DMA. */
  public DeviceCommands devices() {
    return devices;
  }

  // ---- configuration -------------------------------------------------------------------------

  /** The emulated machine this context belongs to. */
  public Host host() {
    return host;
  }

  public boolean testAbi() {
    return testAbi;
  }

  /** Whether the selftest-compatibility extension is on. */
  public boolean selftestCompat() {
    return selftestCompat;
  }

  AccountingMode accountingMode(Caller caller) {
    if (caller.capIpcLock()) {
      return AccountingMode.NONE;
    }
    return mmAccounting ? AccountingMode.MM : AccountingMode.USER;
  }

  // ---- object lifetime (main.c) ------------------------------------------------------------

  /** Whether {@link #close()} has run: the descriptor is gone (the context may still live). */
  public boolean isClosed() {
    return closed;
  }

  /**
   * Whether the last reference to the file went and every object was destroyed (main.c:
   * iommufd_fops_release()).
   */
  public boolean isTornDown() {
    return tornDown;
  }

  IoasObject ioas(int id) {
    return (IoasObject) table.get(id, ObjectType.IOAS);
  }

  /** {@code IOMMU_DESTROY} (main.c: iommufd_destroy()). */
  public void destroy(int id) {
    destroy(id, null);
  }

  /** DESTROY through a typed handle: only if {@code id} still names {@code object}. */
  public void destroy(int id, IommufdObject object) {
    IommufdObject o = table.remove(id, object);
    vfio.forget(o);
    o.destroy();
  }

  /**
   * {@code close()} of the iommufd's own descriptor. The context is torn down (main.c:
   * iommufd_fops_release()) at once, or, while an access still holds the file, when that access
   * goes. Idempotent; never fails.
   */
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    // The compat IOAS stays while the file lives on: a VFIO group holding this container still
    // opens devices onto it (vfio_compat.c: ictx->vfio_ioas goes with the context).
    putFile();
  }

  /**
   * An internal holder (an access, device.c: iommufd_access_create()) takes a reference to the
   * file; EBADF once torn down.
   */
  void getFile() {
    synchronized (this) {
      if (fileRefs == 0) {
        throw ErrnoException.of(EBADF, "the iommufd is gone");
      }
      fileRefs++;
    }
  }

  /**
   * Something outside iommufd holds the file, as VFIO does with iommufd_ctx_get() (a group whose
   * container this context is): the context outlives its descriptor until {@link #releaseFile()}.
   *
   * @throws ErrnoException EBADF once the context is torn down
   */
  public void retainFile() {
    getFile();
  }

  /** Drops what {@link #retainFile()} took (iommufd_ctx_put()); may tear the context down. */
  public void releaseFile() {
    putFile();
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

  /**
   * The last reference went (main.c: iommufd_fops_release()): objects are destroyed in passes,
   * ascending by id.
   */
  private void tearDown() {
    vfio.clearCompatIoas();
    for (IommufdObject o : table.snapshot()) {
      if (o instanceof Device d && d.boundByApi) {
        devices.unbind(d.id); // the typed API is the driver: it lets go of its devices first
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

  // ---- IOMMU_OPTION (main.c: iommufd_option()) -----------------------------------------------

  /** {@code IOMMU_OPTION} (main.c: iommufd_option()); returns the {@code val64} to write back. */
  public long option(Caller caller, int optionId, int op, int reserved, int objectId, long val64) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    switch (optionId) {
      case IOMMU_OPTION_RLIMIT_MODE:
        return rlimitModeOption(caller, op, objectId, val64);
      case IOMMU_OPTION_HUGE_PAGES:
        return ioas.hugePagesOption(op, objectId, val64);
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

  // ---- observability -----------------------------------------------------------------------

  /** Every invariant violation found across the context's IOASes (empty when all hold). */
  public List<String> checkInvariants() {
    List<String> problems = new ArrayList<>();
    for (IommufdObject o : table.snapshot()) {
      if (o instanceof IoasObject ioasObject) {
        ioasObject.lock.lock();
        try {
          String p = ioasObject.iopt.checkInvariants();
          if (p != null) {
            problems.add("ioas " + ioasObject.id + ": " + p);
          }
        } finally {
          ioasObject.lock.unlock();
        }
      }
    }
    problems.addAll(hwpt.checkReferences(table.snapshot()));
    return problems;
  }

  /**
   * The context's state as values (iommufd_private.h: struct io_pagetable): objects, IOASes with
   * their ranges, areas and page sources, HWPTs, devices, accesses, fault queues and the host's
   * pins and charges. Each IOAS is read under its lock; see {@link Snapshot}. Works after {@link
   * #close()} too.
   */
  public Snapshot snapshot() {
    return SnapshotWalker.take(this);
  }

  /**
   * The whole state as text: {@link Snapshot#toTable()} of {@link #snapshot()}, one row per fact in
   * a stable order. Two states are equal exactly when their descriptions are; the fault sweep
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
