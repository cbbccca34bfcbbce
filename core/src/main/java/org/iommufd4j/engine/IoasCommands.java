package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENOENT;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.engine.Unsigned.U64_MAX;
import static org.iommufd4j.engine.Unsigned.gt;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.engine.Unsigned.intersects;
import static org.iommufd4j.engine.Unsigned.lt;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_GET;
import static org.iommufd4j.uapi.IommuOption.IOMMU_OPTION_OP_SET;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_SYZ;

import java.util.Arrays;
import java.util.List;
import java.util.function.IntPredicate;
import org.iommufd4j.IovaRanges;

/**
 * The IOAS family (the kernel's {@code ioas.c}): IOAS_ALLOC, IOVA_RANGES, ALLOW_IOVAS, MAP, COPY,
 * UNMAP and the HUGE_PAGES option, every check in the order Linux 6.12 makes it, then the change on
 * the {@link IoPagetable}. Both front doors (byte ABI and typed API) end here.
 */
public final class IoasCommands {
  static final int MAP_FLAGS =
      IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE;

  /** MAP's page source refuses lengths above 2^64 - 1 - 4096 (ioas.c: iommufd_ioas_map()). */
  private static final long MAX_MAP_LENGTH = U64_MAX - PageSource.PAGE_SIZE;

  private final Context ctx;

  IoasCommands(Context ctx) {
    this.ctx = ctx;
  }

  /**
   * {@code IOMMU_IOAS_ALLOC} (ioas.c: iommufd_ioas_alloc_ioctl()). {@code respond} writes the id to
   * the caller and returns false if that faulted; the IOAS is then destroyed again and the call
   * fails with EFAULT.
   */
  public int alloc(int flags, IntPredicate respond) {
    if (flags != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    IoasObject ioas = new IoasObject(ctx.host);
    ctx.table.reserve(ioas);
    if (!respond.test(ioas.id)) {
      ctx.table.abort(ioas);
      throw ErrnoException.of(EFAULT, "cannot write out_ioas_id");
    }
    ctx.table.publish(ioas);
    return ioas.id;
  }

  /** The IOAS {@code id}, for typed handles; ENOENT if there is none. */
  public IoasObject lookup(int id) {
    return ctx.ioas(id);
  }

  /** {@code IOMMU_IOAS_IOVA_RANGES} (ioas.c: iommufd_ioas_iova_ranges()). */
  public IovaRanges iovaRanges(int ioasId, int reserved) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    IoasObject ioas = ctx.ioas(ioasId);
    ioas.lockLive();
    try {
      return new IovaRanges(ioas.iopt.usableRanges(), ioas.iopt.align());
    } finally {
      ioas.lock.unlock();
    }
  }

  /** {@code IOMMU_IOAS_ALLOW_IOVAS} (ioas.c: iommufd_ioas_allow_iovas()). */
  public void allowIovas(int ioasId, int reserved, int count, RangeReader reader) {
    if (reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "__reserved=" + reserved);
    }
    IoasObject ioas = ctx.ioas(ioasId);
    long n = Integer.toUnsignedLong(count);
    long[] pairs = new long[(int) Math.min(2 * n, 64)]; // grows as elements prove readable
    long[] element = new long[2];
    for (int i = 0; i < n; i++) {
      reader.read(i, element);
      long start = element[0];
      long last = element[1];
      if (!lt(start, last)) {
        throw ErrnoException.of(
            EINVAL, "allowed range " + i + ": start=" + hex(start) + " last=" + hex(last));
      }
      for (int j = 0; j < 2 * i; j += 2) {
        if (intersects(pairs[j], pairs[j + 1], start, last)) {
          throw ErrnoException.of(EINVAL, "allowed range " + i + " overlaps range " + (j / 2));
        }
      }
      if (2 * i + 1 >= pairs.length) {
        pairs = Arrays.copyOf(pairs, pairs.length * 2);
      }
      pairs[2 * i] = start;
      pairs[2 * i + 1] = last;
    }
    long[] sorted = sortPairs(Arrays.copyOf(pairs, (int) (2 * n)));
    ioas.lockLive();
    try {
      ioas.iopt.setAllowed(sorted);
    } finally {
      ioas.lock.unlock();
    }
  }

  private static long[] sortPairs(long[] pairs) {
    int n = pairs.length / 2;
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Long.compareUnsigned(pairs[2 * a], pairs[2 * b]));
    long[] out = new long[pairs.length];
    for (int i = 0; i < n; i++) {
      out[2 * i] = pairs[2 * order[i]];
      out[2 * i + 1] = pairs[2 * order[i] + 1];
    }
    return out;
  }

  private static int protOf(int flags) {
    return ((flags & IOMMU_IOAS_MAP_READABLE) != 0 ? Area.PROT_READ : 0)
        | ((flags & IOMMU_IOAS_MAP_WRITEABLE) != 0 ? Area.PROT_WRITE : 0);
  }

  /** {@code IOMMU_IOAS_MAP} (ioas.c: iommufd_ioas_map()); returns the IOVA used. */
  public long map(Caller caller, MapRequest r) {
    return map(caller, r.flags(), r.ioasId(), r.reserved(), r.userVa(), r.length(), r.iova());
  }

  /**
   * {@code IOMMU_IOAS_MAP} from the struct's fields; returns the IOVA used. Without a domain the
   * mapping is a row of the area tree and allocates nothing; with one, the area and its page source
   * are made at once, since the domain pins the pages.
   */
  public long map(
      Caller caller, int flags, int ioasId, int reserved, long userVa, long length, long iova) {
    if ((flags & ~MAP_FLAGS) != 0 || reserved != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags) + " __reserved=" + reserved);
    }
    if (iova == U64_MAX || length == U64_MAX) {
      throw ErrnoException.of(EOVERFLOW, "iova=" + hex(iova) + " length=" + hex(length));
    }
    if ((flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)) == 0) {
      throw ErrnoException.of(EINVAL, "neither READABLE nor WRITEABLE");
    }
    IoasObject ioas = ctx.ioas(ioasId);
    checkUserMemory(userVa, length);
    AccountingMode accounting = ctx.accountingMode(caller);
    boolean writable = (flags & IOMMU_IOAS_MAP_WRITEABLE) != 0;
    int prot = protOf(flags);
    IoPagetable iopt = ioas.iopt;
    ioas.lockLive();
    try {
      checkLengthAligned(iopt, length);
      boolean fixed = (flags & IOMMU_IOAS_MAP_FIXED_IOVA) != 0;
      if (!iopt.hasDomains()) {
        int rowFlags = Area.rowFlags(prot, writable, accounting, true);
        return iopt.mapRow(fixed, iova, length, caller, userVa, rowFlags);
      }
      Area area;
      if (fixed) {
        area = iopt.insertFixed(new Area(iova, length, prot, caller, userVa, writable, accounting));
      } else {
        long chosen = iopt.allocIova(length, userVa);
        area = iopt.insert(new Area(chosen, length, prot, caller, userVa, writable, accounting));
      }
      iopt.commit(area);
      return area.iova;
    } finally {
      ioas.lock.unlock();
    }
  }

  /**
   * For MAP and VFIO_IOMMU_MAP_DMA (pages.c: iopt_alloc_pages()): a new page source for the
   * caller's memory, as the one slice to place. EINVAL for a length of 0 or above 2^64 - 4097,
   * EOVERFLOW when the memory would end past 2^64 - 1.
   */
  List<IoPagetable.Slice> userSlices(Caller caller, long userVa, long length, boolean writable) {
    checkUserMemory(userVa, length);
    PageSource pages = new PageSource(userVa, length, writable, ctx.accountingMode(caller), caller);
    return List.of(new IoPagetable.Slice(pages, userVa - pages.base, length));
  }

  /** EINVAL for a length of 0 or above 2^64 - 4097, EOVERFLOW past 2^64 - 1 (pages.c). */
  private static void checkUserMemory(long userVa, long length) {
    if (length == 0 || gt(length, MAX_MAP_LENGTH)) {
      throw ErrnoException.of(EINVAL, "length=" + hex(length));
    }
    if (lt(userVa + length, userVa)) {
      throw ErrnoException.of(EOVERFLOW, "user_va=" + hex(userVa) + " length=" + hex(length));
    }
  }

  /** What MAP, COPY and VFIO_IOMMU_MAP_DMA do once the IOAS is locked. */
  static long place(
      IoPagetable iopt,
      int flags,
      long length,
      long hint,
      long fixedIova,
      List<IoPagetable.Slice> slices) {
    if (slices.size() == 1) {
      IoPagetable.Slice s = slices.getFirst();
      return place(iopt, flags, length, hint, fixedIova, s.pages(), s.offset());
    }
    checkLengthAligned(iopt, length);
    long iova;
    if ((flags & IOMMU_IOAS_MAP_FIXED_IOVA) != 0) {
      iopt.checkFixed(fixedIova, length);
      iova = fixedIova;
    } else {
      iova = iopt.allocIova(length, hint);
    }
    iopt.commit(iopt.insert(iova, slices, protOf(flags)));
    return iova;
  }

  /** {@link #place(IoPagetable, int, long, long, long, List)} for one slice of a page source. */
  private static long place(
      IoPagetable iopt,
      int flags,
      long length,
      long hint,
      long fixedIova,
      PageSource pages,
      long offset) {
    checkLengthAligned(iopt, length);
    int prot = protOf(flags);
    Area area =
        (flags & IOMMU_IOAS_MAP_FIXED_IOVA) != 0
            ? iopt.insertFixed(new Area(fixedIova, length, prot, pages, offset))
            : iopt.insert(new Area(iopt.allocIova(length, hint), length, prot, pages, offset));
    iopt.commit(area);
    return area.iova;
  }

  private static void checkLengthAligned(IoPagetable iopt, long length) {
    if ((length & (iopt.align() - 1)) != 0) {
      throw ErrnoException.of(
          EINVAL, "length=" + hex(length) + " not aligned to " + hex(iopt.align()));
    }
  }

  /** {@code IOMMU_IOAS_COPY} (ioas.c: iommufd_ioas_copy()); returns the destination IOVA used. */
  public long copy(Caller caller, CopyRequest r) {
    int flags = r.flags();
    long srcIova = r.srcIova();
    if (ctx.testAbi() && (flags & MOCK_FLAGS_ACCESS_SYZ) != 0) {
      flags &= ~MOCK_FLAGS_ACCESS_SYZ;
      srcIova = syzSourceIova(r.srcIoasId(), srcIova);
    }
    if ((flags & ~MAP_FLAGS) != 0) {
      throw ErrnoException.of(EOPNOTSUPP, "flags=" + hex(flags));
    }
    if (r.length() == U64_MAX || srcIova == U64_MAX || r.dstIova() == U64_MAX) {
      throw ErrnoException.of(
          EOVERFLOW,
          "length="
              + hex(r.length())
              + " src_iova="
              + hex(srcIova)
              + " dst_iova="
              + hex(r.dstIova()));
    }
    if ((flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)) == 0) {
      throw ErrnoException.of(EINVAL, "neither READABLE nor WRITEABLE");
    }
    IoasObject src = ctx.ioas(r.srcIoasId());
    List<IoPagetable.Slice> slices;
    src.lockLive();
    try {
      slices = src.iopt.collectSlices(srcIova, r.length());
    } finally {
      src.lock.unlock();
    }
    IoasObject dst = ctx.ioas(r.dstIoasId());
    IoPagetable.Slice first = slices.getFirst();
    long hint = first.pages().address(first.offset());
    dst.lockLive();
    try {
      return place(dst.iopt, flags, r.length(), hint, r.dstIova(), slices);
    } finally {
      dst.lock.unlock();
    }
  }

  /** Test kernels: {@code src_iova} = IOVA of area n (low 32 bits) + offset (high 32 bits). */
  private long syzSourceIova(int srcIoasId, long srcIova) {
    IoasObject src;
    try {
      src = ctx.ioas(srcIoasId);
    } catch (ErrnoException e) {
      return srcIova;
    }
    src.lockLive();
    try {
      return src.iopt.syzIova(srcIova);
    } finally {
      src.lock.unlock();
    }
  }

  /** {@code IOMMU_IOAS_UNMAP} (ioas.c: iommufd_ioas_unmap()); returns the bytes unmapped. */
  public long unmap(int ioasId, long iova, long length) {
    IoasObject ioas = ctx.ioas(ioasId);
    boolean all = iova == 0 && length == U64_MAX;
    if (!all) {
      if (iova == U64_MAX || length == U64_MAX) {
        throw ErrnoException.of(EOVERFLOW, "iova=" + hex(iova) + " length=" + hex(length));
      }
      if (length == 0) {
        throw ErrnoException.of(EINVAL, "length=0");
      }
      if (Unsigned.lastOverflows(iova, length)) {
        throw ErrnoException.of(EOVERFLOW, "iova=" + hex(iova) + " length=" + hex(length));
      }
    }
    long removed;
    ioas.lockLive();
    try {
      removed = ioas.iopt.removeRange(iova, all ? U64_MAX : iova + length - 1);
    } finally {
      ioas.lock.unlock();
    }
    if (!all && removed == 0) {
      throw ErrnoException.of(
          ENOENT, "nothing mapped in [" + hex(iova) + ", " + hex(iova + length - 1) + "]");
    }
    return removed;
  }

  /** OPTION HUGE_PAGES (ioas.c: iommufd_ioas_option_huge_pages()); returns val64 to write back. */
  long hugePagesOption(int op, int ioasId, long val64) {
    IoasObject ioas = ctx.ioas(ioasId);
    ioas.lockLive();
    try {
      switch (op) {
        case IOMMU_OPTION_OP_GET:
          return ioas.iopt.hugePages() ? 1 : 0;
        case IOMMU_OPTION_OP_SET:
          if (val64 != 0 && val64 != 1) {
            throw ErrnoException.of(EINVAL, "HUGE_PAGES val64=" + hex(val64));
          }
          ioas.iopt.setHugePages(val64 == 1);
          return val64;
        default:
          throw ErrnoException.of(EOPNOTSUPP, "op=" + op);
      }
    } finally {
      ioas.lock.unlock();
    }
  }
}
