package org.iommufd4j.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.edu.EduDevice;

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
