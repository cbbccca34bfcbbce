/**
 * iommufd4j: the Linux iommufd interface ({@code /dev/iommu}) in user space.
 *
 * <p>The exported packages are the whole public boundary: the typed API ({@code org.iommufd4j}),
 * the byte ABI's numbers and struct layouts ({@code org.iommufd4j.uapi}) and the state snapshots
 * ({@code org.iommufd4j.inspect}), and the PCI device model SPI with its models ({@code
 * org.iommufd4j.pci}). Everything else is the emulator's inside: the engine, user memory, the libc
 * downcalls, record/replay, the fuzzer and the differential runner. The project's bridge, cli and
 * bench run on the class path, where a module's boundary does not apply; a program that puts this
 * jar on the module path sees only the exports.
 */
module org.iommufd4j {
  requires transitive jdk.jfr; // the ioctl event of the exported uapi is a JFR event

  // Public packages: one line each. A new public package (say a device layer users program
  // against) gets a line here; a new internal package gets none.
  exports org.iommufd4j;
  exports org.iommufd4j.uapi;
  exports org.iommufd4j.inspect;
  exports org.iommufd4j.pci; // the device model SPI
  exports org.iommufd4j.pci.edu;
  exports org.iommufd4j.pci.nvme;
  exports org.iommufd4j.pci.virtio;

  // Internal, not exported: engine, memory, kernel, trace, fuzz, diff.

  // JFR instantiates and reads the ioctl event reflectively.
  opens org.iommufd4j.uapi to
      jdk.jfr;
}
