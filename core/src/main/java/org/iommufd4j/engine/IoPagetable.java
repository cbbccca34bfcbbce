package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EADDRINUSE;
import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.EDEADLK;
import static org.iommufd4j.Errno.EEXIST;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENOENT;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.Errno.EPERM;
import static org.iommufd4j.engine.Unsigned.U64_MAX;
import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.engine.Unsigned.intersects;
import static org.iommufd4j.engine.Unsigned.le;
import static org.iommufd4j.engine.Unsigned.lt;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.IdentityHashMap;
import java.util.List;
import org.iommufd4j.IovaRange;

/**
 * The IOVA space of one IOAS (io_pagetable.c): areas, reserved and allowed ranges, the alignment,
 * and the algorithms over them (automatic allocation through {@link IovaAllocator}, fixed
 * validation, insertion, contiguous walk and removal, and the VFIO TYPE1 split: io_pagetable.c).
 *
 * <p>Invariants (checked by {@link #checkInvariants()}): areas never overlap each other or a
 * reserved range; allowed ranges never overlap each other or a reserved range; every area's IOVA,
 * length and in-page offset are multiples of {@link #align()}. Not thread safe: the owning {@link
 * IoasObject}'s lock guards it.
 */
final class IoPagetable {
  /** The automatic alignment never exceeds the THP size (io_pagetable.c: iopt_alloc_iova()). */
  static final long HPAGE_SIZE = 2L << 20;

  private static final long PAGE_SIZE = PageSource.PAGE_SIZE;

  /**
   * Rounds of unmap callbacks before an unmap gives up with EDEADLK (io_pagetable.c:
   * iopt_unmap_iova_range()).
   */
  static final int MAX_UNMAP_TRIES = 100;

  final AreaTree areas = new AreaTree();
  final ReservedRanges reserved = new ReservedRanges();
  private final IovaAllocator allocator = new IovaAllocator(areas, reserved);

  /** Allowed ranges as sorted (start, last) pairs; empty = no restriction. */
  private long[] allowed = new long[0];

  private boolean hugePages = true;
  private long align = 1;

  /**
   * Attached domains in attach order (iommufd_private.h: struct io_pagetable); every populated area
   * is mapped in each.
   */
  final ArrayList<Domain> domains = new ArrayList<>();

  /**
   * Attached accesses that pin pages, each raising the alignment to 4096 (io_pagetable.c:
   * iopt_calculate_iova_alignment()).
   */
  int pinningAccesses;

  /**
   * Attached accesses (device.c: iommufd_access_change_ioas()) by slot, the lowest free slot first;
   * null = free.
   */
  private final ArrayList<Access> accesses = new ArrayList<>();

  private final BitSet accessSlots = new BitSet();
  private final IdentityHashMap<Access, Integer> accessSlotOf = new IdentityHashMap<>();

  /**
   * Calls the unmap callbacks of the attached accesses (device.c: iommufd_access_notify_unmap()).
   * The owning IOAS replaces it with one that drops its lock meanwhile, since callbacks unpin
   * through the same IOAS.
   */
  AccessNotifier accessNotifier = this::notifyAccesses;

  private final Host host;

  IoPagetable(Host host) {
    this.host = host;
  }

  long align() {
    return align;
  }

  boolean hugePages() {
    return hugePages;
  }

  boolean hasDomains() {
    return !domains.isEmpty();
  }

  List<IovaRange> allowedRanges() {
    List<IovaRange> out = new ArrayList<>(allowed.length / 2);
    for (int i = 0; i < allowed.length; i += 2) {
      out.add(new IovaRange(allowed[i], allowed[i + 1]));
    }
    return out;
  }

  // ---- IOVA_RANGES and ALLOW_IOVAS (ioas.c: iommufd_ioas_{iova_ranges,allow_iovas}()) -------

  /** The holes of the reserved set over the whole 64-bit space, ascending. */
  List<IovaRange> usableRanges() {
    List<IovaRange> out = new ArrayList<>();
    reserved.holes(
        0,
        U64_MAX,
        (s, l) -> {
          out.add(new IovaRange(s, l));
          return ReservedRanges.CONTINUE;
        });
    return out;
  }

  /**
   * Replaces the allowed list with {@code sortedPairs} (already validated: sorted, each start <
   * last, no overlap). EADDRINUSE if any intersects a reserved range; the old list then stays.
   */
  void setAllowed(long[] sortedPairs) {
    for (int i = 0; i < sortedPairs.length; i += 2) {
      if (reserved.intersects(sortedPairs[i], sortedPairs[i + 1])) {
        throw ErrnoException.of(
            EADDRINUSE,
            "allowed range ["
                + hex(sortedPairs[i])
                + ", "
                + hex(sortedPairs[i + 1])
                + "] intersects a reserved range");
      }
    }
    allowed = sortedPairs;
  }

  private boolean allowedIntersects(long start, long last) {
    for (int i = 0; i < allowed.length && le(allowed[i], last); i += 2) {
      if (intersects(allowed[i], allowed[i + 1], start, last)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Adds a reserved range (io_pagetable.c: iopt_reserve_iova()): EADDRINUSE if it hits an area or
   * an allowed range.
   */
  void reserve(long start, long last, Object owner) {
    if (areas.intersects(start, last) || allowedIntersects(start, last)) {
      throw ErrnoException.of(
          EADDRINUSE,
          "reserved range [" + hex(start) + ", " + hex(last) + "] hits an area or allowed range");
    }
    reserved.add(start, last, owner);
  }

  // ---- alignment and HUGE_PAGES (io_pagetable.c: iopt_calculate_iova_alignment()) ----------

  private long requiredAlign(boolean withHugePages) {
    long a = withHugePages ? 1 : PAGE_SIZE;
    for (Domain d : domains) {
      a = Math.max(a, d.minPageSize());
    }
    return pinningAccesses > 0 ? Math.max(a, PAGE_SIZE) : a;
  }

  /**
   * Raises or lowers the alignment to what the domains, accesses and huge-page setting need
   * (io_pagetable.c: iopt_calculate_iova_alignment()): EADDRINUSE, with nothing changed, if it
   * rises and an area does not conform.
   */
  void recomputeAlign() {
    long required = requiredAlign(hugePages);
    if (required > align && !areasConformTo(required)) {
      throw ErrnoException.of(EADDRINUSE, "an area is not aligned to " + hex(required));
    }
    align = required;
  }

  /** Whether every area's IOVA, length and in-page offset are multiples of {@code a}. */
  private boolean areasConformTo(long a) {
    long mask = a - 1;
    for (Area area : areas.readOnly()) {
      if ((area.iova & mask) != 0
          || (area.length() & mask) != 0
          || (area.inPageOffset() & mask) != 0) {
        return false;
      }
    }
    return true;
  }

  void setHugePages(boolean enable) {
    if (enable) {
      hugePages = true;
      align = requiredAlign(true);
      return;
    }
    if (!hugePages) {
      return;
    }
    if (hasDomains() && !areas.isEmpty()) {
      throw ErrnoException.of(EINVAL, "huge pages cannot be disabled with domains and areas");
    }
    long newAlign = requiredAlign(false);
    if (newAlign > align && !areasConformTo(newAlign)) {
      throw ErrnoException.of(EADDRINUSE, "an area is not aligned to " + hex(newAlign));
    }
    hugePages = false;
    align = newAlign;
  }

  // ---- accesses (device.c: iommufd_access_change_ioas(), iommufd_access_notify_unmap()) -----

  /** At most this many accesses per IOAS (the kernel's 16-bit list index). */
  static final int MAX_ACCESSES = 1 << 16;

  /** Receives {@code [iova, last]} of an area that accesses must let go of. */
  @FunctionalInterface
  interface AccessNotifier {
    void notifyUnmap(long iova, long last);
  }

  /**
   * Joins an access (device.c: iommufd_access_change_ioas()): EBUSY past {@link #MAX_ACCESSES},
   * EADDRINUSE from the alignment.
   */
  void addAccess(Access access) {
    int slot = accessSlots.nextClearBit(0);
    if (slot >= MAX_ACCESSES) {
      throw ErrnoException.of(EBUSY, "IOAS has " + MAX_ACCESSES + " accesses");
    }
    if (access.needsPinPages()) {
      pinningAccesses++;
      try {
        recomputeAlign();
      } catch (ErrnoException e) {
        pinningAccesses--;
        throw e;
      }
    }
    accessSlots.set(slot);
    while (accesses.size() <= slot) {
      accesses.add(null);
    }
    accesses.set(slot, access);
    accessSlotOf.put(access, slot);
  }

  /** Removes an access; the alignment may fall. */
  void removeAccess(Access access) {
    Integer slot = accessSlotOf.remove(access);
    if (slot == null) {
      return;
    }
    accesses.set(slot, null);
    accessSlots.clear(slot);
    if (access.needsPinPages()) {
      pinningAccesses--;
    }
    align = requiredAlign(hugePages);
  }

  /** The attached accesses in slot order. */
  List<Access> accesses() {
    List<Access> out = new ArrayList<>(accessSlots.cardinality());
    for (Access a : accesses) {
      if (a != null) {
        out.add(a);
      }
    }
    return out;
  }

  private void notifyAccesses(long iova, long last) {
    for (Access a : accesses()) {
      a.notifyUnmap(iova, last);
    }
  }

  /**
   * The fuzzer shorthand of test kernels (ioas.c: iommufd_ioas_copy(); selftest.c:
   * iommufd_test_syz_conv_iova_id()): the IOVA of area n (low 32 bits) plus an offset (high 32
   * bits), or 0 when there are fewer areas.
   */
  long syzIova(long shorthand) {
    long n = shorthand & 0xffff_ffffL;
    long i = 0;
    for (Area a : areas.readOnly()) {
      if (i++ == n) {
        return a.iova + (shorthand >>> 32);
      }
    }
    return 0;
  }

  // ---- placement (io_pagetable.c: iopt_alloc_iova(), iopt_check_iova()) --------------------

  /**
   * Chooses an IOVA for {@code length} bytes by first fit, exactly as the kernel (io_pagetable.c:
   * iopt_alloc_iova()).
   */
  long allocIova(long length, long hint) {
    return allocator.allocate(length, hint, align, allowed);
  }

  /**
   * Fixed-IOVA validation (io_pagetable.c: iopt_check_iova()), after the length-alignment check.
   */
  void checkFixed(long iova, long length) {
    checkFixedRange(iova, length);
    long last = iova + length - 1;
    if (areas.intersects(iova, last)) {
      throw ErrnoException.of(EEXIST, "[" + hex(iova) + ", " + hex(last) + "] is already mapped");
    }
  }

  /** Alignment, overflow, reserved ranges (io_pagetable.c: iopt_check_iova()). */
  private void checkFixedRange(long iova, long length) {
    if ((iova & (align - 1)) != 0) {
      throw ErrnoException.of(EINVAL, "iova=" + hex(iova) + " not aligned to " + hex(align));
    }
    if (Unsigned.lastOverflows(iova, length)) {
      throw ErrnoException.of(EOVERFLOW, "iova=" + hex(iova) + " length=" + hex(length));
    }
    long last = iova + length - 1;
    if (reserved.intersects(iova, last)) {
      throw ErrnoException.of(
          EINVAL, "[" + hex(iova) + ", " + hex(last) + "] intersects a reserved range");
    }
  }

  /**
   * FIXED_IOVA placement of one area (MAP): the checks of io_pagetable.c: iopt_check_iova(), then
   * those of iopt_insert_area(), in that order, with a single tree descent deciding EEXIST and
   * inserting. A later refusal takes the area out again.
   */
  Area insertFixed(Area area) {
    checkFixedRange(area.iova, area.length());
    if (!areas.insertIfFree(area)) {
      throw ErrnoException.of(
          EEXIST, "[" + hex(area.iova) + ", " + hex(area.last) + "] is already mapped");
    }
    try {
      checkMemory(area);
      FaultInjection.check(FaultInjection.Site.ALLOC);
    } catch (ErrnoException e) {
      areas.remove(area);
      throw e;
    }
    return area;
  }

  /**
   * MAP of a caller's memory while no domain is attached (ioas.c: iommufd_ioas_map()), at {@code
   * iova} with {@code fixed}, else at the IOVA the allocator chooses from the hint {@code userVa}:
   * the checks and their order of {@link #insertFixed} or {@link #allocIova} and {@link
   * #insert(Area)}, then the area goes in as a tree row, populated at once (without a domain {@link
   * #commit(Area)} has nothing to fill). Allocates nothing unless a tree node splits.
   *
   * @return the IOVA used
   */
  long mapRow(boolean fixed, long iova, long length, Caller owner, long userVa, int rowFlags) {
    if (hasDomains()) {
      throw new IllegalStateException("a domain needs the area's page source");
    }
    if (fixed) {
      checkFixedRange(iova, length);
      long last = iova + length - 1;
      if (!areas.insertRowIfFree(iova, last, owner, userVa, rowFlags)) {
        throw ErrnoException.of(EEXIST, "[" + hex(iova) + ", " + hex(last) + "] is already mapped");
      }
      try {
        checkMemory(rowFlags, userVa);
        FaultInjection.check(FaultInjection.Site.ALLOC);
      } catch (ErrnoException e) {
        areas.removeStartingAt(iova);
        throw e;
      }
      return iova;
    }
    long chosen = allocIova(length, userVa);
    checkMemory(rowFlags, userVa);
    if (Unsigned.lastOverflows(chosen, length)) {
      throw ErrnoException.of(EOVERFLOW, "iova=" + hex(chosen) + " length=" + hex(length));
    }
    FaultInjection.check(FaultInjection.Site.ALLOC);
    if (!areas.insertRowIfFree(chosen, chosen + length - 1, owner, userVa, rowFlags)) {
      throw new IllegalStateException("the allocator chose a used IOVA " + hex(chosen));
    }
    return chosen;
  }

  /** {@link #checkMemory(Area)} for an area still to be a tree row. */
  private void checkMemory(int rowFlags, long userVa) {
    if (!Area.rowMemoryAllowsProt(rowFlags)) {
      throw ErrnoException.of(EPERM, "WRITEABLE requested on memory mapped read-only");
    }
    checkInPageOffset(userVa & PageSource.PAGE_MASK);
  }

  /**
   * io_pagetable.c: iopt_insert_area() for one area: EPERM, then the in-page offset against the
   * alignment.
   */
  private void checkMemory(Area area) {
    if ((area.prot() & Area.PROT_WRITE) != 0 && !area.writableMemory()) {
      throw ErrnoException.of(EPERM, "WRITEABLE requested on memory mapped read-only");
    }
    checkInPageOffset(area.inPageOffset());
  }

  private void checkInPageOffset(long inPage) {
    if ((inPage & (align - 1)) != 0) {
      throw ErrnoException.of(
          EINVAL, "in-page offset " + hex(inPage) + " of the memory not aligned to " + hex(align));
    }
  }

  // ---- areas (io_pagetable.c) --------------------------------------------------------------

  /** A piece of a page source to be shown at consecutive IOVAs (one per MAP, per area for COPY). */
  record Slice(PageSource pages, long offset, long length) {}

  /**
   * Inserts one area per slice, back to back from {@code iova}, not yet populated (io_pagetable.c:
   * iopt_insert_area()). On failure every area this call inserted is removed again.
   *
   * @return the inserted areas, for {@link #commit(List)} or {@link #abort}
   */
  List<Area> insert(long iova, List<Slice> slices, int prot) {
    List<Area> inserted = new ArrayList<>(slices.size());
    long at = iova;
    try {
      for (Slice s : slices) {
        inserted.add(insert(new Area(at, s.length(), prot, s.pages(), s.offset())));
        at += s.length();
      }
    } catch (ErrnoException e) {
      abort(inserted);
      throw e;
    }
    return inserted;
  }

  /**
   * Inserts one area, not yet populated (io_pagetable.c: iopt_insert_area()): on failure nothing
   * changed.
   */
  Area insert(Area area) {
    checkMemory(area);
    if (Unsigned.lastOverflows(area.iova, area.length())) {
      throw ErrnoException.of(
          EOVERFLOW, "iova=" + hex(area.iova) + " length=" + hex(area.length()));
    }
    FaultInjection.check(FaultInjection.Site.ALLOC);
    areas.insert(area);
    return area;
  }

  /**
   * Maps the areas from {@link #insert(long, List, int)} into every domain (pinning their pages
   * first, pages.c: iopt_area_fill_domains()) and marks them populated. On failure (EFAULT, ENOMEM)
   * every area of the call is removed again.
   */
  void commit(List<Area> inserted) {
    int filled = 0;
    try {
      if (!domains.isEmpty()) {
        for (; filled < inserted.size(); filled++) {
          fill(inserted.get(filled), domains);
        }
      }
    } catch (RuntimeException e) {
      for (int i = 0; i < filled; i++) {
        unfill(inserted.get(i), domains, true);
      }
      abort(inserted);
      throw e;
    }
    for (Area a : inserted) {
      a.setPopulated();
    }
  }

  /** {@link #commit(List)} for one area. */
  void commit(Area area) {
    if (!domains.isEmpty()) {
      try {
        fill(area, domains);
      } catch (RuntimeException e) {
        areas.remove(area);
        throw e;
      }
    }
    area.setPopulated();
  }

  void abort(List<Area> inserted) {
    for (Area a : inserted) {
      areas.remove(a);
    }
  }

  private static long firstPage(Area a) {
    return a.pagesOffset() >>> PageSource.PAGE_SHIFT;
  }

  private static long lastPage(Area a) {
    return (a.pagesOffset() + a.length() - 1) >>> PageSource.PAGE_SHIFT;
  }

  /** The emulated physical address of the area's first byte. */
  long physicalAddress(Area a) {
    return host.physicalAddress(a.owner().memory(), a.userAddress());
  }

  /** Pins the area's pages (once, whatever the number of domains) and maps it into {@code into}. */
  private void fill(Area a, List<Domain> into) {
    a.pages().pin(host, firstPage(a), lastPage(a));
    long pa = physicalAddress(a);
    int mapped = 0;
    try {
      for (; mapped < into.size(); mapped++) {
        mapInto(into.get(mapped), a, pa);
      }
    } catch (RuntimeException e) {
      unfill(a, into.subList(0, mapped), true);
      throw e;
    }
  }

  private void mapInto(Domain d, Area a, long pa) {
    FaultInjection.check(FaultInjection.Site.DOMAIN_MAP);
    d.map(a.iova, pa, a.length(), a.prot(), hugePages);
  }

  private void unfill(Area a, List<Domain> from, boolean unpin) {
    for (Domain d : from) {
      d.unmap(a.iova, a.length());
    }
    if (unpin) {
      a.pages().unpin(host, firstPage(a), lastPage(a));
    }
  }

  /**
   * Attaches a domain (io_pagetable.c: iopt_table_add_domain()): alignment (EINVAL above 4096,
   * EADDRINUSE), the aperture complement reserved with the domain as owner (EADDRINUSE), then every
   * populated area mapped into it (the first domain pins: EFAULT, ENOMEM). On failure nothing
   * changes.
   */
  void addDomain(Domain d) {
    long newAlign = Math.max(d.minPageSize(), align);
    if (newAlign > PAGE_SIZE) {
      throw ErrnoException.of(EINVAL, "domain page size " + hex(d.minPageSize()) + " above 4 KiB");
    }
    if (newAlign > align && !areasConformTo(newAlign)) {
      throw ErrnoException.of(EADDRINUSE, "an area is not aligned to " + hex(newAlign));
    }
    boolean low = d.apertureStart != 0;
    boolean high = d.apertureLast != U64_MAX;
    if (low) {
      reserve(0, d.apertureStart - 1, d);
    }
    if (high) {
      try {
        reserve(d.apertureLast + 1, U64_MAX, d);
      } catch (ErrnoException e) {
        reserved.removeOwner(d);
        throw e;
      }
    }
    boolean first = domains.isEmpty();
    List<Domain> target = List.of(d);
    List<Area> done = new ArrayList<>();
    try {
      for (Area a : areas) {
        if (!a.isPopulated()) {
          continue;
        }
        if (first) {
          fill(a, target);
        } else {
          mapInto(d, a, physicalAddress(a));
        }
        done.add(a);
      }
    } catch (RuntimeException e) {
      for (Area a : done) {
        unfill(a, target, first);
      }
      reserved.removeOwner(d);
      throw e;
    }
    domains.add(d);
    align = newAlign;
  }

  /**
   * Detaches a domain (io_pagetable.c: iopt_table_remove_domain()): unmaps every area from it,
   * unpins after the last, drops its ranges.
   */
  void removeDomain(Domain d) {
    if (!domains.remove(d)) {
      return;
    }
    boolean last = domains.isEmpty();
    List<Domain> from = List.of(d);
    for (Area a : areas) {
      if (a.isPopulated()) {
        unfill(a, from, last);
      }
    }
    reserved.removeOwner(d);
    align = requiredAlign(hugePages);
  }

  /**
   * The slices behind {@code [iova, iova + length - 1]} by the contiguous walk (io_pagetable.h:
   * iopt_for_each_contig_area()), for COPY. ENOENT unless populated areas cover the whole range
   * without gaps.
   */
  List<Slice> collectSlices(long iova, long length) {
    if (length == 0) {
      throw ErrnoException.of(EINVAL, "length=0");
    }
    if (Unsigned.lastOverflows(iova, length)) {
      throw ErrnoException.of(EOVERFLOW, "src_iova=" + hex(iova) + " length=" + hex(length));
    }
    long last = iova + length - 1;
    List<Slice> out = new ArrayList<>(1);
    long pos = iova;
    for (Area a : areas.contiguous(iova, last)) {
      long sliceLast = Unsigned.min(a.last, last);
      out.add(new Slice(a.pages(), a.pagesOffset() + (pos - a.iova), sliceLast - pos + 1));
      if (ge(a.last, last)) {
        return out;
      }
      pos = a.last + 1;
    }
    throw ErrnoException.of(
        ENOENT, "[" + hex(iova) + ", " + hex(last) + "] is not completely mapped");
  }

  /**
   * Range removal (io_pagetable.c: iopt_unmap_iova_range()): removes every area inside {@code
   * [start, last]}, one by one in ascending order. Areas removed before an error stay removed. An
   * area that accesses have pinned is marked prevent-access and the accesses are asked to unpin it
   * through {@link #accessNotifier}, then the scan restarts there; after {@link #MAX_UNMAP_TRIES}
   * fruitless rounds EDEADLK (the mark stays).
   *
   * @param progress {@code progress[0]} accumulates the bytes removed, also when this throws
   */
  void removeRange(long start, long last, long[] progress) {
    progress[0] += removeAreas(start, last, progress);
  }

  /** {@link #removeRange(long, long, long[])} returning the bytes removed. */
  long removeRange(long start, long last) {
    return removeAreas(start, last, null);
  }

  /**
   * The removal loop: returns the bytes removed, or adds them to {@code progressOnError} (when
   * given) before an error propagates.
   */
  private long removeAreas(long start, long last, long[] progressOnError) {
    long removed = 0;
    long retryStart = start; // the kernel's restart point after a round of callbacks
    int tries = 0;
    try {
      while (true) {
        if (!areas.seekEndingAtOrAfter(start) || gt(areas.atFirst(), last)) {
          return removed;
        }
        long aIova = areas.atFirst();
        long aLast = areas.atLast();
        if (!areas.atPopulated()) {
          throw ErrnoException.of(
              EBUSY, "area " + Area.describe(aIova, aLast, areas.atProt()) + " is being changed");
        }
        if (lt(aIova, start) || gt(aLast, last)) {
          throw ErrnoException.of(
              ENOENT,
              "area ["
                  + hex(aIova)
                  + ", "
                  + hex(aLast)
                  + "] is only partly inside ["
                  + hex(start)
                  + ", "
                  + hex(last)
                  + "]");
        }
        if (aIova != retryStart) {
          tries = 0;
        }
        Area a = areas.atAreaIfMade(); // a row never has pins or domain entries
        if (a == null) {
          areas.removeStartingAt(aIova);
          removed += aLast - aIova + 1;
          if (ge(aLast, last)) {
            return removed;
          }
          start = aLast + 1;
          continue;
        }
        if (a.accessCount > 0) {
          // Ask every access to let go, then look again from this area (io_pagetable.c:
          // iopt_unmap_iova_range(); device.c: iommufd_access_notify_unmap()).
          retryStart = a.iova;
          start = a.iova;
          a.setPreventAccess(true);
          accessNotifier.notifyUnmap(a.iova, a.last);
          if (++tries > MAX_UNMAP_TRIES) {
            throw ErrnoException.of(
                EDEADLK,
                "accesses keep "
                    + a
                    + " pinned after "
                    + MAX_UNMAP_TRIES
                    + " rounds of unmap callbacks");
          }
          continue;
        }
        if (!domains.isEmpty()) {
          unfill(a, domains, true);
        }
        areas.remove(a);
        removed += a.length();
        if (ge(a.last, last)) {
          return removed;
        }
        start = a.last + 1;
      }
    } catch (ErrnoException e) {
      if (progressOnError != null) {
        progressOnError[0] += removed;
      }
      throw e;
    }
  }

  /**
   * Cuts the area holding {@code p} into {@code [area.iova, p]} and {@code [p + 1, area.last]},
   * both showing the same page source (io_pagetable.c: iopt_cut_iova(); only VFIO TYPE1 unmap asks
   * for this). Nothing happens when no area holds {@code p} or {@code p} is its first or last byte.
   * Domains keep their entries and pages keep their pins: the two halves cover exactly the same
   * pages.
   *
   * <p>Refusals, in the kernel's order: the area is not populated or prevents access → EBUSY;
   * {@code p + 1} or its byte offset in the page source not a multiple of {@code align} → EINVAL;
   * the area has access pins → EINVAL; the area is stored in a domain while large pages are enabled
   * (a large IOPTE cannot be cut) → EINVAL.
   */
  void split(long p) {
    Area a = areas.find(p);
    if (a == null || p == a.iova || p == a.last) {
      return;
    }
    if (!a.isPopulated() || a.isPreventAccess()) {
      throw ErrnoException.of(EBUSY, "cannot cut " + a + " at " + hex(p) + ": it is busy");
    }
    long newStart = p + 1;
    long newOffset = a.pagesOffset() + (newStart - a.iova);
    if (((newStart | newOffset) & (align - 1)) != 0) {
      throw ErrnoException.of(
          EINVAL, "cannot cut " + a + " at " + hex(p) + ": not aligned to " + hex(align));
    }
    if (a.accessCount != 0) {
      throw ErrnoException.of(EINVAL, "cannot cut " + a + ": an access has pinned it");
    }
    if (hasDomains() && hugePages) {
      throw ErrnoException.of(EINVAL, "cannot cut " + a + ": a domain may map it with large pages");
    }
    PageSource pages = a.pages(); // both halves show it from now on
    Area lhs = new Area(a.iova, newStart - a.iova, a.prot(), pages, a.pagesOffset());
    Area rhs = new Area(newStart, a.last - p, a.prot(), pages, newOffset);
    lhs.setPopulated();
    rhs.setPopulated();
    areas.remove(a);
    areas.insert(lhs);
    areas.insert(rhs);
  }

  /** Removes every area (IOAS destroy, unmap-all); returns the bytes removed. */
  long removeAll() {
    return removeRange(0, U64_MAX);
  }

  /**
   * Drops the allowed list and the test-owned reserved ranges (IOAS destroy, main.c:
   * iommufd_destroy()).
   */
  void clearRanges() {
    allowed = new long[0];
    reserved.removeOwner(ReservedRanges.TEST_OWNER);
  }

  /**
   * Every domain maps exactly the populated areas, byte for byte, with their protection, and every
   * page of an area stored in a domain is pinned.
   */
  private String checkDomains() {
    for (Domain d : domains) {
      long mapped = 0;
      for (Area a : areas.readOnly()) {
        if (!a.isPopulated()) {
          continue;
        }
        long pa = physicalAddress(a);
        long step = d.minPageSize();
        for (long off = 0; off < a.length(); off += step) {
          if (d.translate(a.iova + off) != pa + off || d.protection(a.iova + off) != a.prot()) {
            return "domain does not map " + a + " at offset " + hex(off);
          }
        }
        mapped += a.length() / step;
        for (long p = firstPage(a); p <= lastPage(a); p++) {
          if (a.pinUsers(p) == 0) {
            return "page " + p + " of " + a + " is not pinned";
          }
        }
      }
      if (d instanceof MockDomain && d.entryCount() != mapped) {
        return "domain holds " + d.entryCount() + " entries but the areas need " + mapped;
      }
    }
    return null;
  }

  /**
   * Every area's access count equals the number of access pin portions on it, and every access pin
   * range is still mapped contiguously.
   */
  private String checkAccessCounts() {
    IdentityHashMap<Area, Long> expected = new IdentityHashMap<>();
    for (Access access : accesses()) {
      for (var pin : access.pinsIn(this).entrySet()) {
        long last = pin.getKey().iova() + pin.getKey().length() - 1;
        boolean covered = false;
        for (Area a : areas.contiguous(pin.getKey().iova(), last)) {
          expected.merge(a, pin.getValue(), Long::sum);
          covered = ge(a.last, last);
        }
        if (!covered) {
          return "access pin " + pin.getKey() + " is not mapped contiguously";
        }
      }
    }
    for (Area a : areas.readOnly()) { // pins make their areas: a row's count is 0
      if (a.accessCount != expected.getOrDefault(a, 0L)) {
        return a
            + " has access count "
            + a.accessCount
            + " but "
            + expected.getOrDefault(a, 0L)
            + " access pins";
      }
    }
    return null;
  }

  // ---- invariants --------------------------------------------------------------------------

  /** A description of the first broken invariant, or null. */
  String checkInvariants() {
    String problem = areas.checkInvariants();
    if (problem != null) {
      return problem;
    }
    if (align != requiredAlign(hugePages)) {
      return "align " + hex(align) + " but " + hex(requiredAlign(hugePages)) + " required";
    }
    if (!areasConformTo(align)) {
      return "an area does not conform to align " + hex(align);
    }
    for (Area a : areas.readOnly()) {
      if (reserved.intersects(a.iova, a.last)) {
        return a + " intersects a reserved range";
      }
    }
    if (hasDomains() && areas.hasUnmadeRows()) { // what removal relies on for rows
      return "an area is still a bare tree row while a domain is attached";
    }
    String domainProblem = checkDomains();
    if (domainProblem != null) {
      return domainProblem;
    }
    String accessProblem = checkAccessCounts();
    if (accessProblem != null) {
      return accessProblem;
    }
    for (int i = 0; i < allowed.length; i += 2) {
      if (!lt(allowed[i], allowed[i + 1])) {
        return "allowed range with start >= last";
      }
      if (i > 0 && !gt(allowed[i], allowed[i - 1])) {
        return "allowed ranges overlap or are unsorted";
      }
      if (reserved.intersects(allowed[i], allowed[i + 1])) {
        return "allowed range intersects a reserved range";
      }
    }
    return null;
  }
}
