package org.iommufd4j.engine;

/**
 * One area of an IOAS (io_pagetable.h: struct iopt_area): the IOVA interval {@code [iova, last]}
 * showing bytes {@code [pagesOffset, pagesOffset + length)} of a {@link PageSource}. The {@link
 * AreaTree} keeps its bounds in its nodes' key arrays as well.
 */
final class Area {
  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;
  private static final int POPULATED = 1 << 2;
  private static final int PREVENT_ACCESS = 1 << 3;

  final long iova;
  final long last;
  final PageSource pages;

  /**
   * Byte offset inside {@link #pages} of the area's first byte (its low 12 bits: in-page offset).
   */
  final long pagesOffset;

  private int flags;

  /** Active access pins inside the area (device.c: iommufd_access_pin_pages()). */
  int accessCount;

  Area(long iova, long length, int prot, PageSource pages, long pagesOffset) {
    this.iova = iova;
    this.last = iova + length - 1;
    this.pages = pages;
    this.pagesOffset = pagesOffset;
    this.flags = prot & (PROT_READ | PROT_WRITE);
  }

  long length() {
    return last - iova + 1;
  }

  int prot() {
    return flags & (PROT_READ | PROT_WRITE);
  }

  /** The owner's address of the area's first byte. */
  long userAddress() {
    return pages.address(pagesOffset);
  }

  /**
   * In-page offset of the first byte, which the IOAS alignment must divide (io_pagetable.c:
   * iopt_insert_area()).
   */
  long inPageOffset() {
    return (pages.base + pagesOffset) & (PageSource.PAGE_SIZE - 1);
  }

  /** False while the command creating or destroying it is still working on it. */
  boolean isPopulated() {
    return (flags & POPULATED) != 0;
  }

  void setPopulated() {
    flags |= POPULATED;
  }

  boolean isPreventAccess() {
    return (flags & PREVENT_ACCESS) != 0;
  }

  void setPreventAccess(boolean prevent) {
    flags = prevent ? flags | PREVENT_ACCESS : flags & ~PREVENT_ACCESS;
  }

  @Override
  public String toString() {
    return "Area[" + Unsigned.hex(iova) + ".." + Unsigned.hex(last) + " prot=" + prot() + "]";
  }
}
