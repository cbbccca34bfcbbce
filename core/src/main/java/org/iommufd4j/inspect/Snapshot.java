package org.iommufd4j.inspect;

import java.util.List;
import java.util.Objects;
import org.iommufd4j.IovaRange;

/**
 * The state of one iommufd context at one moment, as immutable values: its objects, every IOAS
 * (alignment, allowed and reserved ranges with their owners, areas with their page sources and
 * pins), the HWPTs with their domains, devices, accesses, fault queues, the page sources behind the
 * areas, and the machine's pins and memory-lock accounts (io_pagetable.h: struct iopt_pages;
 * io_pagetable.c: iopt_reserve_iova(); pages.c: iopt_area_fill_domains(), do_update_pinned()).
 *
 * <p>Taken by {@link org.iommufd4j.Iommufd#inspect()}. Each IOAS is read under its lock together
 * with the HWPTs built on it and the access pins in it, so what one IOAS shows is consistent;
 * devices and their attachments are read under the context's attach lock. Different IOASes may be
 * read a moment apart while other threads keep working.
 *
 * <p>All u64 values (IOVAs, addresses, page-size bitmaps) are carried in {@code long}s and compare
 * unsigned; {@code last} is inclusive. Ids are the context's object ids; 0 means none. Page sources
 * are numbered from 1 in order of first appearance (IOASes ascending, areas ascending), so two
 * snapshots of equal states are equal.
 *
 * <p>Renderings: {@link #toTable()} (aligned text, what {@code ./run.sh inspect} prints), {@link
 * #toJson()} (stable field names, read back by {@link #fromJson}) and {@link #toSvg()} (a map of
 * each IOVA space).
 *
 * @param closed whether the context's own descriptor was closed
 * @param tornDown whether the last reference went and every object was destroyed (main.c:
 *     iommufd_fops_release())
 */
public record Snapshot(
    boolean closed,
    boolean tornDown,
    List<ObjectEntry> objects,
    List<IoasState> ioases,
    List<HwptState> hwpts,
    List<DeviceState> devices,
    List<AccessState> accesses,
    List<FaultQueueState> faultQueues,
    List<PageSourceState> pageSources,
    HostState host) {

  public Snapshot {
    objects = List.copyOf(objects);
    ioases = List.copyOf(ioases);
    hwpts = List.copyOf(hwpts);
    devices = List.copyOf(devices);
    accesses = List.copyOf(accesses);
    faultQueues = List.copyOf(faultQueues);
    pageSources = List.copyOf(pageSources);
    Objects.requireNonNull(host, "host");
  }

  /**
   * Object types of the id space (iommufd_private.h: enum iommufd_object_type), with the kernel's
   * names.
   */
  public enum ObjectType {
    IOAS,
    HWPT_PAGING,
    HWPT_NESTED,
    DEVICE,
    ACCESS,
    FAULT,
    SELFTEST
  }

  /**
   * One object of the table.
   *
   * @param users references: 1 is the table's own; each holder (an HWPT on its IOAS, a device on
   *     its HWPT, a driver on its device or access) adds one, and DESTROY needs exactly 1
   */
  public record ObjectEntry(int id, ObjectType type, int users) {}

  /**
   * One IOAS (iommufd_private.h: struct io_pagetable).
   *
   * @param alignment the IOVA alignment now required (io_pagetable.c:
   *     iopt_calculate_iova_alignment())
   * @param hugePages OPTION HUGE_PAGES (large IO pages allowed)
   * @param allowed the ALLOW_IOVAS list, ascending; empty = no restriction
   * @param reserved reserved ranges ascending by start; they may overlap each other
   * @param areas areas ascending by IOVA
   * @param domainHwptIds the paging HWPTs whose domains are attached, in attach order
   * @param accessIds the attached accesses, in slot order
   */
  public record IoasState(
      int id,
      long alignment,
      boolean hugePages,
      List<IovaRange> allowed,
      List<Reserved> reserved,
      List<AreaState> areas,
      List<Integer> domainHwptIds,
      List<Integer> accessIds) {
    public IoasState {
      allowed = List.copyOf(allowed);
      reserved = List.copyOf(reserved);
      areas = List.copyOf(areas);
      domainHwptIds = List.copyOf(domainHwptIds);
      accessIds = List.copyOf(accessIds);
    }
  }

  /** Who reserved a range (io_pagetable.c: iopt_reserve_iova()). */
  public enum OwnerKind {
    /** The aperture complement of the domain of HWPT {@code ownerId}. */
    DOMAIN,
    /** A reserved region (for example an MSI window) of device {@code ownerId}. */
    DEVICE,
    /** The test op ADD_RESERVED ({@code ownerId} 0); removed with the IOAS. */
    TEST
  }

  /** A reserved range {@code [start, last]} and its owner. */
  public record Reserved(long start, long last, OwnerKind owner, int ownerId) {
    public Reserved {
      Objects.requireNonNull(owner, "owner");
    }

    /** {@code domain of hwpt 3}, {@code device 2} or {@code test}. */
    public String ownerName() {
      return switch (owner) {
        case DOMAIN -> "domain of hwpt " + ownerId;
        case DEVICE -> "device " + ownerId;
        case TEST -> "test";
      };
    }
  }

  /**
   * One area (io_pagetable.h: struct iopt_area): {@code [iova, last]} showing bytes from {@code
   * pageOffset} of page source {@code pageSourceId}, which start at {@code userAddress} in the
   * owner's memory.
   *
   * @param populated false while the command creating or destroying it is still working on it
   * @param preventAccess an unmap is waiting for accesses to let go of it (device.c:
   *     iommufd_access_notify_unmap())
   * @param pinnedPages pages of the area that are pinned now (by a domain or an access)
   * @param accessPins active access pins inside the area (device.c: iommufd_access_pin_pages())
   */
  public record AreaState(
      long iova,
      long last,
      long userAddress,
      int pageSourceId,
      long pageOffset,
      boolean readable,
      boolean writable,
      boolean populated,
      boolean preventAccess,
      long pinnedPages,
      long accessPins) {

    /** The length in bytes (0 stands for 2^64). */
    public long length() {
      return last - iova + 1;
    }

    /** {@code rw}, {@code r-}, {@code -w} or {@code --}. */
    public String protection() {
      return (readable ? "r" : "-") + (writable ? "w" : "-");
    }
  }

  /** Who is charged for a page source's pinned pages (pages.c: do_update_pinned()). */
  public enum Accounting {
    /** The creator held CAP_IPC_LOCK. */
    NONE,
    /** The owner's user. */
    USER,
    /** The owner process (RLIMIT_MODE 1). */
    MM
  }

  /**
   * The memory behind one MAP (io_pagetable.h: struct iopt_pages), shared by every area COPY made
   * from it.
   *
   * @param base page-aligned start address in the owner's memory
   * @param pageCount 4 KiB pages from {@code base} that the MAP covered
   * @param writable whether the MAP asked for WRITEABLE
   * @param pinnedPages how many of its pages are pinned now
   */
  public record PageSourceState(
      int id,
      long base,
      long pageCount,
      boolean writable,
      int ownerPid,
      int ownerUid,
      Accounting accounting,
      long pinnedPages) {}

  /**
   * One HWPT (hw_pagetable.c: iommufd_hwpt_alloc()). A paging HWPT carries its own domain; a nested
   * one names its {@code parentId} and has no IO page table of its own ({@code aperture} null,
   * {@code pageSizes} and {@code ioPageTableEntries} 0).
   *
   * @param automatic created by a device attach to an IOAS, destroyed with its last device
   *     (device.c: iommufd_device_auto_get_domain())
   * @param ioasId the IOAS whose areas the domain maps (a nested HWPT: its parent's)
   * @param domainModel {@code selftest-mock}, {@code radix} or {@code selftest-mock-nested}
   * @param pageSizes bitmap of supported IO page sizes (bit n = 2^n bytes)
   * @param ioPageTableEntries IO page table entries in use
   * @param faultId the FAULT object its page faults go to, or 0
   * @param deviceIds the devices attached to it, ascending
   */
  public record HwptState(
      int id,
      ObjectType type,
      boolean automatic,
      boolean nestParent,
      int ioasId,
      int parentId,
      String domainModel,
      IovaRange aperture,
      long pageSizes,
      long ioPageTableEntries,
      boolean dirtyTrackingCapable,
      boolean dirtyTracking,
      int faultId,
      List<Integer> deviceIds) {
    public HwptState {
      deviceIds = List.copyOf(deviceIds);
    }
  }

  /**
   * One bound device.
   *
   * @param hwptId the HWPT it is attached to, or 0
   * @param model the IOMMU hardware in front of it ({@code selftest-mock} or {@code radix})
   * @param reservedRegions reserved in every IOAS it attaches to (io_pagetable.c:
   *     iopt_reserve_iova())
   * @param selftestId the SELFTEST object of a test-ABI mock device (MOCK_DOMAIN), or 0 for a
   *     device of the typed API
   * @param flags the MOCK_DOMAIN_FLAGS of a mock device
   * @param vfio the PCI function behind a device VFIO bound, or null for any other device
   */
  public record DeviceState(
      int id,
      int hwptId,
      String model,
      IovaRange aperture,
      long pageSizes,
      List<IovaRange> reservedRegions,
      int selftestId,
      int flags,
      VfioState vfio) {
    public DeviceState {
      reservedRegions = List.copyOf(reservedRegions);
    }
  }

  /** How a program reached a VFIO device file. */
  public enum OpenPath {
    /** {@code /dev/vfio/devices/vfioN}, then BIND_IOMMUFD. */
    CDEV,
    /** {@code /dev/vfio/N}'s GET_DEVICE_FD, bound through the group's container. */
    GROUP
  }

  /**
   * The PCI function behind a DEVICE that vfio-pci bound (vfio_main.c: struct vfio_device). Its
   * DEVICE id and HWPT are the enclosing {@link DeviceState}'s; the counters start at the bind.
   *
   * @param bdf the function's address, {@code 0000:00:04.0}
   * @param group its IOMMU group ({@code /dev/vfio/N})
   * @param bars the implemented BARs, ascending by index
   * @param summary the model's own state in a few words ({@code mac 52:54:00:00:04:00, link up}),
   *     empty if it has none
   */
  public record VfioState(
      String bdf,
      int vendorId,
      int deviceId,
      int group,
      OpenPath openedVia,
      List<BarState> bars,
      IrqState irqs,
      DmaState dma,
      String summary) {
    public VfioState {
      Objects.requireNonNull(bdf, "bdf");
      Objects.requireNonNull(summary, "summary");
      Objects.requireNonNull(openedVia, "openedVia");
      bars = List.copyOf(bars);
      Objects.requireNonNull(irqs, "irqs");
      Objects.requireNonNull(dma, "dma");
    }

    /** {@code 1234:11e8}. */
    public String ids() {
      return String.format("%04x:%04x", vendorId, deviceId);
    }
  }

  /** What a BAR decodes. */
  public enum BarType {
    MEM32,
    MEM64,
    IO
  }

  /** One implemented BAR: its index, what it decodes and its size in bytes. */
  public record BarState(int index, BarType type, boolean prefetchable, long size) {
    public BarState {
      Objects.requireNonNull(type, "type");
    }
  }

  /** The interrupt type SET_IRQS enabled (vfio_pci_core.h: vdev->irq_type). */
  public enum IrqType {
    NONE,
    INTX,
    MSI,
    MSIX
  }

  /**
   * vfio-pci's interrupt state (vfio_pci_intrs.c).
   *
   * @param vectors vectors enabled: 1 for INTx, those allocated for MSI/MSI-X, 0 for none
   * @param eventfds vectors with a trigger eventfd set
   * @param masked INTx masked (automasked by its last interrupt, or by the program)
   */
  public record IrqState(IrqType type, int vectors, int eventfds, boolean masked) {
    public IrqState {
      Objects.requireNonNull(type, "type");
    }
  }

  /**
   * The model's DMA through the device's domain: transfers that completed, their bytes, and
   * translation faults with the IOVA of the last one (0 while there is none).
   */
  public record DmaState(
      long reads, long readBytes, long writes, long writeBytes, long faults, long lastFaultIova) {}

  /**
   * An in-kernel user of an IOAS (device.c: iommufd_access_*()).
   *
   * @param ioasId the IOAS it is attached to, or 0
   * @param pinsPages created to pin pages (raises the IOAS alignment to 4096)
   * @param pins its pins, ascending by IOVA, each with its use count
   */
  public record AccessState(int id, int ioasId, boolean pinsPages, List<AccessPin> pins) {
    public AccessState {
      pins = List.copyOf(pins);
    }
  }

  /** One exact pinned range of an access and how many times it was pinned. */
  public record AccessPin(long iova, long length, long uses) {}

  /**
   * A FAULT object (fault.c: iommufd_fault_alloc()).
   *
   * @param fdOpen whether its fault fd is still open
   * @param pending fault groups not yet read
   * @param awaiting fault groups read and not yet answered
   */
  public record FaultQueueState(int id, boolean fdOpen, int pending, int awaiting) {}

  /**
   * The emulated machine this context belongs to: pins and charges of every context on it (the
   * embedded emulator shares one machine across the JVM unless configured with a private host).
   *
   * @param pinnedFrames the sum of every frame's pin count
   * @param chargedPages pages charged to every memory-lock account together
   * @param accounts every account with pages charged, users first, each ascending by id
   */
  public record HostState(long pinnedFrames, long chargedPages, List<Account> accounts) {
    public HostState {
      accounts = List.copyOf(accounts);
    }
  }

  /**
   * RLIMIT_MEMLOCK accounts (pages.c: do_update_pinned()): per user (USER mode) or per process (MM
   * mode).
   */
  public enum AccountKind {
    USER,
    PROCESS
  }

  /** Pages charged to user or process {@code id}. */
  public record Account(AccountKind kind, int id, long pages) {}

  // ---- renderings ------------------------------------------------------------------------------

  /** Aligned text: objects, each IOAS's ranges and areas, HWPTs, devices, accesses, pins. */
  public String toTable() {
    return TableRenderer.render(this);
  }

  /**
   * JSON with stable field names (documented in {@link JsonFormat}); u64 values are hex strings,
   * counts and ids are numbers.
   */
  public String toJson() {
    return JsonFormat.write(this);
  }

  /**
   * Reads a snapshot written by {@link #toJson()} (for example by another process).
   *
   * @throws IllegalArgumentException if {@code json} is not such a document
   */
  public static Snapshot fromJson(String json) {
    return JsonFormat.read(json);
  }

  /**
   * A self-contained SVG picture of every IOVA space: apertures, reserved ranges by owner, allowed
   * ranges, areas and the holes between them, on an axis that gives every range a readable width
   * however much the sizes differ; a key lists each range's hex bounds.
   */
  public String toSvg() {
    return new SvgRenderer(this).render();
  }
}
