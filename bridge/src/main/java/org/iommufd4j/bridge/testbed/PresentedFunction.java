package org.iommufd4j.bridge.testbed;

import java.util.List;
import java.util.regex.Pattern;

/**
 * One emulated PCI function as sysfs presents it: bound to {@code vfio-pci}, in its own IOMMU
 * group, with a VFIO device cdev.
 *
 * @param bdf the address, {@code 0000:00:04.0} (domain 0000, bus 00 only: the root complex)
 * @param vendor the 16-bit vendor id
 * @param device the 16-bit device id
 * @param subsystemVendor the 16-bit subsystem vendor id
 * @param subsystemDevice the 16-bit subsystem id
 * @param classCode the 24-bit class code, base class in the high byte ({@code 0x00ff00})
 * @param revision the 8-bit revision id
 * @param bars the implemented BARs, in any order
 * @param iommuGroup the IOMMU group number ({@code /dev/vfio/N})
 * @param vfioIndex the VFIO cdev index ({@code /dev/vfio/devices/vfioN})
 * @param numaNode the NUMA node, -1 for none
 * @param config the start of configuration space (64 to 4096 bytes); more than 256 makes it a PCI
 *     Express function with 4096 bytes. The generator writes the BARs' assigned addresses into the
 *     copy it presents.
 */
public record PresentedFunction(
    String bdf,
    int vendor,
    int device,
    int subsystemVendor,
    int subsystemDevice,
    int classCode,
    int revision,
    List<Bar> bars,
    int iommuGroup,
    int vfioIndex,
    int numaNode,
    byte[] config) {

  private static final Pattern ROOT_BUS_BDF = Pattern.compile("0000:00:[01][0-9a-f]\\.[0-7]");

  public PresentedFunction {
    if (!ROOT_BUS_BDF.matcher(bdf).matches()) {
      throw new IllegalArgumentException("not a function on the root bus 0000:00: " + bdf);
    }
    checkBits("vendor", vendor, 16);
    checkBits("device", device, 16);
    checkBits("subsystemVendor", subsystemVendor, 16);
    checkBits("subsystemDevice", subsystemDevice, 16);
    checkBits("classCode", classCode, 24);
    checkBits("revision", revision, 8);
    bars = List.copyOf(bars);
    boolean[] used = new boolean[6];
    for (Bar bar : bars) {
      for (int i = bar.index(); i < bar.index() + bar.slots(); i++) {
        if (used[i]) {
          throw new IllegalArgumentException(bdf + ": BAR " + i + " given twice");
        }
        used[i] = true;
      }
    }
    if (iommuGroup < 0 || vfioIndex < 0 || numaNode < -1) {
      throw new IllegalArgumentException(bdf + ": negative group, cdev index or NUMA node");
    }
    if (config.length < 64 || config.length > 4096) {
      throw new IllegalArgumentException(bdf + ": config space of " + config.length + " bytes");
    }
    config = config.clone();
  }

  @Override
  public byte[] config() {
    return config.clone();
  }

  /** Whether the function has extended (4096-byte) configuration space. */
  public boolean isExpress() {
    return config.length > 256;
  }

  private static void checkBits(String name, int value, int bits) {
    if (value < 0 || value >>> bits != 0) {
      throw new IllegalArgumentException(
          name + " does not fit " + bits + " bits: 0x" + Integer.toHexString(value));
    }
  }

  /**
   * A base address register.
   *
   * @param index 0 to 5; a 64-bit BAR also takes index + 1
   * @param kind what the BAR decodes
   * @param size a power of two: at least 4 KiB for memory, 4 to 256 bytes for I/O
   * @param prefetchable a prefetchable memory BAR
   */
  public record Bar(int index, Kind kind, long size, boolean prefetchable) {
    public Bar {
      if (index < 0 || index + (kind == Kind.MEM64 ? 1 : 0) > 5) {
        throw new IllegalArgumentException("BAR index " + index + " for " + kind);
      }
      boolean io = kind == Kind.IO;
      if (Long.bitCount(size) != 1 || (io ? size < 4 || size > 256 : size < 4096)) {
        throw new IllegalArgumentException("BAR " + index + ": size 0x" + Long.toHexString(size));
      }
      if (io && prefetchable) {
        throw new IllegalArgumentException("BAR " + index + ": an I/O BAR is never prefetchable");
      }
      if (kind == Kind.MEM32 && size > 1L << 30) {
        throw new IllegalArgumentException(
            "BAR " + index + ": a 32-bit BAR of 0x" + Long.toHexString(size));
      }
    }

    public static Bar mem32(int index, long size) {
      return new Bar(index, Kind.MEM32, size, false);
    }

    public static Bar mem64(int index, long size, boolean prefetchable) {
      return new Bar(index, Kind.MEM64, size, prefetchable);
    }

    public static Bar io(int index, long size) {
      return new Bar(index, Kind.IO, size, false);
    }

    int slots() {
      return kind == Kind.MEM64 ? 2 : 1;
    }
  }

  /** What a BAR decodes. */
  public enum Kind {
    IO,
    MEM32,
    MEM64
  }
}
