package org.iommufd4j;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * An I/O address space (IOAS) of an {@link Iommufd}: a table of IOVA to user-memory mappings
 * (ioas.c). Closing the handle destroys the IOAS ({@code IOMMU_DESTROY}).
 *
 * <p>Lengths and IOVAs are unsigned 64-bit values in {@code long}s; every method fails with the
 * errno the kernel gives for the same arguments.
 */
public interface Ioas extends AutoCloseable {

  /** The object id ({@code out_ioas_id}). */
  int id();

  /**
   * {@code IOMMU_IOAS_MAP} of {@code buffer} at an IOVA the allocator chooses (io_pagetable.c:
   * iopt_alloc_iova()).
   *
   * @throws IommufdException EINVAL for a length or address not aligned to {@link
   *     IovaRanges#alignment()}, ENOSPC when no hole fits, EFAULT/ENOMEM when a domain needs the
   *     pages and they cannot be pinned or charged
   */
  default Mapping map(MemorySegment buffer, Protection protection) {
    return map(buffer.address(), buffer.byteSize(), protection);
  }

  /** As {@link #map(MemorySegment, Protection)} for a raw user address (it need not be mapped). */
  default Mapping map(long userVa, long length, Protection protection) {
    return new Mapping(mapIova(userVa, length, protection), length);
  }

  /**
   * As {@link #map(long, long, Protection)}, answering the IOVA chosen as a primitive: for loops
   * that keep their own account of what they mapped, nothing is allocated per call.
   */
  long mapIova(long userVa, long length, Protection protection);

  /**
   * {@code IOMMU_IOAS_MAP} with {@code IOMMU_IOAS_MAP_FIXED_IOVA}.
   *
   * @throws IommufdException EEXIST if the range overlaps a mapping, EINVAL if it is reserved or
   *     misaligned, EOVERFLOW if it wraps
   */
  default Mapping mapFixed(long iova, MemorySegment buffer, Protection protection) {
    return mapFixed(iova, buffer.address(), buffer.byteSize(), protection);
  }

  /** As {@link #mapFixed(long, MemorySegment, Protection)} for a raw user address. */
  default Mapping mapFixed(long iova, long userVa, long length, Protection protection) {
    mapAt(iova, userVa, length, protection);
    return new Mapping(iova, length);
  }

  /**
   * As {@link #mapFixed(long, long, long, Protection)} without a result (the caller chose the
   * IOVA): nothing is allocated per call.
   */
  void mapAt(long iova, long userVa, long length, Protection protection);

  /**
   * {@code IOMMU_IOAS_COPY}: maps the memory behind {@code [srcIova, srcIova + length)} of {@code
   * source} (which may be this IOAS) again, here, at an IOVA the allocator chooses. The memory is
   * shared, not duplicated.
   *
   * @throws IommufdException ENOENT if the source range is not completely mapped, EPERM when asking
   *     WRITE of memory mapped read-only
   */
  Mapping copy(Ioas source, long srcIova, long length, Protection protection);

  /** {@code IOMMU_IOAS_COPY} with {@code IOMMU_IOAS_MAP_FIXED_IOVA} at {@code dstIova}. */
  Mapping copyFixed(long dstIova, Ioas source, long srcIova, long length, Protection protection);

  /**
   * {@code IOMMU_IOAS_UNMAP}: removes every mapping inside {@code [iova, iova + length)}. Mappings
   * are never split: one that is only partly inside fails the call (ENOENT).
   *
   * @return the number of bytes unmapped (holes in the range do not count)
   * @throws IommufdException ENOENT if nothing was mapped there or a mapping is only partly covered
   */
  long unmap(long iova, long length);

  /** Unmaps exactly {@code mapping}. */
  default long unmap(Mapping mapping) {
    return unmap(mapping.iova(), mapping.length());
  }

  /** {@code IOMMU_IOAS_UNMAP(0, 2^64 - 1)}: removes every mapping; 0 on an empty IOAS. */
  long unmapAll();

  /** {@code IOMMU_IOAS_IOVA_RANGES}: the IOVA ranges usable for mapping, and the alignment. */
  IovaRanges iovaRanges();

  /**
   * {@code IOMMU_IOAS_ALLOW_IOVAS}: restricts automatic IOVA allocation to {@code ranges}; an empty
   * list lifts the restriction.
   *
   * @throws IommufdException EINVAL for a range with {@code start >= last} or overlapping another,
   *     EADDRINUSE if a range intersects a reserved range
   */
  void allowIovas(List<IovaRange> ranges);

  /** {@code IOMMU_OPTION HUGE_PAGES GET}. */
  boolean hugePages();

  /**
   * {@code IOMMU_OPTION HUGE_PAGES SET}.
   *
   * @throws IommufdException EINVAL when disabling on an IOAS with both a domain and a mapping,
   *     EADDRINUSE when a mapping does not conform to the 4 KiB alignment this implies
   */
  void setHugePages(boolean enabled);

  /** {@code IOMMU_DESTROY} of this IOAS. Closing an already destroyed IOAS does nothing. */
  @Override
  void close();
}
