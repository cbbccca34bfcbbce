package org.iommufd4j.engine;

import java.util.HashMap;
import java.util.Map;
import org.iommufd4j.Errno;

/**
 * The memory behind one MAP (io_pagetable.h: struct iopt_pages): a run of 4 KiB pages of the
 * owner's address space. COPY shares it, so every area created from it, in any IOAS, points here;
 * pins are taken at most once per page of a source (pages.c: iopt_area_fill_domains()). Immutable
 * apart from the pin state that domains and accesses add, which its own monitor guards (taken after
 * IOAS locks, before the host's).
 */
final class PageSource {
  static final int PAGE_SHIFT = 12;
  static final long PAGE_SIZE = 1L << PAGE_SHIFT;
  static final long PAGE_MASK = PAGE_SIZE - 1;

  /** Page-aligned start address in the owner's address space. */
  final long base;

  /** Number of 4 KiB pages from {@link #base} that the MAP covered. */
  final long pageCount;

  /**
   * Whether the MAP asked for WRITEABLE; COPY may not add WRITE to a source without it (ioas.c:
   * iommufd_ioas_copy()).
   */
  final boolean writable;

  /** Accounting mode fixed at creation (pages.c: do_update_pinned()). */
  final AccountingMode accounting;

  /** The process whose memory this is, and whose limits are charged. */
  final Caller owner;

  /**
   * The area that stood for this source until it was needed ({@link Area#pages()}), or null: what
   * inspection takes for the source's identity, so that it keeps one from MAP to unmap.
   */
  Area madeFor;

  PageSource(long userVa, long length, boolean writable, AccountingMode accounting, Caller owner) {
    this.base = userVa & -PAGE_SIZE;
    long lastByte = userVa + length - 1;
    this.pageCount = (lastByte >>> PAGE_SHIFT) - (base >>> PAGE_SHIFT) + 1;
    this.writable = writable;
    this.accounting = accounting;
    this.owner = owner;
  }

  /**
   * Pin users per page index: areas stored in a domain and access pins (pages.c:
   * iopt_area_fill_domains()).
   */
  private RangeCounter pinUsers;

  /**
   * Access pin ranges (device.c: iommufd_access_pin_pages()), per exact page index range: use
   * counts. Every access of every IOAS that pins exactly the same pages of this source shares one
   * entry, which holds one pin user on those pages.
   */
  private Map<IndexRange, long[]> accessRanges;

  private record IndexRange(long first, long last) {}

  /** The owner's address of byte {@code offset} of the source. */
  long address(long offset) {
    return base + offset;
  }

  /**
   * Adds one pin user to page indexes {@code [first, last]}. Pages nobody pinned before are pinned
   * now: each must be pinnable in the owner's memory (else EFAULT) and is charged (else ENOMEM). On
   * failure nothing changes.
   */
  synchronized void pin(Host host, long first, long last) {
    if (pinUsers == null) {
      pinUsers = new RangeCounter();
    }
    long[] newly = new long[64];
    int[] runs = {0};
    pinUsers.add(
        first,
        last,
        1,
        (a, b) -> {
          if (2 * runs[0] + 1 >= newly.length) {
            throw new IllegalStateException("page source pins too fragmented");
          }
          newly[2 * runs[0]] = a;
          newly[2 * runs[0] + 1] = b;
          runs[0]++;
        });
    long pages = 0;
    int registered = 0;
    try {
      for (int i = 0; i < runs[0]; i++) {
        long a = newly[2 * i];
        long n = newly[2 * i + 1] - a + 1;
        FaultInjection.check(FaultInjection.Site.PIN);
        if (!owner.memory().isPinnable(address(a << PAGE_SHIFT), n << PAGE_SHIFT, writable)) {
          throw ErrnoException.of(
              Errno.EFAULT,
              "cannot pin user memory at 0x"
                  + Long.toHexString(address(a << PAGE_SHIFT))
                  + " ("
                  + n
                  + " pages)");
        }
        pages += n;
      }
      FaultInjection.check(FaultInjection.Site.CHARGE);
      host.charge(this, pages);
      for (; registered < runs[0]; registered++) {
        long a = newly[2 * registered];
        host.pinFrames(
            owner.memory(), address(a << PAGE_SHIFT), newly[2 * registered + 1] - a + 1, 1);
      }
    } catch (RuntimeException e) {
      pinUsers.add(first, last, -1, (a, b) -> {});
      throw e;
    }
  }

  /** Removes one pin user from {@code [first, last]}; pages nobody needs any more are released. */
  synchronized void unpin(Host host, long first, long last) {
    long[] pages = {0};
    pinUsers.add(
        first,
        last,
        -1,
        (a, b) -> {
          host.pinFrames(owner.memory(), address(a << PAGE_SHIFT), b - a + 1, -1);
          pages[0] += b - a + 1;
        });
    host.uncharge(this, pages[0]);
  }

  /**
   * One more access use of page indexes {@code [first, last]} (device.c:
   * iommufd_access_pin_pages()). The first use of that exact range pins its pages as {@link #pin}
   * does (EFAULT, ENOMEM; nothing changes then).
   */
  synchronized void addAccess(Host host, long first, long last) {
    IndexRange key = new IndexRange(first, last);
    long[] uses = accessRanges == null ? null : accessRanges.get(key);
    if (uses != null) {
      uses[0]++;
      return;
    }
    pin(host, first, last);
    if (accessRanges == null) {
      accessRanges = new HashMap<>();
    }
    accessRanges.put(key, new long[] {1});
  }

  /** Drops one access use of exactly {@code [first, last]}; the last use unpins the range. */
  synchronized void removeAccess(Host host, long first, long last) {
    IndexRange key = new IndexRange(first, last);
    long[] uses = accessRanges == null ? null : accessRanges.get(key);
    if (uses == null) {
      throw new IllegalStateException("no access pin of pages [" + first + ", " + last + "]");
    }
    if (--uses[0] == 0) {
      accessRanges.remove(key);
      unpin(host, first, last);
    }
  }

  /** Uses of the access pin range of exactly {@code [first, last]} (0 = none). */
  synchronized long accessUses(long first, long last) {
    long[] uses = accessRanges == null ? null : accessRanges.get(new IndexRange(first, last));
    return uses == null ? 0 : uses[0];
  }

  /** Pin users of page {@code index} (0 = not pinned). */
  synchronized long pinUsers(long index) {
    return pinUsers == null ? 0 : pinUsers.get(index);
  }

  /** How many of page indexes {@code [first, last]} are pinned (by anyone). */
  synchronized long pinnedPages(long first, long last) {
    return pinUsers == null ? 0 : pinUsers.countNonZero(first, last);
  }

  /** Whether no page of the source is pinned. */
  synchronized boolean isUnpinned() {
    return pinUsers == null || pinUsers.isEmpty();
  }
}
