package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.*;

/**
 * vfio-pci's permission table for one kind of config-space region (the standard header, one
 * capability kind, the gaps): per bit, whether it is virtualised (kept in vfio's copy, never read
 * from or written to the device) and whether the program may write it; plus which access routine
 * applies. Sized to whole dwords, so an access that runs past a short capability still finds bits
 * (all zero: readable from the device, not writable). Linux 6.12 {@code
 * drivers/vfio/pci/vfio_pci_config.c}: {@code struct perm_bits} and the {@code init_pci_*_perm()}
 * functions.
 */
final class ConfigPerms {
  /** How reads are answered. */
  enum Read {
    /** Virtualised bits from vfio's copy, the rest from the device (vfio_default_config_read). */
    DEFAULT,
    /** From the device, with capability id/next from vfio's copy (vfio_direct_config_read). */
    DIRECT,
    /** From the device as is (vfio_raw_config_read). */
    RAW,
    /** The standard header: BAR fixup first (vfio_basic_config_read). */
    BASIC,
    /** MSI: the vector count fixed up first (vfio_msi_config_read). */
    MSI
  }

  /** How writes are handled. */
  enum Write {
    /** Dropped. */
    NONE,
    /** Writable virtual bits to the copy, writable other bits to the device. */
    DEFAULT,
    /** To the device as is (vfio_raw_config_write). */
    RAW,
    /** The standard header: COMMAND and INTx disable handling (vfio_basic_config_write). */
    BASIC,
    /** Power management: state changes (vfio_pm_config_write). */
    PM,
    /** PCI Express: FLR and read request size (vfio_exp_config_write). */
    EXP,
    /** MSI: enable and vector count (vfio_msi_config_write). */
    MSI
  }

  static final int ALL = 0xffff_ffff;

  final byte[] virt;
  final byte[] write;
  final Read read;
  final Write writer;

  private ConfigPerms(int size, Read read, Write writer) {
    int rounded = (size + 3) & ~3;
    this.virt = new byte[rounded];
    this.write = new byte[rounded];
    this.read = read;
    this.writer = writer;
  }

  /** Regions without a table: readable from the device, id/next virtualised, not writable. */
  static final ConfigPerms DIRECT_READ_ONLY = new ConfigPerms(0, Read.DIRECT, Write.NONE);

  /** Vendor-specific capabilities: read directly, written raw. */
  static final ConfigPerms VENDOR = new ConfigPerms(0, Read.DIRECT, Write.RAW);

  /** Bytes no capability claims: raw both ways (devices hide registers there). */
  static final ConfigPerms UNASSIGNED = new ConfigPerms(0, Read.RAW, Write.RAW);

  /** init_pci_cap_basic_perm(). */
  static final ConfigPerms BASIC = new ConfigPerms(STD_HEADER_SIZEOF, Read.BASIC, Write.BASIC);

  /** init_pci_cap_pm_perm(). */
  static final ConfigPerms PM = new ConfigPerms(PM_SIZEOF, Read.DEFAULT, Write.PM);

  /** init_pci_cap_exp_perm(). */
  static final ConfigPerms EXP = new ConfigPerms(EXP_ENDPOINT_SIZEOF_V2, Read.DEFAULT, Write.EXP);

  /** init_pci_ext_cap_err_perm(). */
  static final ConfigPerms AER = new ConfigPerms(0x2c, Read.DEFAULT, Write.DEFAULT);

  /** init_pci_ext_cap_pwr_perm(). */
  static final ConfigPerms POWER_BUDGET = new ConfigPerms(0x10, Read.DEFAULT, Write.DEFAULT);

  static {
    // ids virtual (VFs read all ones); INTx disable virtual, the rest of COMMAND to the
    // device; the capability-list bit virtual so capabilities can be hidden; BARs, ROM,
    // capability pointer, interrupt line and pin entirely virtual
    BASIC.set(VENDOR_ID, 2, 0xffff, 0);
    BASIC.set(DEVICE_ID, 2, 0xffff, 0);
    BASIC.set(COMMAND, 2, COMMAND_INTX_DISABLE, 0xffff);
    BASIC.set(STATUS, 2, STATUS_CAP_LIST, 0);
    BASIC.set(CACHE_LINE_SIZE, 1, 0, 0xff);
    BASIC.set(LATENCY_TIMER, 1, 0, 0xff);
    BASIC.set(BIST, 1, 0, 0xff);
    for (int bar = 0; bar < 6; bar++) {
      BASIC.set(BASE_ADDRESS_0 + 4 * bar, 4, ALL, ALL);
    }
    BASIC.set(ROM_ADDRESS, 4, ALL, ALL);
    BASIC.set(CAPABILITY_LIST, 1, 0xff, 0);
    BASIC.set(INTERRUPT_LINE, 1, 0xff, 0xff);
    BASIC.set(INTERRUPT_PIN, 1, 0xff, 0);

    // PME is the host's business: its support bits, enable and status are virtual (and cleared
    // in the copy); the power state is set by vfio on the program's behalf, never written raw
    PM.set(CAP_LIST_NEXT, 1, 0xff, 0);
    PM.set(PM_PMC, 2, PM_CAP_PME_MASK, 0);
    PM.set(
        PM_CTRL,
        4,
        PM_CTRL_PME_ENABLE | PM_CTRL_PME_STATUS,
        ~(PM_CTRL_PME_ENABLE | PM_CTRL_PME_STATUS | PM_CTRL_STATE_MASK));

    // device control is writable except phantom functions; FLR, payload size and read request
    // size are virtual; ARI forwarding belongs to the host
    EXP.set(CAP_LIST_NEXT, 1, 0xff, 0);
    EXP.set(
        EXP_DEVCTL,
        2,
        EXP_DEVCTL_BCR_FLR | EXP_DEVCTL_PAYLOAD | EXP_DEVCTL_READRQ,
        ~EXP_DEVCTL_PHANTOM & 0xffff);
    EXP.set(EXP_DEVCTL2, 2, 0, ~EXP_DEVCTL2_ARI & 0xffff);

    // the first dword of an extended capability holds the next pointer: virtual, read-only
    AER.set(0, 4, ALL, 0);
    int uncorrectable =
        0x0000_0001
            | 0x0000_0010
            | 0x0000_0020
            | 0x0000_1000
            | 0x0000_2000
            | 0x0000_4000
            | 0x0000_8000
            | 0x0001_0000
            | 0x0002_0000
            | 0x0004_0000
            | 0x0008_0000
            | 0x0010_0000
            | 0x0020_0000
            | 0x0040_0000
            | 0x0080_0000
            | 0x0100_0000
            | 0x0200_0000;
    AER.set(0x04, 4, 0, uncorrectable);
    AER.set(0x08, 4, 0, uncorrectable);
    AER.set(0x0c, 4, 0, uncorrectable);
    int correctable = 0x0001 | 0x0040 | 0x0080 | 0x0100 | 0x1000 | 0x2000 | 0x4000 | 0x8000;
    AER.set(0x10, 4, 0, correctable);
    AER.set(0x14, 4, 0, correctable);
    AER.set(0x18, 4, 0, 0x0040 | 0x0100); // ECRC generation and check enable

    POWER_BUDGET.set(0, 4, ALL, 0);
    POWER_BUDGET.set(0x04, 1, 0, 0xff); // the data select register
  }

  /** init_pci_cap_msi_perm(): per device, because the layout depends on the MSI flags. */
  static ConfigPerms msi(int flags) {
    boolean is64 = (flags & MSI_FLAGS_64BIT) != 0;
    boolean mask = (flags & MSI_FLAGS_MASKBIT) != 0;
    ConfigPerms p = new ConfigPerms(msiLength(flags), Read.MSI, Write.MSI);
    p.set(CAP_LIST_NEXT, 1, 0xff, 0);
    p.set(MSI_FLAGS, 1, 0xff, 0xff); // the upper byte of the control register is reserved
    p.set(MSI_ADDRESS_LO, 4, ALL, ALL);
    if (is64) {
      p.set(MSI_ADDRESS_HI, 4, ALL, ALL);
      p.set(MSI_DATA_64, 2, 0xffff, 0xffff);
      if (mask) {
        p.set(MSI_MASK_64, 4, 0, ALL);
        p.set(MSI_PENDING_64, 4, 0, ALL);
      }
    } else {
      p.set(MSI_DATA_32, 2, 0xffff, 0xffff);
      if (mask) {
        p.set(MSI_MASK_32, 4, 0, ALL);
        p.set(MSI_PENDING_32, 4, 0, ALL);
      }
    }
    return p;
  }

  /** vfio_msi_cap_len(). */
  static int msiLength(int flags) {
    return 10
        + ((flags & MSI_FLAGS_64BIT) != 0 ? 4 : 0)
        + ((flags & MSI_FLAGS_MASKBIT) != 0 ? 10 : 0);
  }

  /** The virtual bits of {@code count} bytes at {@code offset}, as a little-endian value. */
  int virt(int offset, int count) {
    return bits(virt, offset, count);
  }

  int write(int offset, int count) {
    return bits(write, offset, count);
  }

  private static int bits(byte[] a, int offset, int count) {
    return offset + count <= a.length ? ConfigSpace.get(a, offset, count) : 0;
  }

  private void set(int offset, int size, int virtBits, int writeBits) {
    ConfigSpace.put(virt, offset, size, virtBits);
    ConfigSpace.put(write, offset, size, writeBits);
  }
}
