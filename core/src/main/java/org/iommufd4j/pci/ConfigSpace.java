package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A type 0 (endpoint) config space as the device's hardware implements it: the bytes, which bits a
 * write may change, which are write-one-to-clear, and the values a reset restores. Built once per
 * device with {@link #builder}; the header and capabilities are laid out the way QEMU's PCI core
 * lays them out: capabilities from 0x40 in the order added, bytes below 0x100 no capability uses
 * read-write scratch (as in QEMU), extended capabilities chained from 0x100 for PCI Express.
 *
 * <p>Accesses are 1, 2 or 4 bytes, naturally aligned (the kernel's config accessors enforce that
 * before the hardware sees them), little-endian. Thread-safe.
 */
public final class ConfigSpace {
  private final byte[] bytes;
  private final byte[] writable;
  private final byte[] writeOneToClear;
  private final byte[] powerOn;
  private final List<Bar> bars;
  private final MsixLayout msix;
  private volatile Runnable onChange = () -> {};

  /** Where an MSI-X table and PBA live. */
  record MsixLayout(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {}

  private ConfigSpace(Builder b, int size) {
    this.bytes = Arrays.copyOf(b.bytes, size);
    this.writable = Arrays.copyOf(b.writable, size);
    this.writeOneToClear = Arrays.copyOf(b.writeOneToClear, size);
    this.powerOn = bytes.clone();
    this.bars = List.copyOf(b.bars);
    this.msix = b.msix;
  }

  /** A config space with {@code vendorId:deviceId}; everything else is set on the builder. */
  public static Builder builder(int vendorId, int deviceId) {
    return new Builder(vendorId, deviceId);
  }

  /** 256 bytes, or 4096 for a PCI Express device. */
  public int size() {
    return bytes.length;
  }

  /** The BARs the device implements. */
  public List<Bar> bars() {
    return bars;
  }

  /** Reads {@code size} (1, 2 or 4) bytes at {@code offset}, zero-extended. */
  public synchronized int read(int offset, int size) {
    checkAccess(offset, size);
    return get(bytes, offset, size);
  }

  /**
   * Writes {@code size} bytes of {@code value} at {@code offset}: writable bits take the new value,
   * write-one-to-clear bits written as 1 clear, all other bits keep their value.
   */
  public void write(int offset, int size, int value) {
    synchronized (this) {
      checkAccess(offset, size);
      for (int i = 0; i < size; i++) {
        int v = (value >>> (8 * i)) & 0xff;
        int old = bytes[offset + i] & 0xff;
        int w = writable[offset + i] & 0xff;
        int c = writeOneToClear[offset + i] & 0xff;
        bytes[offset + i] = (byte) (((old & ~w) | (v & w)) & ~(v & c));
      }
      clampMsiVectors();
    }
    onChange.run();
  }

  /** Puts every register back to its power-on value (BAR addresses included). */
  public void reset() {
    synchronized (this) {
      System.arraycopy(powerOn, 0, bytes, 0, bytes.length);
    }
    onChange.run();
  }

  /** A copy of all bytes, for inspection. */
  public synchronized byte[] snapshot() {
    return bytes.clone();
  }

  /** The offset of the first standard capability {@code id}, or 0. */
  public synchronized int findCapability(int id) {
    if ((get(bytes, STATUS, 2) & STATUS_CAP_LIST) == 0) {
      return 0;
    }
    int pos = bytes[CAPABILITY_LIST] & 0xfc;
    for (int loops = 48; pos >= STD_HEADER_SIZEOF && loops > 0; loops--) {
      if ((bytes[pos] & 0xff) == id) {
        return pos;
      }
      pos = bytes[pos + CAP_LIST_NEXT] & 0xfc;
    }
    return 0;
  }

  /** The address the BAR register (pair) {@code bar} currently decodes, type bits removed. */
  public synchronized long barAddress(Bar bar) {
    int off = BASE_ADDRESS_0 + 4 * bar.index();
    long low = get(bytes, off, 4) & 0xffff_ffffL;
    return switch (bar.type()) {
      case IO -> low & ~0x3L;
      case MEMORY_32 -> low & ~0xfL;
      case MEMORY_64 -> ((get(bytes, off + 4, 4) & 0xffff_ffffL) << 32) | (low & ~0xfL);
    };
  }

  MsixLayout msix() {
    return msix;
  }

  /** Called after every write and reset (outside the lock). */
  void onChange(Runnable listener) {
    this.onChange = Objects.requireNonNull(listener);
  }

  /** Sets or clears bits the device itself drives (status bits, enables the host programs). */
  void setBits(int offset, int size, int mask, boolean on) {
    synchronized (this) {
      int v = get(bytes, offset, size);
      put(bytes, offset, size, on ? v | mask : v & ~mask);
    }
  }

  /** As QEMU's msi_write_config(): more vectors enabled than capable means all capable. */
  private void clampMsiVectors() {
    int pos = findCapability(CAP_ID_MSI);
    if (pos != 0) {
      int flags = get(bytes, pos + MSI_FLAGS, 2);
      int capable = (flags & MSI_FLAGS_QMASK) >> 1;
      if ((flags & MSI_FLAGS_QSIZE) >> 4 > capable) {
        put(bytes, pos + MSI_FLAGS, 2, (flags & ~MSI_FLAGS_QSIZE) | capable << 4);
      }
    }
  }

  private void checkAccess(int offset, int size) {
    if ((size != 1 && size != 2 && size != 4)
        || offset < 0
        || offset % size != 0
        || offset + size > bytes.length) {
      throw new IllegalArgumentException(
          "config access offset=0x" + Integer.toHexString(offset) + " size=" + size);
    }
  }

  static int get(byte[] a, int offset, int size) {
    int v = 0;
    for (int i = 0; i < size; i++) {
      v |= (a[offset + i] & 0xff) << (8 * i);
    }
    return v;
  }

  static void put(byte[] a, int offset, int size, int value) {
    for (int i = 0; i < size; i++) {
      a[offset + i] = (byte) (value >>> (8 * i));
    }
  }

  /** Builds a config space; capabilities are chained in the order they are added. */
  public static final class Builder {
    private final byte[] bytes = new byte[CFG_SPACE_EXP_SIZE];
    private final byte[] writable = new byte[CFG_SPACE_EXP_SIZE];
    private final byte[] writeOneToClear = new byte[CFG_SPACE_EXP_SIZE];
    private final List<Bar> bars = new ArrayList<>();
    private final List<Extended> extended = new ArrayList<>();
    private int nextCap = STD_HEADER_SIZEOF;
    private int lastNextPointer = CAPABILITY_LIST;
    private boolean express;
    private MsixLayout msix;

    private record Extended(int header, byte[] body) {}

    private Builder(int vendorId, int deviceId) {
      put(bytes, VENDOR_ID, 2, vendorId);
      put(bytes, DEVICE_ID, 2, deviceId);
      // QEMU's pci_init_wmask()/pci_init_w1cmask(): the header's writable and RW1C bits, and
      // everything after the header writable until a capability claims it.
      put(
          writable,
          COMMAND,
          2,
          COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | COMMAND_SERR | COMMAND_INTX_DISABLE);
      put(writeOneToClear, STATUS, 2, STATUS_ERROR_BITS);
      writable[CACHE_LINE_SIZE] = (byte) 0xff;
      writable[INTERRUPT_LINE] = (byte) 0xff;
      Arrays.fill(writable, STD_HEADER_SIZEOF, CFG_SPACE_SIZE, (byte) 0xff);
    }

    /** Subsystem vendor and device ids (QEMU's default for its devices: 1af4:1100). */
    public Builder subsystem(int vendorId, int id) {
      put(bytes, SUBSYSTEM_VENDOR_ID, 2, vendorId);
      put(bytes, SUBSYSTEM_ID, 2, id);
      return this;
    }

    /** The 24-bit class code: base class, subclass, programming interface. */
    public Builder classCode(int classCode) {
      put(bytes, CLASS_PROG, 3, classCode);
      return this;
    }

    public Builder revision(int revision) {
      bytes[REVISION_ID] = (byte) revision;
      return this;
    }

    /** 0 for no INTx, 1..4 for INTA#..INTD#. */
    public Builder interruptPin(int pin) {
      if (pin < 0 || pin > 4) {
        throw new IllegalArgumentException("interrupt pin " + pin);
      }
      bytes[INTERRUPT_PIN] = (byte) pin;
      return this;
    }

    /** Implements {@code bar}: its type bits, and address bits writable down to its size. */
    public Builder bar(Bar bar) {
      for (Bar b : bars) {
        int bLast = b.index() + (b.type() == Bar.Type.MEMORY_64 ? 1 : 0);
        int last = bar.index() + (bar.type() == Bar.Type.MEMORY_64 ? 1 : 0);
        if (bar.index() <= bLast && b.index() <= last) {
          throw new IllegalArgumentException("BAR " + bar.index() + " overlaps BAR " + b.index());
        }
      }
      bars.add(bar);
      int off = BASE_ADDRESS_0 + 4 * bar.index();
      long mask = ~(bar.size() - 1);
      put(bytes, off, 4, bar.flags());
      put(writable, off, 4, (int) mask & (bar.type() == Bar.Type.IO ? ~0x3 : ~0xf));
      if (bar.type() == Bar.Type.MEMORY_64) {
        put(writable, off + 4, 4, (int) (mask >>> 32));
      }
      return this;
    }

    /**
     * An MSI capability with {@code vectors} (1, 2, 4, ..., 32) vectors, 64-bit addresses or not,
     * and per-vector mask and pending bits or not (QEMU's {@code msi_init()} layout).
     */
    public Builder msi(int vectors, boolean address64, boolean perVectorMask) {
      if (Integer.bitCount(vectors) != 1 || vectors > 32) {
        throw new IllegalArgumentException("MSI vectors " + vectors);
      }
      int length = 10 + (address64 ? 4 : 0) + (perVectorMask ? 10 : 0);
      int pos = addCapability(CAP_ID_MSI, length);
      int flags =
          (Integer.numberOfTrailingZeros(vectors) << 1)
              | (address64 ? MSI_FLAGS_64BIT : 0)
              | (perVectorMask ? MSI_FLAGS_MASKBIT : 0);
      put(bytes, pos + MSI_FLAGS, 2, flags);
      put(writable, pos + MSI_FLAGS, 2, MSI_FLAGS_ENABLE | (vectors > 1 ? MSI_FLAGS_QSIZE : 0));
      put(writable, pos + MSI_ADDRESS_LO, 4, 0xffff_fffc);
      if (address64) {
        put(writable, pos + MSI_ADDRESS_HI, 4, 0xffff_ffff);
      }
      int data = pos + (address64 ? MSI_DATA_64 : MSI_DATA_32);
      put(writable, data, 2, 0xffff);
      if (perVectorMask) {
        int maskBits = vectors == 32 ? -1 : (1 << vectors) - 1;
        put(writable, pos + (address64 ? MSI_MASK_64 : MSI_MASK_32), 4, maskBits);
      }
      return this;
    }

    /**
     * An MSI-X capability with {@code vectors} (1..2048) vectors whose table and pending-bit array
     * lie in memory BARs added with {@link #bar} (offsets 8-byte aligned).
     */
    public Builder msix(int vectors, int tableBar, long tableOffset, int pbaBar, long pbaOffset) {
      if (vectors < 1 || vectors > 2048 || (tableOffset & 7) != 0 || (pbaOffset & 7) != 0) {
        throw new IllegalArgumentException("MSI-X vectors=" + vectors);
      }
      requireBarRange(tableBar, tableOffset, (long) vectors * MSIX_ENTRY_SIZE);
      requireBarRange(pbaBar, pbaOffset, (vectors + 63) / 64 * 8L);
      int pos = addCapability(CAP_ID_MSIX, MSIX_SIZEOF);
      put(bytes, pos + MSIX_FLAGS, 2, vectors - 1);
      put(writable, pos + MSIX_FLAGS, 2, MSIX_FLAGS_ENABLE | MSIX_FLAGS_MASKALL);
      put(bytes, pos + MSIX_TABLE, 4, (int) tableOffset | tableBar);
      put(bytes, pos + MSIX_PBA, 4, (int) pbaOffset | pbaBar);
      msix = new MsixLayout(vectors, tableBar, tableOffset, pbaBar, pbaOffset);
      return this;
    }

    /** A power-management capability (version 3, D0 and D3hot, no PME). */
    public Builder powerManagement() {
      int pos = addCapability(CAP_ID_PM, PM_SIZEOF);
      put(bytes, pos + PM_PMC, 2, 0x0003);
      put(writable, pos + PM_CTRL, 2, PM_CTRL_STATE_MASK);
      return this;
    }

    /**
     * A PCI Express capability (version 2, endpoint) that makes config space 4 KiB; {@code
     * functionLevelReset} advertises FLR in Device Capabilities.
     */
    public Builder pciExpress(boolean functionLevelReset) {
      int pos = addCapability(CAP_ID_EXP, EXP_ENDPOINT_SIZEOF_V2);
      express = true;
      put(bytes, pos + EXP_FLAGS, 2, 0x0002);
      put(bytes, pos + EXP_DEVCAP, 4, functionLevelReset ? EXP_DEVCAP_FLR : 0);
      // error reporting enables, relaxed ordering, payload, extended tags, phantom, aux power,
      // no-snoop, read request size; FLR is a command and reads as 0
      put(writable, pos + EXP_DEVCTL, 2, 0x7fff);
      put(bytes, pos + EXP_DEVCTL, 2, 0x2000 | 0x0010 | 0x0800); // 512-byte reads, RO, NS
      put(writeOneToClear, pos + EXP_DEVSTA, 2, 0x000f);
      put(writable, pos + EXP_DEVCTL2, 2, 0x001f | EXP_DEVCTL2_ARI);
      return this;
    }

    /** A vendor-specific capability carrying {@code data} after its length byte. */
    public Builder vendorCapability(byte[] data) {
      int pos = addCapability(CAP_ID_VNDR, 3 + data.length);
      bytes[pos + CAP_FLAGS] = (byte) (3 + data.length);
      System.arraycopy(data, 0, bytes, pos + 3, data.length);
      return this;
    }

    /**
     * A read-only capability {@code id} whose bytes after the id and next pointer are {@code body}
     * (for capabilities this builder has no method for).
     */
    public Builder capability(int id, byte[] body) {
      if (id <= 0 || id > 0xff) {
        throw new IllegalArgumentException("capability id=" + id);
      }
      int pos = addCapability(id, 2 + body.length);
      System.arraycopy(body, 0, bytes, pos + 2, body.length);
      return this;
    }

    /**
     * A read-only extended capability {@code id}/{@code version} whose body (after the 4-byte
     * header) is {@code body}; requires {@link #pciExpress}.
     */
    public Builder extendedCapability(int id, int version, byte[] body) {
      if (id <= 0 || id > 0xffff || version < 0 || version > 0xf) {
        throw new IllegalArgumentException("extended capability id=" + id);
      }
      extended.add(new Extended(id | version << 16, body.clone()));
      return this;
    }

    public ConfigSpace build() {
      if (!express && !extended.isEmpty()) {
        throw new IllegalStateException("extended capabilities need a PCI Express capability");
      }
      int pos = CFG_SPACE_SIZE;
      for (int i = 0; i < extended.size(); i++) {
        byte[] body = extended.get(i).body();
        int length = (4 + body.length + 3) & ~3;
        int next = i + 1 < extended.size() ? pos + length : 0;
        if (pos + length > CFG_SPACE_EXP_SIZE) {
          throw new IllegalStateException("extended capabilities exceed 4 KiB");
        }
        put(bytes, pos, 4, extended.get(i).header() | next << 20);
        System.arraycopy(body, 0, bytes, pos + 4, body.length);
        pos += length;
      }
      for (Bar bar : bars) {
        if (msix != null
            && (bar.index() == msix.tableBar() || bar.index() == msix.pbaBar())
            && bar.type() == Bar.Type.IO) {
          throw new IllegalStateException("MSI-X structures must be in a memory BAR");
        }
      }
      return new ConfigSpace(this, express ? CFG_SPACE_EXP_SIZE : CFG_SPACE_SIZE);
    }

    private int addCapability(int id, int length) {
      int pos = nextCap;
      if (pos + length > CFG_SPACE_SIZE) {
        throw new IllegalStateException("capabilities exceed the 256-byte config space");
      }
      Arrays.fill(writable, pos, pos + length, (byte) 0);
      bytes[pos + CAP_LIST_ID] = (byte) id;
      bytes[lastNextPointer] = (byte) pos;
      lastNextPointer = pos + CAP_LIST_NEXT;
      nextCap = (pos + length + 3) & ~3;
      put(bytes, STATUS, 2, get(bytes, STATUS, 2) | STATUS_CAP_LIST);
      return pos;
    }

    private void requireBarRange(int index, long offset, long length) {
      for (Bar b : bars) {
        if (b.index() == index) {
          if (offset + length > b.size()) {
            throw new IllegalArgumentException("MSI-X structure past the end of BAR " + index);
          }
          return;
        }
      }
      throw new IllegalArgumentException("MSI-X structure in BAR " + index + ", not added yet");
    }
  }
}
