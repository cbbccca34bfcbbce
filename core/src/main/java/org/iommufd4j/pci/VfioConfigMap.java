package org.iommufd4j.pci;

import static org.iommufd4j.pci.PciRegs.*;

import java.util.Arrays;

/**
 * What vfio-pci learns about a device's config space when its file is opened, and its copy of the
 * virtualised bytes: per byte, which capability owns it (and so which {@link ConfigPerms} apply),
 * with capabilities vfio does not know unlinked from the copy's chains. Linux 6.12 {@code
 * vfio_pci_config.c}: {@code vfio_config_init()}, {@code vfio_cap_init()}, {@code
 * vfio_ecap_init()}, {@code pci_config_map} and {@code vconfig}.
 */
final class VfioConfigMap {
  static final int CAP_BASIC = 0;
  static final int INVALID = -1;

  private final ConfigSpace hw;
  private final int size;

  /** vfio's copy of config space: the virtualised bits live here. */
  final byte[] vconfig;

  /** Per byte: the capability id it belongs to, CAP_BASIC for the header, INVALID for gaps. */
  private final int[] map;

  private ConfigPerms msiPerms;
  private boolean extendedCaps;

  VfioConfigMap(ConfigSpace hw) {
    this.hw = hw;
    this.size = hw.size();
    this.vconfig = new byte[size];
    this.map = new int[size];
    Arrays.fill(map, 0, STD_HEADER_SIZEOF, CAP_BASIC);
    Arrays.fill(map, STD_HEADER_SIZEOF, size, INVALID);
    fill(0, STD_HEADER_SIZEOF);
    initCapabilities();
    initExtendedCapabilities();
  }

  /** The permissions for the byte at {@code pos} (vfio_config_do_rw()). */
  ConfigPerms perms(int pos) {
    int cap = map[pos];
    if (cap == INVALID) {
      return ConfigPerms.UNASSIGNED;
    }
    return pos >= CFG_SPACE_SIZE ? extendedPerms(cap) : capabilityPerms(cap);
  }

  /** Where the region holding {@code pos} starts: 0 for the header, pos itself in a gap. */
  int regionStart(int pos) {
    int cap = map[pos];
    return cap == INVALID
        ? pos
        : cap == CAP_BASIC && pos < CFG_SPACE_SIZE ? 0 : capabilityStart(pos);
  }

  /** vfio_cap_init(): copies the chain, unlinking capabilities without a known length. */
  private void initCapabilities() {
    if ((hw.read(STATUS, 2) & STATUS_CAP_LIST) == 0) {
      return;
    }
    int pos = hw.read(CAPABILITY_LIST, 1);
    int prev = CAPABILITY_LIST;
    int caps = 0;
    for (int loops = (CFG_SPACE_SIZE - STD_HEADER_SIZEOF) / 4; pos != 0 && loops > 0; loops--) {
      int cap = hw.read(pos, 1);
      int next = hw.read(pos + CAP_LIST_NEXT, 1);
      int len = cap != 0 && cap <= CAP_ID_MAX ? capabilityLength(cap, pos) : 0;
      if (len == 0) {
        vconfig[prev] = (byte) next;
        pos = next;
        continue;
      }
      Arrays.fill(map, pos, pos + len, cap);
      fill(pos, len);
      if (cap == CAP_ID_PM) { // the program cannot handle PME: it sees none
        vset(pos + PM_PMC, 2, vget(pos + PM_PMC, 2) & ~PM_CAP_PME_MASK);
        vset(pos + PM_CTRL, 2, vget(pos + PM_CTRL, 2) & ~(PM_CTRL_PME_ENABLE | PM_CTRL_PME_STATUS));
      }
      prev = pos + CAP_LIST_NEXT;
      pos = next;
      caps++;
    }
    if (caps == 0) {
      vset(STATUS, 2, vget(STATUS, 2) & ~STATUS_CAP_LIST);
    }
  }

  /** pci_cap_length[] and vfio_cap_len(); 0 hides the capability. */
  private int capabilityLength(int cap, int pos) {
    return switch (cap) {
      case CAP_ID_PM -> PM_SIZEOF;
      case 0x02 -> 12; // AGP
      case 0x03 -> 8; // VPD
      case CAP_ID_MSIX -> MSIX_SIZEOF;
      case CAP_ID_AF -> 6;
      case CAP_ID_MSI -> {
        int flags = hw.read(pos + MSI_FLAGS, 2);
        msiPerms = ConfigPerms.msi(flags);
        yield ConfigPerms.msiLength(flags);
      }
      case CAP_ID_VNDR -> hw.read(pos + CAP_FLAGS, 1);
      case CAP_ID_EXP -> {
        if (size > CFG_SPACE_SIZE) {
          extendedCaps = hw.read(CFG_SPACE_SIZE, 4) != 0;
        }
        int flags = hw.read(pos + EXP_FLAGS, 2);
        boolean rootComplexEndpoint = ((flags >> 4) & 0xf) == 0x9;
        if ((flags & 0xf) == 1) {
          yield rootComplexEndpoint ? 0xc : 20;
        }
        yield rootComplexEndpoint ? 0x2c : EXP_ENDPOINT_SIZEOF_V2;
      }
      case 0x07, 0x08, 0x12 ->
          throw new IllegalArgumentException(
              "capability 0x"
                  + Integer.toHexString(cap)
                  + " (PCI-X, HyperTransport, SATA) is not "
                  + "modelled");
      default -> 0; // slot id, CompactPCI, debug port, SSVID, AGP 8x, secure device, ...
    };
  }

  /** vfio_ecap_init(): copies the extended chain, unlinking the ones vfio hides. */
  private void initExtendedCapabilities() {
    if (!extendedCaps) {
      return;
    }
    int epos = CFG_SPACE_SIZE;
    int prev = -1;
    int ecaps = 0;
    for (int loops = (size - CFG_SPACE_SIZE) / 4; loops > 0 && epos >= CFG_SPACE_SIZE; loops--) {
      int header = hw.read(epos, 4);
      int ecap = header & 0xffff;
      int len = ecap <= EXT_CAP_ID_MAX ? extendedCapabilityLength(ecap, epos) : 0;
      boolean hidden = false;
      if (len == 0) {
        if (prev >= 0) { // not the first: link the previous one past it
          epos = (header >>> 20) & 0xffc;
          vset(prev, 4, (vget(prev, 4) & ~(0xffc << 20)) | epos << 20);
          continue;
        }
        len = 4; // the first anchors the chain: keep its next pointer, hide its id
        hidden = true;
      }
      Arrays.fill(map, epos, epos + len, ecap);
      fill(epos, len);
      if (hidden) {
        vset(epos, 4, vget(epos, 4) & (0xffc << 20));
      } else {
        ecaps++;
      }
      prev = epos;
      epos = (header >>> 20) & 0xffc;
    }
    if (ecaps == 0) {
      vset(CFG_SPACE_SIZE, 4, 0);
    }
  }

  /** pci_ext_cap_length[] and vfio_ext_cap_len(). */
  private int extendedCapabilityLength(int ecap, int epos) {
    return switch (ecap) {
      case EXT_CAP_ID_ERR -> 0x2c;
      case 0x03 -> 12; // device serial number
      case EXT_CAP_ID_PWR -> 0x10;
      case 0x0e, 0x0f, 0x18 -> 8; // ARI, ATS, LTR
      case 0x10 -> 0x40; // SR-IOV
      case 0x12 -> 40; // multicast
      case 0x13 -> 16; // page request
      case EXT_CAP_ID_VNDR, EXT_CAP_ID_DVSEC -> hw.read(epos + 4, 4) >>> 20;
      case 0x02, 0x08, 0x09, 0x0d, 0x15, 0x16, 0x17 ->
          throw new IllegalArgumentException(
              "extended capability 0x"
                  + Integer.toHexString(ecap)
                  + " (VC, MFVC, ACS, resizable "
                  + "BAR, DPA, TPH) is not modelled");
      default -> 0; // root-complex only, obsolete, PASID, and everything vfio does not know
    };
  }

  private ConfigPerms extendedPerms(int ecap) {
    return switch (ecap) {
      case EXT_CAP_ID_ERR -> ConfigPerms.AER;
      case EXT_CAP_ID_PWR -> ConfigPerms.POWER_BUDGET;
      case EXT_CAP_ID_VNDR, EXT_CAP_ID_DVSEC -> ConfigPerms.VENDOR;
      default -> ConfigPerms.DIRECT_READ_ONLY;
    };
  }

  /**
   * The kernel also has handlers for VPD (read through pci_read_vpd()), PCI-X and Advanced
   * Features; ConfigSpace.Builder makes none of them, so here they read directly, unwritable.
   */
  private ConfigPerms capabilityPerms(int cap) {
    return switch (cap) {
      case CAP_BASIC -> ConfigPerms.BASIC;
      case CAP_ID_PM -> ConfigPerms.PM;
      case CAP_ID_EXP -> ConfigPerms.EXP;
      case CAP_ID_MSI -> msiPerms;
      case CAP_ID_VNDR -> ConfigPerms.VENDOR;
      default -> ConfigPerms.DIRECT_READ_ONLY;
    };
  }

  /** vfio_pci_cap_remaining_dword(). */
  int remainingInDword(int pos) {
    int i = 1;
    while ((pos + i) % 4 != 0 && map[pos + i] == map[pos]) {
      i++;
    }
    return i;
  }

  /** vfio_find_cap_start(). */
  int capabilityStart(int pos) {
    int base = pos >= CFG_SPACE_SIZE ? CFG_SPACE_SIZE : STD_HEADER_SIZEOF;
    int cap = map[pos];
    while (pos - 1 >= base && map[pos - 1] == cap) {
      pos--;
    }
    return pos;
  }

  /** vfio_fill_vconfig_bytes(). */
  private void fill(int pos, int len) {
    for (int end = pos + len; pos < end; ) {
      int n = end - pos >= 4 && pos % 4 == 0 ? 4 : end - pos >= 2 && pos % 2 == 0 ? 2 : 1;
      vset(pos, n, hw.read(pos, n));
      pos += n;
    }
  }

  int vget(int pos, int n) {
    return ConfigSpace.get(vconfig, pos, n);
  }

  void vset(int pos, int n, int value) {
    ConfigSpace.put(vconfig, pos, n, value);
  }
}
