package org.iommufd4j.model;

import static org.iommufd4j.Errno.EADDRINUSE;
import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.EEXIST;
import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EMSGSIZE;
import static org.iommufd4j.Errno.ENOENT;
import static org.iommufd4j.Errno.ENOTTY;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.Errno.EPERM;
import static org.iommufd4j.model.Intervals.addOverflows;
import static org.iommufd4j.model.Intervals.ge;
import static org.iommufd4j.model.Intervals.gt;
import static org.iommufd4j.model.Intervals.holes;
import static org.iommufd4j.model.Intervals.intersects;
import static org.iommufd4j.model.Intervals.le;
import static org.iommufd4j.model.Intervals.lt;
import static org.iommufd4j.model.Intervals.min;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.iommufd4j.Errno;
import org.iommufd4j.IovaRange;

/**
 * A deliberately simple, obviously correct model of one iommufd context without domains or
 * accesses, written straight from the kernel's rules (main.c, ioas.c, io_pagetable.c): plain lists,
 * linear scans, no cleverness. The randomized tests run every operation against this model and the
 * engine and demand identical results.
 *
 * <p>Every operation returns an {@link Outcome}: either a value or the {@link Errno} the kernel
 * reports. All addresses and lengths are unsigned 64-bit values held in {@code long}s.
 */
final class ReferenceModel {
  static final long U64_MAX = -1L;
  static final long PAGE_SIZE = 4096;

  static final int MAP_FIXED_IOVA = 1;
  static final int MAP_WRITEABLE = 1 << 1;
  static final int MAP_READABLE = 1 << 2;
  static final int MOCK_FLAGS_ACCESS_SYZ = 1 << 16;
  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;

  static final int OPTION_RLIMIT_MODE = 0;
  static final int OPTION_HUGE_PAGES = 1;
  static final int OPTION_OP_SET = 0;
  static final int OPTION_OP_GET = 1;

  /** The result of one operation: {@code errno == null} means success. */
  record Outcome(Errno errno, long value, List<IovaRange> ranges, long alignment) {
    static Outcome ok(long value) {
      return new Outcome(null, value, List.of(), 0);
    }

    static Outcome fail(Errno errno) {
      return new Outcome(errno, 0, List.of(), 0);
    }

    boolean isOk() {
      return errno == null;
    }

    @Override
    public String toString() {
      String v = "value=0x" + Long.toHexString(value);
      if (!ranges.isEmpty() || alignment != 0) {
        v += " ranges=" + ranges + " alignment=0x" + Long.toHexString(alignment);
      }
      return errno == null ? "ok " + v : errno == EMSGSIZE ? "EMSGSIZE " + v : errno.name();
    }
  }

  /**
   * The memory behind one MAP (io_pagetable.h: struct iopt_pages); COPY shares it. Identity
   * matters.
   */
  static final class Source {
    final long base;
    final boolean writable;

    Source(long base, boolean writable) {
      this.base = base;
      this.writable = writable;
    }

    @Override
    public String toString() {
      return "Source@"
          + Integer.toHexString(System.identityHashCode(this))
          + "[base=0x"
          + Long.toHexString(base)
          + (writable ? ", writable]" : ", read-only]");
    }
  }

  /** One area: IOVA {@code [iova, last]} shows bytes from {@code offset} of {@code source}. */
  record Area(long iova, long last, int prot, Source source, long offset) {
    long length() {
      return last - iova + 1;
    }

    long inPageOffset() {
      return Long.remainderUnsigned(source.base + offset, PAGE_SIZE);
    }

    @Override
    public String toString() {
      return "Area[0x"
          + Long.toHexString(iova)
          + "..0x"
          + Long.toHexString(last)
          + " prot="
          + prot
          + " "
          + source
          + " offset=0x"
          + Long.toHexString(offset)
          + "]";
    }
  }

  /** A piece of a source to appear at consecutive IOVAs (one per MAP, one per area for COPY). */
  record Slice(Source source, long offset, long length) {}

  /** One IOAS (iommufd_private.h: struct io_pagetable), without domains and accesses. */
  static final class Ioas {
    final int id;

    /** Sorted by IOVA, never overlapping. */
    final List<Area> areas = new ArrayList<>();

    /** (start, last) pairs, in the order they were added; they may overlap each other. */
    final List<long[]> reserved = new ArrayList<>();

    /** (start, last) pairs in the order of the ALLOW_IOVAS array. */
    List<long[]> allowed = new ArrayList<>();

    boolean hugePages = true;

    Ioas(int id) {
      this.id = id;
    }

    /** io_pagetable.c: iopt_calculate_iova_alignment() with no domains and no accesses. */
    long align() {
      return hugePages ? 1 : PAGE_SIZE;
    }
  }

  private final boolean testAbi;
  private final boolean capSysResource;
  private final TreeMap<Integer, Ioas> objects = new TreeMap<>();
  private boolean mmAccounting;

  ReferenceModel(boolean testAbi, boolean capSysResource) {
    this.testAbi = testAbi;
    this.capSysResource = capSysResource;
  }

  // ---- objects (main.c) ----------------------------------------------------------------------

  /** The IOASes, ascending by id. */
  List<Ioas> ioases() {
    return new ArrayList<>(objects.values());
  }

  Ioas ioas(int id) {
    return objects.get(id);
  }

  /**
   * IOMMU_IOAS_ALLOC (ioas.c: iommufd_ioas_alloc_ioctl()): the lowest free id from 1 (main.c:
   * _iommufd_object_alloc(), iommufd_object_finalize()).
   */
  Outcome ioasAlloc(int flags) {
    if (flags != 0) {
      return Outcome.fail(EOPNOTSUPP);
    }
    int id = 1;
    while (objects.containsKey(id)) {
      id++;
    }
    objects.put(id, new Ioas(id));
    return Outcome.ok(id);
  }

  /**
   * IOMMU_DESTROY (main.c: iommufd_destroy()): nothing references an IOAS here, so it never is
   * EBUSY.
   */
  Outcome destroy(int id) {
    if (objects.remove(id) == null) {
      return Outcome.fail(ENOENT);
    }
    return Outcome.ok(0);
  }

  /** {@code Ioas.close()} of a typed handle: destroys only if the id still names that IOAS. */
  Outcome closeHandle(Ioas handleTarget) {
    if (objects.get(handleTarget.id) == handleTarget) {
      objects.remove(handleTarget.id);
    }
    return Outcome.ok(0);
  }

  /** {@code Iommufd.ioas(id)}: a typed lookup. */
  Outcome lookup(int id) {
    return objects.containsKey(id) ? Outcome.ok(0) : Outcome.fail(ENOENT);
  }

  // ---- IOVA_RANGES (ioas.c: iommufd_ioas_iova_ranges()) --------------------------------------

  /**
   * IOMMU_IOAS_IOVA_RANGES with room for {@code capacity} records of which the first {@code
   * writableSlots} can be written (later slots fault).
   */
  Outcome iovaRanges(int ioasId, int reserved, long capacity, long writableSlots) {
    if (reserved != 0) {
      return Outcome.fail(EOPNOTSUPP);
    }
    Ioas ioas = objects.get(ioasId);
    if (ioas == null) {
      return Outcome.fail(ENOENT);
    }
    List<long[]> holes = holes(ioas.reserved, 0, U64_MAX);
    List<IovaRange> written = new ArrayList<>();
    long count = 0;
    for (long[] h : holes) {
      if (count < capacity) {
        if (count >= writableSlots) {
          return Outcome.fail(EFAULT);
        }
        written.add(new IovaRange(h[0], h[1]));
      }
      count++;
    }
    return new Outcome(count > capacity ? EMSGSIZE : null, count, written, ioas.align());
  }

  // ---- ALLOW_IOVAS (ioas.c: iommufd_ioas_allow_iovas()) --------------------------------------

  /**
   * IOMMU_IOAS_ALLOW_IOVAS with a {@code numIovas}-element array of which only the first {@code
   * readable.size()} elements can be read (the rest fault).
   */
  Outcome allowIovas(int ioasId, int reserved, List<IovaRange> readable, long numIovas) {
    if (reserved != 0) {
      return Outcome.fail(EOPNOTSUPP);
    }
    Ioas ioas = objects.get(ioasId);
    if (ioas == null) {
      return Outcome.fail(ENOENT);
    }
    List<long[]> loaded = new ArrayList<>();
    for (long i = 0; i < numIovas; i++) {
      if (i >= readable.size()) {
        return Outcome.fail(EFAULT);
      }
      IovaRange e = readable.get((int) i);
      if (ge(e.start(), e.last())) {
        return Outcome.fail(EINVAL);
      }
      for (long[] earlier : loaded) {
        if (intersects(earlier[0], earlier[1], e.start(), e.last())) {
          return Outcome.fail(EINVAL);
        }
      }
      loaded.add(new long[] {e.start(), e.last()});
    }
    for (long[] a : loaded) {
      for (long[] r : ioas.reserved) {
        if (intersects(a[0], a[1], r[0], r[1])) {
          return Outcome.fail(EADDRINUSE);
        }
      }
    }
    ioas.allowed = loaded;
    return Outcome.ok(0);
  }

  // ---- reserved ranges (io_pagetable.c: iopt_reserve_iova()) ---------------------------------

  /**
   * IOMMU_TEST_CMD ADD_RESERVED (selftest.c: iommufd_test_add_reserved()): reserving with no owner
   * (io_pagetable.c: iopt_reserve_iova()).
   */
  Outcome addReserved(int ioasId, long start, long length) {
    if (!testAbi) {
      // no IOMMU_TEST_CMD on a production kernel (main.c: iommufd_fops_ioctl())
      return Outcome.fail(ENOTTY);
    }
    if (length == 0) {
      return Outcome.fail(EINVAL);
    }
    if (addOverflows(start, length - 1)) {
      return Outcome.fail(EOVERFLOW);
    }
    long last = start + length - 1;
    Ioas ioas = objects.get(ioasId);
    if (ioas == null) {
      return Outcome.fail(ENOENT);
    }
    for (Area a : ioas.areas) {
      if (intersects(a.iova, a.last, start, last)) {
        return Outcome.fail(EADDRINUSE);
      }
    }
    for (long[] a : ioas.allowed) {
      if (intersects(a[0], a[1], start, last)) {
        return Outcome.fail(EADDRINUSE);
      }
    }
    ioas.reserved.add(new long[] {start, last});
    return Outcome.ok(0);
  }

  // ---- MAP (ioas.c: iommufd_ioas_map()) ------------------------------------------------------

  Outcome map(int flags, int ioasId, int reserved, long userVa, long length, long iova) {
    if ((flags & ~(MAP_FIXED_IOVA | MAP_WRITEABLE | MAP_READABLE)) != 0 || reserved != 0) {
      return Outcome.fail(EOPNOTSUPP); // step 1
    }
    if (iova == U64_MAX || length == U64_MAX) {
      return Outcome.fail(EOVERFLOW); // step 2
    }
    if ((flags & (MAP_READABLE | MAP_WRITEABLE)) == 0) {
      return Outcome.fail(EINVAL); // step 3
    }
    Ioas ioas = objects.get(ioasId);
    if (ioas == null) {
      return Outcome.fail(ENOENT); // step 4
    }
    if (length == 0 || gt(length, U64_MAX - PAGE_SIZE)) {
      return Outcome.fail(EINVAL); // step 5, the page source
    }
    if (addOverflows(userVa, length)) {
      return Outcome.fail(EOVERFLOW); // a range ending exactly at 2^64 counts
    }
    long base = userVa - Long.remainderUnsigned(userVa, PAGE_SIZE);
    Source source = new Source(base, (flags & MAP_WRITEABLE) != 0);
    return place(
        ioas, flags, length, userVa, iova, List.of(new Slice(source, userVa - base, length)));
  }

  private static int protOf(int flags) {
    return ((flags & MAP_READABLE) != 0 ? PROT_READ : 0)
        | ((flags & MAP_WRITEABLE) != 0 ? PROT_WRITE : 0);
  }

  /**
   * What MAP and COPY do once the IOAS is known: length alignment, placement, insertion per slice.
   */
  private Outcome place(
      Ioas ioas, int flags, long length, long hint, long fixedIova, List<Slice> slices) {
    long align = ioas.align();
    if (Long.remainderUnsigned(length, align) != 0 || length == 0) {
      return Outcome.fail(EINVAL);
    }
    long iova;
    if ((flags & MAP_FIXED_IOVA) != 0) {
      Errno e = checkFixed(ioas, fixedIova, length);
      if (e != null) {
        return Outcome.fail(e);
      }
      iova = fixedIova;
    } else {
      Outcome o = FirstFit.allocIova(ioas, length, hint);
      if (!o.isOk()) {
        return o;
      }
      iova = o.value();
    }
    // Per slice, in order; any failure leaves nothing behind (io_pagetable.c: iopt_insert_area()).
    int prot = protOf(flags);
    List<Area> fresh = new ArrayList<>();
    long at = iova;
    for (Slice s : slices) {
      if ((prot & PROT_WRITE) != 0 && !s.source().writable) {
        return Outcome.fail(EPERM);
      }
      long inPage = Long.remainderUnsigned(s.source().base + s.offset(), PAGE_SIZE);
      if (Long.remainderUnsigned(inPage, align) != 0) {
        return Outcome.fail(EINVAL);
      }
      if (addOverflows(at, s.length() - 1)) {
        return Outcome.fail(EOVERFLOW);
      }
      fresh.add(new Area(at, at + s.length() - 1, prot, s.source(), s.offset()));
      at += s.length();
    }
    for (Area a : fresh) {
      insertSorted(ioas.areas, a);
    }
    return Outcome.ok(iova);
  }

  /** Inserts keeping the list sorted; scans from the top, where most inserts land in tests. */
  private static void insertSorted(List<Area> areas, Area a) {
    int i = areas.size();
    while (i > 0 && gt(areas.get(i - 1).iova(), a.iova())) {
      i--;
    }
    areas.add(i, a);
  }

  /** Fixed-IOVA validation (io_pagetable.c: iopt_check_iova()); null when the range may be used. */
  private static Errno checkFixed(Ioas ioas, long iova, long length) {
    if (Long.remainderUnsigned(iova, ioas.align()) != 0) {
      return EINVAL;
    }
    if (addOverflows(iova, length - 1)) {
      return EOVERFLOW;
    }
    long last = iova + length - 1;
    for (long[] r : ioas.reserved) {
      if (intersects(r[0], r[1], iova, last)) {
        return EINVAL;
      }
    }
    // From the top down: areas are sorted and disjoint, so once one ends below iova all do.
    for (int i = ioas.areas.size() - 1; i >= 0; i--) {
      Area a = ioas.areas.get(i);
      if (lt(a.last(), iova)) {
        break;
      }
      if (intersects(a.iova(), a.last(), iova, last)) {
        return EEXIST;
      }
    }
    return null;
  }

  // ---- COPY (ioas.c: iommufd_ioas_copy()) ----------------------------------------------------

  Outcome copy(int flags, int dstIoasId, int srcIoasId, long length, long dstIova, long srcIova) {
    if (testAbi && (flags & MOCK_FLAGS_ACCESS_SYZ) != 0) { // step 0
      flags &= ~MOCK_FLAGS_ACCESS_SYZ;
      Ioas src = objects.get(srcIoasId);
      if (src != null) {
        long n = srcIova & 0xffff_ffffL;
        long offset = srcIova >>> 32;
        srcIova = n < src.areas.size() ? src.areas.get((int) n).iova() + offset : 0;
      }
    }
    if ((flags & ~(MAP_FIXED_IOVA | MAP_WRITEABLE | MAP_READABLE)) != 0) {
      return Outcome.fail(EOPNOTSUPP);
    }
    if (length == U64_MAX || srcIova == U64_MAX || dstIova == U64_MAX) {
      return Outcome.fail(EOVERFLOW);
    }
    if ((flags & (MAP_READABLE | MAP_WRITEABLE)) == 0) {
      return Outcome.fail(EINVAL);
    }
    Ioas src = objects.get(srcIoasId);
    if (src == null) {
      return Outcome.fail(ENOENT);
    }
    if (length == 0) {
      return Outcome.fail(EINVAL);
    }
    if (addOverflows(srcIova, length - 1)) {
      return Outcome.fail(EOVERFLOW);
    }
    List<Slice> slices = contiguousSlices(src, srcIova, srcIova + length - 1);
    if (slices == null) {
      return Outcome.fail(ENOENT);
    }
    Ioas dst = objects.get(dstIoasId);
    if (dst == null) {
      return Outcome.fail(ENOENT);
    }
    Slice first = slices.getFirst();
    return place(dst, flags, length, first.source().base + first.offset(), dstIova, slices);
  }

  /**
   * The slices behind {@code [first, last]}, or null if it is not completely mapped
   * (io_pagetable.h: iopt_for_each_contig_area()).
   */
  private static List<Slice> contiguousSlices(Ioas ioas, long first, long last) {
    Area a = null;
    for (Area x : ioas.areas) {
      if (le(x.iova(), first) && ge(x.last(), first)) {
        a = x;
      }
    }
    List<Slice> out = new ArrayList<>();
    long pos = first;
    while (a != null) {
      long sliceLast = min(a.last(), last);
      out.add(new Slice(a.source(), a.offset() + (pos - a.iova()), sliceLast - pos + 1));
      if (ge(a.last(), last)) {
        return out;
      }
      pos = a.last() + 1;
      Area next = null;
      for (Area x : ioas.areas) {
        if (x.iova() == pos) {
          next = x;
        }
      }
      a = next;
    }
    return null;
  }

  // ---- UNMAP (ioas.c: iommufd_ioas_unmap(); io_pagetable.c: iopt_unmap_iova_range()) ---------

  Outcome unmap(int ioasId, long iova, long length) {
    Ioas ioas = objects.get(ioasId);
    if (ioas == null) {
      return Outcome.fail(ENOENT);
    }
    if (iova == 0 && length == U64_MAX) {
      long total = 0;
      for (Area a : ioas.areas) {
        total += a.length();
      }
      ioas.areas.clear();
      return Outcome.ok(total);
    }
    if (iova == U64_MAX || length == U64_MAX) {
      return Outcome.fail(EOVERFLOW);
    }
    if (length == 0) {
      return Outcome.fail(EINVAL);
    }
    if (addOverflows(iova, length - 1)) {
      return Outcome.fail(EOVERFLOW);
    }
    long last = iova + length - 1;
    long start = iova;
    long total = 0;
    while (true) {
      Area lowest = null;
      for (Area a : ioas.areas) {
        if (intersects(a.iova(), a.last(), start, last)) {
          lowest = a;
          break; // the list is sorted
        }
      }
      if (lowest == null) {
        break;
      }
      if (lt(lowest.iova(), start) || gt(lowest.last(), last)) {
        return Outcome.fail(ENOENT); // superset rule; areas removed so far stay removed
      }
      ioas.areas.remove(lowest);
      total += lowest.length();
      if (ge(lowest.last(), last)) {
        break;
      }
      start = lowest.last() + 1;
    }
    if (total == 0) {
      return Outcome.fail(ENOENT);
    }
    return Outcome.ok(total);
  }

  // ---- OPTION (main.c: iommufd_option()) -----------------------------------------------------

  Outcome option(int optionId, int op, int reserved, int objectId, long val64) {
    if (reserved != 0) {
      return Outcome.fail(EOPNOTSUPP);
    }
    if (optionId == OPTION_RLIMIT_MODE) {
      if (objectId != 0) {
        return Outcome.fail(EOPNOTSUPP);
      }
      if (op == OPTION_OP_GET) {
        return Outcome.ok(mmAccounting ? 1 : 0);
      }
      if (op == OPTION_OP_SET) {
        if (!capSysResource) {
          return Outcome.fail(EPERM);
        }
        if (!objects.isEmpty()) {
          return Outcome.fail(EBUSY);
        }
        if (val64 != 0 && val64 != 1) {
          return Outcome.fail(EINVAL);
        }
        mmAccounting = val64 == 1;
        return Outcome.ok(val64);
      }
      return Outcome.fail(EOPNOTSUPP);
    }
    if (optionId == OPTION_HUGE_PAGES) {
      Ioas ioas = objects.get(objectId);
      if (ioas == null) {
        return Outcome.fail(ENOENT);
      }
      if (op == OPTION_OP_GET) {
        return Outcome.ok(ioas.hugePages ? 1 : 0);
      }
      if (op != OPTION_OP_SET) {
        return Outcome.fail(EOPNOTSUPP);
      }
      if (val64 == 1) {
        ioas.hugePages = true; // align can only go down
        return Outcome.ok(1);
      }
      if (val64 != 0) {
        return Outcome.fail(EINVAL);
      }
      if (!ioas.hugePages) {
        return Outcome.ok(0);
      }
      // No domains: the EINVAL of "domain and area" cannot happen. align rises from 1 to 4096.
      for (Area a : ioas.areas) {
        if (Long.remainderUnsigned(a.iova(), PAGE_SIZE) != 0
            || Long.remainderUnsigned(a.length(), PAGE_SIZE) != 0
            || a.inPageOffset() != 0) {
          return Outcome.fail(EADDRINUSE);
        }
      }
      ioas.hugePages = false;
      return Outcome.ok(0);
    }
    return Outcome.fail(EOPNOTSUPP);
  }
}
