package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.MSIX_ENTRY_SIZE;
import static org.iommufd4j.pci.PciRegs.MSIX_ENTRY_VECTOR_CTRL;

import java.util.Arrays;

/**
 * An MSI-X table (16 bytes per vector: address, data, vector control) and its pending-bit array, in
 * the BAR ranges the capability names. Vectors start masked. Guarded by {@link Interrupts}.
 */
final class MsixTable {
  private final ConfigSpace.MsixLayout layout;
  private final byte[] table;
  private final long[] pending;

  MsixTable(ConfigSpace.MsixLayout layout) {
    this.layout = layout;
    this.table = new byte[layout.vectors() * MSIX_ENTRY_SIZE];
    this.pending = new long[(layout.vectors() + 63) / 64];
    reset();
  }

  int vectors() {
    return layout.vectors();
  }

  void reset() {
    Arrays.fill(table, (byte) 0);
    Arrays.fill(pending, 0);
    for (int v = 0; v < vectors(); v++) {
      table[v * MSIX_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CTRL] = 1;
    }
  }

  boolean isMasked(int vector) {
    return (table[vector * MSIX_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CTRL] & 1) != 0;
  }

  void setMasked(int vector, boolean masked) {
    int at = vector * MSIX_ENTRY_SIZE + MSIX_ENTRY_VECTOR_CTRL;
    table[at] = (byte) (masked ? table[at] | 1 : table[at] & ~1);
  }

  boolean isPending(int vector) {
    return (pending[vector / 64] & (1L << vector)) != 0;
  }

  void setPending(int vector, boolean on) {
    if (on) {
      pending[vector / 64] |= 1L << vector;
    } else {
      pending[vector / 64] &= ~(1L << vector);
    }
  }

  /** Whether an access of {@code size} bytes at {@code offset} of BAR {@code bar} is ours. */
  boolean covers(int bar, long offset, int size) {
    return inTable(bar, offset, size) || inPba(bar, offset, size);
  }

  long read(int bar, long offset, int size) {
    long v = 0;
    if (inTable(bar, offset, size)) {
      int at = (int) (offset - layout.tableOffset());
      for (int i = 0; i < size; i++) {
        v |= (table[at + i] & 0xffL) << (8 * i);
      }
    } else {
      long at = offset - layout.pbaOffset();
      for (int i = 0; i < size; i++) {
        long bit = (at + i) * 8;
        long word = bit / 64 < pending.length ? pending[(int) (bit / 64)] : 0;
        v |= ((word >>> (bit % 64)) & 0xffL) << (8 * i);
      }
    }
    return v;
  }

  /** Writes table bytes; the PBA is read-only. */
  void write(int bar, long offset, int size, long value) {
    if (!inTable(bar, offset, size)) {
      return;
    }
    int at = (int) (offset - layout.tableOffset());
    for (int i = 0; i < size; i++) {
      int b = at + i;
      int field = b % MSIX_ENTRY_SIZE;
      if (field >= MSIX_ENTRY_VECTOR_CTRL + 1) {
        continue; // reserved bits of vector control
      }
      byte v = (byte) (value >>> (8 * i));
      table[b] = field == MSIX_ENTRY_VECTOR_CTRL ? (byte) (v & 1) : v;
    }
  }

  private boolean inTable(int bar, long offset, int size) {
    return bar == layout.tableBar()
        && offset >= layout.tableOffset()
        && offset + size <= layout.tableOffset() + table.length;
  }

  private boolean inPba(int bar, long offset, int size) {
    return bar == layout.pbaBar()
        && offset >= layout.pbaOffset()
        && offset + size <= layout.pbaOffset() + pending.length * 8L;
  }
}
