package org.iommufd4j.engine;

import java.util.HashMap;
import org.iommufd4j.Errno;

/**
 * The selftest mock paging domain (selftest.c: mock_domain_alloc_paging()): aperture {@code [2^24,
 * 2^31 - 1]}, 2 KiB IO pages, plus 1 MiB pages when created for a HUGE_IOVA device. One entry per 2
 * KiB granule, as the reference keeps them (MD_CHECK_MAP and dirty tracking read them): the
 * granule's physical address and flags. Entries live in 1 MiB chunks of a primitive array, so
 * mapping 2 MiB is array work, not objects.
 */
final class MockDomain extends Domain {
  static final long GRANULE = 2048;
  static final long HUGE_PAGE = 512 * GRANULE;

  static final long VALID = 1;
  static final long START = 1 << 1;
  static final long LAST = 1 << 2;
  static final long HUGE = 1 << 3;
  static final long DIRTY = 1 << 4;
  private static final long READ = 1 << 5;
  private static final long WRITE = 1 << 6;
  private static final long FLAGS = GRANULE - 1;
  private static final int CHUNK_SHIFT = 9; // 512 granules = 1 MiB per chunk

  private final HashMap<Long, long[]> chunks = new HashMap<>();
  private long entries;

  /**
   * Dirty tracking capability (HWPT_ALLOC DIRTY_TRACKING) and state (selftest.c:
   * mock_domain_read_and_clear_dirty()).
   */
  final boolean dirtyCapable;

  boolean dirtyTracking;

  MockDomain(boolean hugeIova, boolean dirtyCapable) {
    super(DomainSpec.SELFTEST_MOCK, GRANULE | (hugeIova ? HUGE_PAGE : 0));
    this.dirtyCapable = dirtyCapable;
  }

  private long[] chunk(long granule, boolean create) {
    long key = granule >>> CHUNK_SHIFT;
    long[] c = chunks.get(key);
    if (c == null && create) {
      c = new long[1 << CHUNK_SHIFT];
      chunks.put(key, c);
    }
    return c;
  }

  /** The raw entry of the granule holding {@code iova} (0 if none). */
  long entry(long iova) {
    long g = iova / GRANULE;
    long[] c = chunk(g, false);
    return c == null ? 0 : c[(int) (g & ((1 << CHUNK_SHIFT) - 1))];
  }

  void setEntry(long iova, long value) {
    long g = iova / GRANULE;
    long[] c = chunk(g, true);
    c[(int) (g & ((1 << CHUNK_SHIFT) - 1))] = value;
  }

  @Override
  void map(long iova, long pa, long length, int prot, boolean largePages) {
    long protBits = ((prot & PROT_READ) != 0 ? READ : 0) | ((prot & PROT_WRITE) != 0 ? WRITE : 0);
    boolean hugeCapable = largePages && (pageSizes & HUGE_PAGE) != 0;
    long end = iova + length;
    long pos = iova;
    long[] c = null;
    long chunkKey = -1;
    while (pos != end) {
      long size = hugeCapable ? pageSizeFor(pos, pa, end - pos, HUGE_PAGE) : GRANULE;
      long huge = size == HUGE_PAGE ? HUGE : 0;
      for (long off = 0; off < size; off += GRANULE) {
        long g = (pos + off) / GRANULE;
        if (g >>> CHUNK_SHIFT != chunkKey) { // one chunk lookup per 512 granules
          c = chunk(g, true);
          chunkKey = g >>> CHUNK_SHIFT;
        }
        int i = (int) (g & ((1 << CHUNK_SHIFT) - 1));
        // One map operation per call, or per 4 KiB page with large pages off (pages.c:
        // iopt_area_fill_domains()), which is what lets a VFIO TYPE1 cut (io_pagetable.c:
        // iopt_cut_iova()) unmap on START/LAST boundaries.
        long fromIova = pos + off - iova;
        boolean opStart = fromIova == 0 || (!largePages && (fromIova & 4095) == 0);
        boolean opLast =
            pos + off + GRANULE == end || (!largePages && ((fromIova + GRANULE) & 4095) == 0);
        long flags = VALID | protBits | huge | (opStart ? START : 0) | (opLast ? LAST : 0);
        if (c[i] == 0) {
          entries++;
        }
        c[i] = ((pa + off) & ~FLAGS) | flags;
      }
      pos += size;
      pa += size;
    }
  }

  @Override
  void unmap(long iova, long length) {
    long end = iova + length;
    long[] c = null;
    long chunkKey = -1;
    for (long pos = iova; pos != end; pos += GRANULE) {
      long g = pos / GRANULE;
      if (g >>> CHUNK_SHIFT != chunkKey) {
        c = chunk(g, false);
        chunkKey = g >>> CHUNK_SHIFT;
      }
      if (c == null) {
        continue;
      }
      int i = (int) (g & ((1 << CHUNK_SHIFT) - 1));
      if (c[i] != 0) {
        entries--;
        c[i] = 0;
      }
    }
    if (entries == 0) {
      chunks.clear();
    }
  }

  @Override
  long translate(long iova) {
    long e = entry(iova);
    return e == 0 ? -1 : (e & ~FLAGS) + (iova & FLAGS);
  }

  @Override
  int protection(long iova) {
    long e = entry(iova);
    return ((e & READ) != 0 ? PROT_READ : 0) | ((e & WRITE) != 0 ? PROT_WRITE : 0);
  }

  @Override
  long entryCount() {
    return entries;
  }

  // ---- dirty tracking (selftest.c: mock_domain_read_and_clear_dirty()) ---------------------

  @Override
  boolean supportsDirtyTracking() {
    return dirtyCapable;
  }

  @Override
  boolean isDirtyTracking() {
    return dirtyTracking;
  }

  @Override
  void setDirtyTracking(boolean enable) {
    dirtyTracking = enable;
  }

  @Override
  void deviceWrote(long iova, long length) {
    if (dirtyTracking && length > 0) {
      for (long g = iova / GRANULE; g <= (iova + length - 1) / GRANULE; g++) {
        markDirty(g);
      }
    }
  }

  @Override
  void clearDirty(long iova, long length) {
    scanDirty(iova, length, true, null);
  }

  /** Reading a bitmap while tracking is off is EINVAL (selftest.c: the mock's dirty op). */
  @Override
  void readAndClearDirty(long iova, long length, boolean noClear, DirtySink sink) {
    if (!dirtyTracking) {
      throw ErrnoException.of(Errno.EINVAL, "dirty tracking is off");
    }
    scanDirty(iova, length, !noClear, sink);
  }

  /**
   * The mock's scan (selftest.c: mock_domain_read_and_clear_dirty()): from {@code iova}, a position
   * without an entry advances one granule; one with an entry stands for its whole IO page (1 MiB if
   * HUGE), which is dirty if any granule of the aligned page is; the page's range is reported from
   * the position, and the position advances by the page size.
   */
  private void scanDirty(long iova, long length, boolean clear, DirtySink sink) {
    long end = iova + length;
    long pos = iova;
    do {
      long e = entry(pos);
      if (e == 0) {
        pos += GRANULE;
        continue;
      }
      long size = (e & HUGE) != 0 ? HUGE_PAGE : GRANULE;
      if (testAndClearDirty(pos & -size, size, clear) && sink != null) {
        sink.dirty(pos, size);
      }
      pos += size;
    } while (Long.compareUnsigned(pos, end) < 0);
  }

  private boolean testAndClearDirty(long head, long size, boolean clear) {
    boolean dirty = false;
    for (long off = 0; off < size; off += GRANULE) {
      long g = (head + off) / GRANULE;
      long[] c = chunk(g, false);
      if (c == null) {
        continue;
      }
      int i = (int) (g & ((1 << CHUNK_SHIFT) - 1));
      if ((c[i] & DIRTY) != 0) {
        dirty = true;
        if (clear) {
          c[i] &= ~DIRTY;
        }
      }
    }
    return dirty;
  }

  /**
   * Test op DIRTY (selftest.c: iommufd_test_dirty()): marks entry number {@code index} (entries are
   * numbered by IOVA / 2048) dirty, as a device write would; false if there is no such entry.
   */
  boolean markDirty(long index) {
    long[] c = chunk(index, false);
    if (c == null) {
      return false;
    }
    int i = (int) (index & ((1 << CHUNK_SHIFT) - 1));
    if (c[i] == 0) {
      return false;
    }
    c[i] |= DIRTY;
    return true;
  }
}
