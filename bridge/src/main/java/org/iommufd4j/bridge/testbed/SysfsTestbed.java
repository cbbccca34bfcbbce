package org.iommufd4j.bridge.testbed;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes the sysfs and {@code /dev} tree that Linux 6.12 shows for PCI functions bound to {@code
 * vfio-pci} behind an Intel IOMMU (VT-d unit {@code dmar0}), into a directory the shim serves when
 * {@code IOMMUFD4J_TESTBED} names it. Everything is derived from the function list.
 *
 * <p>The directory mirrors the root: {@code sys/devices/pci0000:00/<bdf>/} holds the attributes,
 * and {@code sys/bus/pci/devices/<bdf>}, {@code sys/kernel/iommu_groups/N/devices/<bdf>}, {@code
 * sys/class/vfio-dev/vfioN} and the device's {@code driver}, {@code iommu_group}, {@code iommu} and
 * {@code subsystem} are relative symlinks, so the kernel resolves them inside the directory exactly
 * as in {@code /sys}. The kernel modules are those of a kernel with {@code
 * CONFIG_IOMMUFD_VFIO_CONTAINER=y}: {@code vfio}, {@code vfio_pci}, {@code vfio_pci_core} and
 * {@code iommufd}, and no {@code vfio_iommu_type1} (iommufd provides the container).
 *
 * <p>Two files at the top are for the shim, not the program: {@code devnodes} ({@code path major
 * minor mode}, one character device a line: the {@code /dev} entries are empty files the shim
 * presents as these devices) and {@code merged} (the directories whose listing the shim merges with
 * the host's; any other directory here hides the host's one of the same path).
 *
 * <p>Files a program writes to ({@code bind}, {@code unbind}, {@code new_id}, {@code remove_id},
 * {@code driver_override}, {@code reset}, {@code remove}, {@code rescan}, {@code enable}, ...) are
 * plain files: a write succeeds and replaces the content, so a readable attribute such as {@code
 * driver_override} reads back the last value written, and nothing else happens.
 */
public final class SysfsTestbed {
  /** The dynamic character major of the VFIO group nodes {@code /dev/vfio/N}. */
  public static final int VFIO_GROUP_MAJOR = 241;

  /** The dynamic character major of the VFIO device cdevs {@code /dev/vfio/devices/vfioN}. */
  public static final int VFIO_DEVICE_MAJOR = 240;

  /** {@code /dev/vfio/vfio} is the misc device 10:196 (iommufd's container compat). */
  public static final int MISC_MAJOR = 10;

  public static final int VFIO_CONTAINER_MINOR = 196;

  static final String DRIVER = "vfio-pci";
  static final String IOMMU = "dmar0";

  /** VT-d capability and extended capability registers of a server part: 48-bit MGAW. */
  static final long VTD_CAP = 0x8d2078c106f0466L;

  static final long VTD_ECAP = 0xf020dfL;
  static final long MEM32_BASE = 0xfe000000L;
  static final long MEM64_BASE = 0x800000000L;
  static final long IO_BASE = 0xc000L;

  /** Resource lines a non-bridge function has: 6 BARs, the ROM and 6 SR-IOV BARs. */
  static final int RESOURCE_LINES = 13;

  private static final String RO = "r--r--r--";
  private static final String RW = "rw-r--r--";
  private static final String WO = "-w-------";

  private final Path root;
  private final Set<String> merged = new LinkedHashSet<>();
  private final StringBuilder devnodes = new StringBuilder();
  private long mem32 = MEM32_BASE;
  private long mem64 = MEM64_BASE;
  private long io = IO_BASE;

  private SysfsTestbed(Path root) {
    this.root = root;
  }

  /**
   * Writes the tree for {@code functions} into {@code root} (created if missing; it should be
   * empty).
   *
   * @throws IllegalArgumentException if two functions share a BDF, a group or a cdev index
   * @throws UncheckedIOException if a file cannot be written
   */
  public static void write(Path root, List<PresentedFunction> functions) {
    checkDistinct(functions);
    try {
      new SysfsTestbed(root).writeAll(functions);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the testbed " + root, e);
    }
  }

  private static void checkDistinct(List<PresentedFunction> functions) {
    Set<String> bdfs = new HashSet<>();
    Set<Integer> groups = new HashSet<>();
    Set<Integer> cdevs = new HashSet<>();
    for (PresentedFunction f : functions) {
      if (!bdfs.add(f.bdf()) || !groups.add(f.iommuGroup()) || !cdevs.add(f.vfioIndex())) {
        throw new IllegalArgumentException(
            f.bdf() + ": BDF, IOMMU group or vfio cdev index used twice");
      }
    }
  }

  private void writeAll(List<PresentedFunction> functions) throws IOException {
    List<PresentedFunction> sorted = new ArrayList<>(functions);
    sorted.sort(Comparator.comparing(PresentedFunction::bdf));
    // the ancestors of every emulated object list the host's entries too
    for (String dir :
        List.of(
            "/sys",
            "/sys/bus",
            "/sys/bus/pci",
            "/sys/bus/pci/devices",
            "/sys/bus/pci/drivers",
            "/sys/devices",
            "/sys/devices/pci0000:00",
            "/sys/devices/virtual",
            "/sys/devices/virtual/iommu",
            "/sys/devices/virtual/misc",
            "/sys/devices/virtual/vfio",
            "/sys/kernel",
            "/sys/kernel/iommu_groups",
            "/sys/module",
            "/sys/class",
            "/sys/class/iommu",
            "/sys/class/misc",
            "/sys/class/vfio",
            "/sys/class/vfio-dev",
            "/dev",
            "/dev/vfio",
            "/dev/vfio/devices")) {
      dir(dir);
      merged.add(dir);
    }
    writeBus();
    writeModules();
    writeIommu(sorted);
    devnode("/dev/vfio/vfio", MISC_MAJOR, VFIO_CONTAINER_MINOR, "0666");
    classDevice(
        "/sys/devices/virtual/misc/vfio", "misc", MISC_MAJOR, VFIO_CONTAINER_MINOR, "vfio/vfio");
    TreeMap<Integer, PresentedFunction> byGroup = new TreeMap<>();
    sorted.forEach(f -> byGroup.put(f.iommuGroup(), f));
    int groupMinor = 0;
    for (PresentedFunction f : byGroup.values()) {
      writeFunction(f, groupMinor++);
    }
    text("/devnodes", devnodes.toString(), RO);
    text("/merged", String.join("\n", merged) + "\n", RO);
  }

  private void writeBus() throws IOException {
    text("/sys/bus/pci/drivers_autoprobe", "1\n", RW);
    text("/sys/bus/pci/resource_alignment", "\n", RW);
    text("/sys/bus/pci/rescan", "", WO);
    text("/sys/bus/pci/drivers_probe", "", WO);
    String drv = "/sys/bus/pci/drivers/" + DRIVER;
    dir(drv);
    for (String trigger : List.of("bind", "unbind", "new_id", "remove_id")) {
      text(drv + "/" + trigger, "", WO);
    }
    text(drv + "/uevent", "", WO);
    link(drv + "/module", "/sys/module/vfio_pci");
  }

  private void writeModules() throws IOException {
    module("vfio", "enable_unsafe_noiommu_mode", "N");
    module(
        "vfio_pci",
        "disable_denylist",
        "N",
        "disable_idle_d3",
        "N",
        "disable_vga",
        "N",
        "enable_sriov",
        "N",
        "ids",
        "",
        "nointxmask",
        "N");
    module("vfio_pci_core", "disable_idle_d3", "N", "disable_vga", "N", "nointxmask", "N");
    module("iommufd", "allow_unsafe_interrupts", "N");
    dir("/sys/module/vfio_pci/drivers");
    link("/sys/module/vfio_pci/drivers/pci:" + DRIVER, "/sys/bus/pci/drivers/" + DRIVER);
  }

  private void module(String name, String... parameters) throws IOException {
    String dir = "/sys/module/" + name;
    text(dir + "/initstate", "live\n", RO);
    text(dir + "/refcnt", "0\n", RO);
    text(dir + "/uevent", "", WO);
    for (int i = 0; i < parameters.length; i += 2) {
      text(dir + "/parameters/" + parameters[i], parameters[i + 1] + "\n", RW);
    }
  }

  private void writeIommu(List<PresentedFunction> functions) throws IOException {
    String dmar = "/sys/devices/virtual/iommu/" + IOMMU;
    text(dmar + "/intel-iommu/cap", Long.toHexString(VTD_CAP) + "\n", RO);
    text(dmar + "/intel-iommu/ecap", Long.toHexString(VTD_ECAP) + "\n", RO);
    text(dmar + "/intel-iommu/version", "1:0\n", RO);
    text(dmar + "/intel-iommu/address", "fed90000\n", RO);
    text(dmar + "/intel-iommu/domains_supported", "65536\n", RO);
    text(dmar + "/intel-iommu/domains_used", functions.size() + 1 + "\n", RO);
    text(dmar + "/uevent", "", WO);
    link(dmar + "/subsystem", "/sys/class/iommu");
    dir(dmar + "/devices");
    for (PresentedFunction f : functions) {
      link(dmar + "/devices/" + f.bdf(), functionDir(f));
    }
    link("/sys/class/iommu/" + IOMMU, dmar);
  }

  static String functionDir(PresentedFunction f) {
    return "/sys/devices/pci0000:00/" + f.bdf();
  }

  private void writeFunction(PresentedFunction f, int groupMinor) throws IOException {
    String dir = functionDir(f);
    byte[] config = presentedConfig(f);
    long[][] resources = assignResources(f, config);
    text(dir + "/vendor", hex(f.vendor(), 4), RO);
    text(dir + "/device", hex(f.device(), 4), RO);
    text(dir + "/subsystem_vendor", hex(f.subsystemVendor(), 4), RO);
    text(dir + "/subsystem_device", hex(f.subsystemDevice(), 4), RO);
    text(dir + "/class", hex(f.classCode(), 6), RO);
    text(dir + "/revision", hex(f.revision(), 2), RO);
    int pin = config[0x3d] & 0xff;
    text(dir + "/irq", (pin == 0 ? 0 : config[0x3c] & 0xff) + "\n", RO);
    text(dir + "/numa_node", f.numaNode() + "\n", RW);
    int cpus = Runtime.getRuntime().availableProcessors();
    text(dir + "/local_cpus", cpuMask(cpus) + "\n", RO);
    text(dir + "/local_cpulist", (cpus == 1 ? "0" : "0-" + (cpus - 1)) + "\n", RO);
    text(dir + "/dma_mask_bits", "64\n", RO);
    text(dir + "/consistent_dma_mask_bits", "64\n", RO);
    text(dir + "/enable", "0\n", RW);
    text(dir + "/broken_parity_status", "0\n", RW);
    text(dir + "/msi_bus", "1\n", RW);
    text(dir + "/d3cold_allowed", "1\n", RW);
    text(dir + "/ari_enabled", "0\n", RO);
    // bound as vfio-bind scripts, driverctl and dpdk-devbind bind: driver_override, then probe
    text(dir + "/driver_override", DRIVER + "\n", RW);
    text(dir + "/modalias", modalias(f) + "\n", RO);
    text(dir + "/uevent", uevent(f), RW);
    text(dir + "/resource", resourceTable(resources), RO);
    for (String trigger : List.of("remove", "rescan", "reset")) {
      text(dir + "/" + trigger, "", WO);
    }
    for (PresentedFunction.Bar bar : f.bars()) {
      sized(dir + "/resource" + bar.index(), bar.size());
      if (bar.prefetchable()) {
        sized(dir + "/resource" + bar.index() + "_wc", bar.size());
      }
    }
    Files.write(path(dir + "/config"), config);
    chmod(dir + "/config", RW);
    link(dir + "/driver", "/sys/bus/pci/drivers/" + DRIVER);
    link(dir + "/iommu_group", "/sys/kernel/iommu_groups/" + f.iommuGroup());
    link(dir + "/iommu", "/sys/devices/virtual/iommu/" + IOMMU);
    link(dir + "/subsystem", "/sys/bus/pci");
    link("/sys/bus/pci/devices/" + f.bdf(), dir);
    link("/sys/bus/pci/drivers/" + DRIVER + "/" + f.bdf(), dir);

    String group = "/sys/kernel/iommu_groups/" + f.iommuGroup();
    dir(group + "/devices");
    link(group + "/devices/" + f.bdf(), dir);
    text(group + "/type", "DMA-FQ\n", RW);
    text(group + "/reserved_regions", "0x00000000fee00000 0x00000000feefffff msi\n", RO);
    String groupName = Integer.toString(f.iommuGroup());
    classDevice(
        "/sys/devices/virtual/vfio/" + groupName,
        "vfio",
        VFIO_GROUP_MAJOR,
        groupMinor,
        "vfio/" + groupName);
    devnode("/dev/vfio/" + groupName, VFIO_GROUP_MAJOR, groupMinor, "0600");

    String cdev = "vfio" + f.vfioIndex();
    String cdevDir = dir + "/vfio-dev/" + cdev;
    classDevice(cdevDir, "vfio-dev", VFIO_DEVICE_MAJOR, f.vfioIndex(), "vfio/devices/" + cdev);
    link(cdevDir + "/device", dir);
    devnode("/dev/vfio/devices/" + cdev, VFIO_DEVICE_MAJOR, f.vfioIndex(), "0600");
  }

  /** A device of a class: its {@code dev}, {@code uevent}, {@code subsystem} and class link. */
  private void classDevice(String dir, String className, int major, int minor, String devName)
      throws IOException {
    text(dir + "/dev", major + ":" + minor + "\n", RO);
    text(
        dir + "/uevent", "MAJOR=" + major + "\nMINOR=" + minor + "\nDEVNAME=" + devName + "\n", RW);
    link(dir + "/subsystem", "/sys/class/" + className);
    link("/sys/class/" + className + "/" + dir.substring(dir.lastIndexOf('/') + 1), dir);
  }

  private void devnode(String dev, int major, int minor, String mode) throws IOException {
    text(dev, "", "rw-------");
    devnodes
        .append(dev)
        .append(' ')
        .append(major)
        .append(' ')
        .append(minor)
        .append(' ')
        .append(mode)
        .append('\n');
  }

  /** The config space as sysfs reads it: padded to 256 or 4096 bytes. */
  static byte[] presentedConfig(PresentedFunction f) {
    byte[] given = f.config();
    byte[] config = new byte[f.isExpress() ? 4096 : 256];
    System.arraycopy(given, 0, config, 0, given.length);
    return config;
  }

  /**
   * Assigns each BAR an address aligned to its size, as firmware would, writes it into the BAR
   * registers of {@code config} (a type 0 header), and returns the {@code resource} table rows:
   * start, end, flags.
   */
  long[][] assignResources(PresentedFunction f, byte[] config) {
    long[][] rows = new long[RESOURCE_LINES][3];
    List<PresentedFunction.Bar> bars = new ArrayList<>(f.bars());
    bars.sort(Comparator.comparingInt(PresentedFunction.Bar::index));
    for (PresentedFunction.Bar bar : bars) {
      long start;
      long registerFlags;
      long resourceFlags;
      switch (bar.kind()) {
        case IO -> {
          start = io = align(io, bar.size());
          io += bar.size();
          registerFlags = 0x1; // I/O space
          resourceFlags = 0x100; // IORESOURCE_IO
        }
        case MEM32 -> {
          start = mem32 = align(mem32, bar.size());
          mem32 += bar.size();
          registerFlags = 0;
          resourceFlags = 0x200; // IORESOURCE_MEM
        }
        default -> {
          start = mem64 = align(mem64, bar.size());
          mem64 += bar.size();
          registerFlags = 0x4; // 64-bit type
          resourceFlags = 0x200 | 0x100000; // IORESOURCE_MEM | IORESOURCE_MEM_64
        }
      }
      if (bar.prefetchable()) {
        registerFlags |= 0x8;
        resourceFlags |= 0x2000; // IORESOURCE_PREFETCH
      }
      // the kernel keeps the register's low flag bits, and sizes resources by alignment
      rows[bar.index()] =
          new long[] {start, start + bar.size() - 1, resourceFlags | 0x40000 | registerFlags};
      int reg = 0x10 + 4 * bar.index();
      putLe32(config, reg, start | registerFlags);
      if (bar.kind() == PresentedFunction.Kind.MEM64) {
        putLe32(config, reg + 4, start >>> 32);
      }
    }
    return rows;
  }

  static String resourceTable(long[][] rows) {
    StringBuilder s = new StringBuilder();
    for (long[] row : rows) {
      s.append(String.format(Locale.ROOT, "0x%016x 0x%016x 0x%016x%n", row[0], row[1], row[2]));
    }
    return s.toString();
  }

  static String modalias(PresentedFunction f) {
    int c = f.classCode();
    return String.format(
        Locale.ROOT,
        "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X",
        f.vendor(),
        f.device(),
        f.subsystemVendor(),
        f.subsystemDevice(),
        c >> 16,
        (c >> 8) & 0xff,
        c & 0xff);
  }

  static String uevent(PresentedFunction f) {
    return String.format(
        Locale.ROOT,
        "DRIVER=%s%nPCI_CLASS=%X%nPCI_ID=%04X:%04X%nPCI_SUBSYS_ID=%04X:%04X%nPCI_SLOT_NAME=%s%nMODALIAS=%s%n",
        DRIVER,
        f.classCode(),
        f.vendor(),
        f.device(),
        f.subsystemVendor(),
        f.subsystemDevice(),
        f.bdf(),
        modalias(f));
  }

  /**
   * A cpumask as the kernel prints it: 32-bit hex groups, most significant first, comma-separated.
   */
  static String cpuMask(int cpus) {
    StringBuilder s = new StringBuilder();
    int top = (cpus - 1) / 32;
    for (int group = top; group >= 0; group--) {
      int bits = Math.min(32, cpus - group * 32);
      long word = (1L << bits) - 1;
      // the top group is as wide as its CPUs need, the others are full 8 digits
      s.append(String.format(Locale.ROOT, "%0" + (group == top ? (bits + 3) / 4 : 8) + "x", word));
      if (group > 0) {
        s.append(',');
      }
    }
    return s.toString();
  }

  private static String hex(int value, int digits) {
    return String.format(Locale.ROOT, "0x%0" + digits + "x%n", value);
  }

  private static long align(long address, long size) {
    return (address + size - 1) & -size;
  }

  private static void putLe32(byte[] b, int at, long value) {
    for (int i = 0; i < 4; i++) {
      b[at + i] = (byte) (value >>> (8 * i));
    }
  }

  private Path path(String absolute) {
    return root.resolve(absolute.substring(1));
  }

  private void dir(String absolute) throws IOException {
    Files.createDirectories(path(absolute));
  }

  private void text(String absolute, String content, String permissions) throws IOException {
    Path p = path(absolute);
    Files.createDirectories(p.getParent());
    Files.writeString(p, content, StandardCharsets.US_ASCII);
    chmod(absolute, permissions);
  }

  /** A file of {@code size} bytes that takes no disk space (a BAR's {@code resourceN}). */
  private void sized(String absolute, long size) throws IOException {
    try (RandomAccessFile file = new RandomAccessFile(path(absolute).toFile(), "rw")) {
      file.setLength(size);
    }
    chmod(absolute, "rw-------");
  }

  private void chmod(String absolute, String permissions) throws IOException {
    Files.setPosixFilePermissions(path(absolute), PosixFilePermissions.fromString(permissions));
  }

  /**
   * A relative symlink at {@code absolute} to {@code target}, both paths as the program sees them.
   */
  private void link(String absolute, String target) throws IOException {
    Path at = path(absolute);
    Files.createDirectories(at.getParent());
    Files.createSymbolicLink(at, at.getParent().relativize(path(target)));
  }
}
