package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.EBADF;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EPERM;
import static org.iommufd4j.engine.Unsigned.hex;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import org.iommufd4j.inspect.Snapshot;

/**
 * One open {@code /dev/iommu} (spec §2.1), what the kernel's {@code main.c} is: the object table,
 * the file's lifetime, {@code IOMMU_DESTROY} and {@code IOMMU_OPTION}, and the command families
 * every other ioctl goes to: {@link #ioas()}, {@link #hwpt()}, {@link #vfio()}, {@link
 * #selftest()} (the test ABI) and {@link #devices()} (devices of the typed API). Both front doors
 * use the families the same way: the byte ABI ({@code uapi.Dispatcher}) decodes a struct and calls
 * one family method; the typed API calls the same method with Java values. Thread safe.
 */
public final class Context {
  public static final int OPTION_RLIMIT_MODE = 0;
  public static final int OPTION_HUGE_PAGES = 1;
  public static final int OPTION_OP_SET = 0;
  public static final int OPTION_OP_GET = 1;
  public static final int VFIO_IOAS_GET = 0;
  public static final int VFIO_IOAS_SET = 1;
  public static final int VFIO_IOAS_CLEAR = 2;

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
   * References to the file (§2.8): its own descriptor until {@link #close()}, plus one per
   * internal holder (each ACCESS object, each open fault fd); the context is torn down when the
   * last goes. Guarded by {@code this}.
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
    this.ioas = new IoasCommands(this);
    this.hwpt = new HwptCommands(this);
    this.vfio = new VfioCompat(ioas);
    this.selftest = new Selftest(this);
    this.devices = new DeviceCommands(table, host, attachLock);
  }

  // ---- the command families ----------------------------------------------------------------

  /** IOAS_ALLOC, IOVA_RANGES, ALLOW_IOVAS, MAP, COPY and UNMAP (§3). */
  public IoasCommands ioas() {
    return ioas;
  }

  /** HWPT_ALLOC, GET_HW_INFO, dirty tracking, HWPT_INVALIDATE and FAULT_QUEUE_ALLOC (§7.1-§7.6). */
  public HwptCommands hwpt() {
    return hwpt;
  }

  /** IOMMU_VFIO_IOAS (§3.10) and the VFIO type-1 compatibility commands (§7.7). */
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

  /** Whether the selftest-compatibility extension of §6.7 is on. */
  public boolean selftestCompat() {
    return selftestCompat;
  }

  AccountingMode accountingMode(Caller caller) {
    if (caller.capIpcLock()) {
      return AccountingMode.NONE;
    }
    return mmAccounting ? AccountingMode.MM : AccountingMode.USER;
  }

  // ---- object lifetime (§2) ----------------------------------------------------------------

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

  /** {@code IOMMU_DESTROY} (§2.5). */
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
   * {@code close()} of the iommufd's own descriptor. The context is torn down (§2.8) at once, or,
   * while an access still holds the file, when that access goes. Idempotent; never fails.
   */
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    vfio.clearCompatIoas();
    putFile();
  }

  /** An internal holder (an access, §5.1) takes a reference to the file; EBADF once torn down. */
  void getFile() {
    synchronized (this) {
      if (fileRefs == 0) {
        throw ErrnoException.of(EBADF, "the iommufd is gone");
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

  // ---- IOMMU_OPTION (§3.9) -------------------------------------------------------------------

  /** {@code IOMMU_OPTION} (§3.9); returns the {@code val64} to write back. */
  public long option(Caller caller, int optionId, int op, int reserved, int objectId, long val64) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    switch (optionId) {
      case OPTION_RLIMIT_MODE:
        return rlimitModeOption(caller, op, objectId, val64);
      case OPTION_HUGE_PAGES:
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
      case OPTION_OP_GET:
        return mmAccounting ? 1 : 0;
      case OPTION_OP_SET:
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
