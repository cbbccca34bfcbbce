package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;

import java.util.Arrays;

/**
 * A VT-d-like domain (superpages where the backing and the alignment allow them): a 4-level radix
 * IO page table of 512-entry tables covering a 48-bit IOVA space, with 4 KiB leaves and 2 MiB and 1
 * GiB superpages, as second-level tables of Intel VT-d and x86 page tables are laid out. Each table
 * is a {@code long[512]}; an entry holds the next table's index or a leaf's physical address with
 * present, read, write and superpage bits. Translation is four array reads.
 */
final class RadixDomain extends Domain {
  static final long PAGE_4K = 1L << 12;
  static final long PAGE_2M = 1L << 21;
  static final long PAGE_1G = 1L << 30;

  private static final int LEVELS = 4;
  private static final int BITS = 9;
  private static final long PRESENT = 1;
  private static final long READ = 1 << 1;
  private static final long WRITE = 1 << 2;
  private static final long LEAF = 1 << 7;
  private static final long ADDRESS = -PAGE_4K;

  /** tables[0] is the root; a non-leaf entry stores the child's index shifted above the flags. */
  private long[][] tables = new long[16][];

  private int tableCount;
  private long leaves;

  RadixDomain(DomainSpec spec) {
    super(spec, spec.pageSizes());
    tables[tableCount++] = new long[1 << BITS];
  }

  private static int index(long iova, int level) {
    return (int) ((iova >>> (12 + BITS * level)) & ((1 << BITS) - 1));
  }

  private static int levelOf(long size) {
    return size == PAGE_1G ? 2 : size == PAGE_2M ? 1 : 0;
  }

  private int newTable() {
    if (tableCount == tables.length) {
      tables = Arrays.copyOf(tables, tables.length * 2);
    }
    tables[tableCount] = new long[1 << BITS];
    return tableCount++;
  }

  /**
   * EINVAL for a mapping that allows neither reads nor writes, before anything is mapped: VT-d has
   * no such entry (intel/iommu.c: __domain_mapping()), so a MAP_DMA or IOAS_MAP without permissions
   * fails where such a domain is attached, and so does attaching one to an IOAS that holds one.
   */
  @Override
  void map(long iova, long pa, long length, int prot, boolean largePages) {
    if ((prot & (PROT_READ | PROT_WRITE)) == 0) {
      throw ErrnoException.of(EINVAL, "a VT-d domain maps nothing without read or write");
    }
    long bits =
        PRESENT | ((prot & PROT_READ) != 0 ? READ : 0) | ((prot & PROT_WRITE) != 0 ? WRITE : 0);
    long end = iova + length;
    while (iova != end) {
      long size = pageSizeFor(iova, pa, end - iova, largePages ? PAGE_1G : PAGE_4K);
      int leafLevel = levelOf(size);
      long[] table = tables[0];
      for (int level = LEVELS - 1; level > leafLevel; level--) {
        int i = index(iova, level);
        if (table[i] == 0) {
          table[i] = ((long) newTable() << 12) | PRESENT;
        }
        table = tables[(int) (table[i] >>> 12)];
      }
      table[index(iova, leafLevel)] = (pa & ADDRESS) | bits | (leafLevel > 0 ? LEAF : 0);
      leaves++;
      iova += size;
      pa += size;
    }
  }

  @Override
  void unmap(long iova, long length) {
    long end = iova + length;
    while (iova != end) {
      long[] table = tables[0];
      int level = LEVELS - 1;
      while (true) {
        long e = table[index(iova, level)];
        if (e == 0) { // nothing mapped below: skip to the end of this entry's span
          long span = 1L << (12 + BITS * level);
          long next = (iova & -span) + span;
          if (Long.compareUnsigned(next - iova, end - iova) >= 0) {
            return;
          }
          iova = next;
          break;
        }
        if (level == 0 || (e & LEAF) != 0) {
          table[index(iova, level)] = 0;
          leaves--;
          iova += 1L << (12 + BITS * level);
          break;
        }
        table = tables[(int) (e >>> 12)];
        level--;
      }
    }
  }

  /** The leaf entry covering {@code iova} and its level in {@code level[0]}, or 0. */
  private long leaf(long iova, int[] level) {
    if ((iova >>> 48) != 0) {
      return 0;
    }
    long[] table = tables[0];
    for (int l = LEVELS - 1; ; l--) {
      long e = table[index(iova, l)];
      if (e == 0 || l == 0 || (e & LEAF) != 0) {
        level[0] = l;
        return e;
      }
      table = tables[(int) (e >>> 12)];
    }
  }

  @Override
  long translate(long iova) {
    int[] level = new int[1];
    long e = leaf(iova, level);
    if (e == 0) {
      return -1;
    }
    long pageMask = (1L << (12 + BITS * level[0])) - 1;
    return (e & ADDRESS & ~pageMask) | (iova & pageMask);
  }

  @Override
  int protection(long iova) {
    long e = leaf(iova, new int[1]);
    return ((e & READ) != 0 ? PROT_READ : 0) | ((e & WRITE) != 0 ? PROT_WRITE : 0);
  }

  @Override
  long entryCount() {
    return leaves;
  }

  /** The IO page size {@code iova} is mapped with (0 if unmapped), for tests and inspection. */
  long pageSizeAt(long iova) {
    int[] level = new int[1];
    return leaf(iova, level) == 0 ? 0 : 1L << (12 + BITS * level[0]);
  }
}
