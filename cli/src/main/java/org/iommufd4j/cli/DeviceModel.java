package org.iommufd4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.pci.nvme.NvmeController;
import org.iommufd4j.pci.nvme.NvmeNamespace;

/**
 * The device models {@code --device} can name. Each turns its options into a factory of the core's
 * {@link PciDevice}; everything presented about a device (ids, class, BARs, config space) comes
 * from the model it makes.
 */
enum DeviceModel {
  EDU(
      "edu",
      "QEMU's educational device 1234:11e8 (factorial, DMA engine, MSI)",
      Set.of("dma_mask")) {
    @Override
    Function<PciDevice.Ports, PciDevice> factory(Map<String, String> options) {
      String mask = options.get("dma_mask");
      long dmaMask = mask == null ? EduDevice.DEFAULT_DMA_MASK : number("dma_mask", mask);
      return ports -> new EduDevice(ports, dmaMask);
    }
  },
  NVME(
      "nvme",
      "QEMU's NVMe controller 1b36:0010 with one namespace in memory or in a sparse file"
          + " (backing=FILE, size=N[K|M|G|T])",
      Set.of("backing", "size")) {
    @Override
    Function<PciDevice.Ports, PciDevice> factory(Map<String, String> options) {
      String sizeOption = options.get("size");
      long size = sizeOption == null ? 0 : bytes("size", sizeOption);
      if (sizeOption != null && size < NvmeNamespace.BLOCK_SIZE) {
        throw new IllegalArgumentException("size=" + sizeOption + " is below one 512-byte block");
      }
      String backing = options.get("backing");
      if (backing != null && backing.isEmpty()) {
        throw new IllegalArgumentException("backing= needs a file name");
      }
      // the namespace is opened (the file created) when the device is made, not when parsed
      return ports ->
          new NvmeController(
              ports,
              backing == null
                  ? NvmeNamespace.inMemory(size > 0 ? size : NvmeNamespace.DEFAULT_SIZE)
                  : NvmeNamespace.file(Path.of(backing), size));
    }
  };

  private final String modelName;
  private final String description;
  private final Set<String> optionKeys;

  DeviceModel(String modelName, String description, Set<String> optionKeys) {
    this.modelName = modelName;
    this.description = description;
    this.optionKeys = optionKeys;
  }

  /** The name {@code --device} takes. */
  String modelName() {
    return modelName;
  }

  String description() {
    return description;
  }

  /** The model's own keys, besides the ones every device takes ({@code group}). */
  Set<String> optionKeys() {
    return optionKeys;
  }

  /**
   * A factory of the model with {@code options} (only keys of {@link #optionKeys}).
   *
   * @throws IllegalArgumentException if a value is not what its key takes
   */
  abstract Function<PciDevice.Ports, PciDevice> factory(Map<String, String> options);

  static Optional<DeviceModel> named(String name) {
    return Arrays.stream(values()).filter(m -> m.modelName.equals(name)).findFirst();
  }

  /** "edu, nvme" for messages. */
  static String names() {
    return Arrays.stream(values()).map(DeviceModel::modelName).collect(Collectors.joining(", "));
  }

  /** A byte count: a {@link #number} with an optional K, M, G or T suffix (powers of 1024). */
  static long bytes(String key, String value) {
    String v = value.toUpperCase(Locale.ROOT);
    int shift =
        v.endsWith("K")
            ? 10
            : v.endsWith("M") ? 20 : v.endsWith("G") ? 30 : v.endsWith("T") ? 40 : 0;
    long n = number(key, shift == 0 ? value : value.substring(0, value.length() - 1));
    if (n > Long.MAX_VALUE >>> shift) {
      throw new IllegalArgumentException(key + "=" + value + " is too large");
    }
    return n << shift;
  }

  /** A non-negative number, decimal or 0x-prefixed hexadecimal. */
  static long number(String key, String value) {
    String v = value.toLowerCase(Locale.ROOT);
    try {
      long n = v.startsWith("0x") ? Long.parseUnsignedLong(v.substring(2), 16) : Long.parseLong(v);
      if (n < 0 && !v.startsWith("0x")) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(key + "=" + value + " is not a number (decimal or 0x...)");
    }
  }
}
