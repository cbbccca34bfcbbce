package org.iommufd4j.engine;

/**
 * One area of an IOAS (io_pagetable.h: struct iopt_area): the IOVA interval {@code [iova, last]}
 * showing bytes {@code [pagesOffset, pagesOffset + length)} of a {@link PageSource}. The {@link
 * AreaTree} keeps its bounds in its nodes' key arrays as well.
 *
 * <p>An area straight from a MAP is the only user of its page source until a domain or an access
 * pins it, COPY shares it or a VFIO unmap cuts the area. Until then it is a row of its {@link
 * AreaTree} leaf (bounds, owner, address, {@link #rowFlags}) and no object at all; the tree makes
 * the {@code Area} when the engine first asks for one and keeps it from then on. The area in turn
 * stands for its source (the owner, the address, writability and accounting mode, all fixed at the
 * MAP) and {@link #pages()} makes the {@link PageSource} on first need. Only the owning IOAS's lock
 * guards these changes, as every other.
 */
final class Area {
  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;
  static final int PROT_MASK = PROT_READ | PROT_WRITE;
  static final int POPULATED = 1 << 2;
  private static final int PREVENT_ACCESS = 1 << 3;

  /** While the page source is not made yet: the memory was mapped WRITEABLE. */
  private static final int WRITABLE_MEMORY = 1 << 4;

  /** While the page source is not made yet: its {@link AccountingMode}'s ordinal, 2 bits. */
  private static final int ACCOUNTING_SHIFT = 5;

  /** The flags a tree row may carry: everything an area without a page source knows. */
  static final int ROW_FLAGS = PROT_MASK | POPULATED | WRITABLE_MEMORY | (3 << ACCOUNTING_SHIFT);

  private static final AccountingMode[] ACCOUNTING = AccountingMode.values();

  final long iova;
  final long last;

  /** The {@link PageSource}, or the {@link Caller} that mapped the memory until one is needed. */
  private Object source;

  /**
   * With a page source: byte offset inside it of the area's first byte. Before: the owner's address
   * of the area's first byte.
   */
  private long offsetOrAddress;

  private int flags;

  /** Active access pins inside the area (device.c: iommufd_access_pin_pages()). */
  int accessCount;

  Area(long iova, long length, int prot, PageSource pages, long pagesOffset) {
    this.iova = iova;
    this.last = iova + length - 1;
    this.source = pages;
    this.offsetOrAddress = pagesOffset;
    this.flags = prot & (PROT_READ | PROT_WRITE);
  }

  /**
   * An area showing the caller's memory from {@code userVa} on, whose page source (pages.c:
   * iopt_alloc_pages()) is made when first needed, with these properties.
   */
  Area(
      long iova,
      long length,
      int prot,
      Caller owner,
      long userVa,
      boolean writable,
      AccountingMode accounting) {
    this.iova = iova;
    this.last = iova + length - 1;
    this.source = owner;
    this.offsetOrAddress = userVa;
    this.flags =
        (prot & (PROT_READ | PROT_WRITE))
            | (writable ? WRITABLE_MEMORY : 0)
            | (accounting.ordinal() << ACCOUNTING_SHIFT);
  }

  /** The flags of an area showing a caller's memory, not yet made: for an {@link AreaTree} row. */
  static int rowFlags(int prot, boolean writable, AccountingMode accounting, boolean populated) {
    return (prot & PROT_MASK)
        | (writable ? WRITABLE_MEMORY : 0)
        | (accounting.ordinal() << ACCOUNTING_SHIFT)
        | (populated ? POPULATED : 0);
  }

  /** The area a tree row with {@link #rowFlags} stood for. */
  static Area ofRow(long iova, long last, Caller owner, long userVa, int rowFlags) {
    return new Area(iova, last, owner, userVa, rowFlags);
  }

  private Area(long iova, long last, Caller owner, long userVa, int flags) {
    this.iova = iova;
    this.last = last;
    this.source = owner;
    this.offsetOrAddress = userVa;
    this.flags = flags;
  }

  /** Whether a row with these {@link #rowFlags} may be written to memory mapped as it was. */
  static boolean rowMemoryAllowsProt(int rowFlags) {
    return (rowFlags & PROT_WRITE) == 0 || (rowFlags & WRITABLE_MEMORY) != 0;
  }

  long length() {
    return last - iova + 1;
  }

  int prot() {
    return flags & (PROT_READ | PROT_WRITE);
  }

  /** The page source, made now if the area still stands for it. */
  PageSource pages() {
    if (source instanceof PageSource p) {
      return p;
    }
    PageSource p = detachedPages();
    p.madeFor = this;
    offsetOrAddress -= p.base;
    source = p;
    return p;
  }

  /**
   * What identifies the page source for inspection, stable from MAP to unmap: the source, or the
   * area that stood for it.
   */
  Object sourceIdentity() {
    if (source instanceof PageSource p) {
      return p.madeFor != null ? p.madeFor : p;
    }
    return this;
  }

  /**
   * The page source for reading: the area's own, or if it is not made yet an equal one that the
   * area does not keep (nothing shares or pins that memory, so nothing can tell them apart).
   */
  PageSource pagesForReading() {
    return source instanceof PageSource p ? p : detachedPages();
  }

  private PageSource detachedPages() {
    return new PageSource(
        offsetOrAddress,
        length(),
        (flags & WRITABLE_MEMORY) != 0,
        ACCOUNTING[(flags >>> ACCOUNTING_SHIFT) & 3],
        (Caller) source);
  }

  /** Byte offset inside the page source of the area's first byte (low 12 bits: in-page offset). */
  long pagesOffset() {
    return source instanceof PageSource ? offsetOrAddress : offsetOrAddress & PageSource.PAGE_MASK;
  }

  /** The process whose memory the area shows. */
  Caller owner() {
    return source instanceof PageSource p ? p.owner : (Caller) source;
  }

  /** Whether the memory was mapped WRITEABLE (COPY and accesses may not write otherwise). */
  boolean writableMemory() {
    return source instanceof PageSource p ? p.writable : (flags & WRITABLE_MEMORY) != 0;
  }

  /** The owner's address of the area's first byte. */
  long userAddress() {
    return source instanceof PageSource p ? p.address(offsetOrAddress) : offsetOrAddress;
  }

  /** Pin users of page {@code index} of the page source (0 when it is not made: no pins). */
  long pinUsers(long index) {
    return source instanceof PageSource p ? p.pinUsers(index) : 0;
  }

  /**
   * In-page offset of the first byte, which the IOAS alignment must divide (io_pagetable.c:
   * iopt_insert_area()).
   */
  long inPageOffset() {
    return userAddress() & PageSource.PAGE_MASK;
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
    return describe(iova, last, prot());
  }

  /** How an area is named in messages, whether made or still a row. */
  static String describe(long iova, long last, int prot) {
    return "Area[" + Unsigned.hex(iova) + ".." + Unsigned.hex(last) + " prot=" + prot + "]";
  }
}
