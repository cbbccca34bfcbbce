package org.iommufd4j.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.iommufd4j.pci.PciDevice;
import org.iommufd4j.pci.edu.EduDevice;
import org.iommufd4j.pci.nvme.NvmeController;
import org.iommufd4j.pci.nvme.NvmeNamespace;
import org.iommufd4j.pci.virtio.NetBackend;
import org.iommufd4j.pci.virtio.VirtioNetDevice;

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
    Function<PciDevice.Ports, PciDevice> factory(
        String bdf, Map<String, String> options, Object machine) {
      String mask = options.get("dma_mask");
      long dmaMask = mask == null ? EduDevice.DEFAULT_DMA_MASK : number("dma_mask", mask);
      return ports -> new EduDevice(ports, dmaMask);
    }
  },
  VIRTIO_NET(
      "virtio-net",
      "a transitional virtio-net NIC 1af4:1000 (legacy I/O BAR0, MSI-X in BAR1)",
      Set.of("backend", "ifname", "mac", "queues", "mrg_rxbuf", "event_idx")) {
    @Override
    Function<PciDevice.Ports, PciDevice> factory(
        String bdf, Map<String, String> options, Object machine) {
      String mac = options.get("mac");
      VirtioNetDevice.Options o =
          new VirtioNetDevice.Options(
              mac != null
                  ? VirtioNetDevice.Options.parseMac(mac)
                  : bdf != null
                      ? VirtioNetDevice.Options.macAt(bdf)
                      : VirtioNetDevice.Options.parseMac(VirtioNetDevice.Options.DEFAULT_MAC),
              (int)
                  Math.min(
                      number("queues", options.getOrDefault("queues", "1")), Integer.MAX_VALUE),
              onOff("mrg_rxbuf", options.getOrDefault("mrg_rxbuf", "on")),
              onOff("event_idx", options.getOrDefault("event_idx", "on")));
      String backend = options.getOrDefault("backend", "loopback");
      String ifname = options.get("ifname");
      if (ifname != null && !backend.equals("tap")) {
        throw new IllegalArgumentException("ifname= goes with backend=tap only");
      }
      if (backend.equals("loopback")) {
        return ports -> new VirtioNetDevice(ports, NetBackend.loopback(), o);
      }
      if (backend.equals("pair")) {
        return ports -> new VirtioNetDevice(ports, PairedPorts.next(machine), o);
      }
      if (backend.startsWith("pcap=") && backend.length() > "pcap=".length()) {
        Path file = Path.of(backend.substring("pcap=".length()));
        return ports -> new VirtioNetDevice(ports, NetBackend.pcap(file), o);
      }
      if (backend.equals("tap")) {
        String name = ifname == null ? "" : ifname;
        return ports -> new VirtioNetDevice(ports, NetBackend.tap(name), o);
      }
      throw new IllegalArgumentException(
          "backend=" + backend + " is none of loopback, pair, pcap=FILE, tap");
    }
  },
  NVME(
      "nvme",
      "QEMU's NVMe controller 1b36:0010 with one namespace in memory or in a sparse file"
          + " (backing=FILE, size=N[K|M|G|T])",
      Set.of("backing", "size")) {
    @Override
    Function<PciDevice.Ports, PciDevice> factory(
        String bdf, Map<String, String> options, Object machine) {
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
   * A factory of the model at {@code bdf} (null while only the options are checked) with {@code
   * options} (only keys of {@link #optionKeys}), one of the devices made together as {@code
   * machine} (one {@code exec}: {@code backend=pair} NICs pair within it).
   *
   * @throws IllegalArgumentException if a value is not what its key takes
   */
  abstract Function<PciDevice.Ports, PciDevice> factory(
      String bdf, Map<String, String> options, Object machine);

  static Optional<DeviceModel> named(String name) {
    return Arrays.stream(values()).filter(m -> m.modelName.equals(name)).findFirst();
  }

  /** "edu, nvme" for messages. */
  static String names() {
    return Arrays.stream(values()).map(DeviceModel::modelName).collect(Collectors.joining(", "));
  }

  /** "on" or "off". */
  static boolean onOff(String key, String value) {
    return switch (value) {
      case "on" -> true;
      case "off" -> false;
      default -> throw new IllegalArgumentException(key + "=" + value + " is not on or off");
    };
  }

  /**
   * Wires {@code backend=pair} NICs two by two in the order they are made (the CLI makes devices in
   * address order): the first of each two waits for the second. One list per machine (one {@code
   * exec} or replay), so an odd one out never pairs with a later run's.
   */
  static final class PairedPorts {
    private static final Map<Object, NetBackend> WAITING = new WeakHashMap<>();

    private PairedPorts() {}

    static synchronized NetBackend next(Object machine) {
      NetBackend waiting = WAITING.remove(machine);
      if (waiting != null) {
        return waiting;
      }
      NetBackend.Pair pair = NetBackend.pair();
      WAITING.put(machine, pair.right());
      return pair.left();
    }
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
