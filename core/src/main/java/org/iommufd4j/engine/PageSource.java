package org.iommufd4j.engine;

/**
 * The memory behind one MAP (spec §4.1 "page source"): a run of 4 KiB pages of the owner's address
 * space. COPY shares it, so every area created from it, in any IOAS, points here; pins are taken
 * at most once per page of a source (§4.8). Immutable apart from the pin state that domains and
 * accesses add.
 */
final class PageSource {
  static final int PAGE_SHIFT = 12;
  static final long PAGE_SIZE = 1L << PAGE_SHIFT;

  /** Page-aligned start address in the owner's address space. */
  final long base;

  /** Number of 4 KiB pages from {@link #base} that the MAP covered. */
  final long pageCount;

  /** Whether the MAP asked for WRITEABLE; COPY may not add WRITE to a source without it (§3.6). */
  final boolean writable;

  /** Accounting mode fixed at creation (§4.9). */
  final AccountingMode accounting;

  /** The process whose memory this is, and whose limits are charged. */
  final Caller owner;

  PageSource(long userVa, long length, boolean writable, AccountingMode accounting, Caller owner) {
    this.base = userVa & -PAGE_SIZE;
    long lastByte = userVa + length - 1;
    this.pageCount = (lastByte >>> PAGE_SHIFT) - (base >>> PAGE_SHIFT) + 1;
    this.writable = writable;
    this.accounting = accounting;
    this.owner = owner;
  }

  /** The owner's address of byte {@code offset} of the source. */
  long address(long offset) {
    return base + offset;
  }
}
