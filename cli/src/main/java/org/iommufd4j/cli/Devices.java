package org.iommufd4j.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.iommufd4j.bridge.testbed.PresentedFunction;
import org.iommufd4j.bridge.testbed.SysfsTestbed;
import org.iommufd4j.pci.Bar;
import org.iommufd4j.pci.ConfigSpace;
import org.iommufd4j.pci.DeviceClock;
import org.iommufd4j.pci.ExecutorClock;
import org.iommufd4j.pci.Interrupts;
import org.iommufd4j.pci.PciFunction;
import org.iommufd4j.pci.nvme.NvmeNamespace;
import org.iommufd4j.trace.RecordingClock;
import org.iommufd4j.trace.Replayer;
import org.iommufd4j.trace.Trace;
import org.iommufd4j.vfio.VfioHost;

/**
 * The emulated PCI functions of one {@code exec} or {@code serve}: the models, made once and kept
 * for the server's lifetime, where each sits (address, IOMMU group, VFIO cdev), and the VFIO layer
 * that serves them ({@link #vfio()}, the server's {@code vfioNodes}). A model's DMA goes through
 * the iommufd its device is bound to, its interrupts to the eventfds the program set while a device
 * file has it open; otherwise DMA faults and interrupts go nowhere.
 */
final class Devices implements AutoCloseable {
  /** The first default address: QEMU's q35 puts the first pluggable device there. */
  static final int FIRST_DEFAULT_SLOT = 4;

  private static final int SLOTS = 32;
  // config-space offsets (PCI 3.0 header)
  private static final int VENDOR_ID = 0x00;
  private static final int DEVICE_ID = 0x02;
  private static final int REVISION_AND_CLASS = 0x08;
  private static final int SUBSYSTEM_VENDOR_ID = 0x2c;
  private static final int SUBSYSTEM_ID = 0x2e;
  private static final int INTERRUPT_LINE = 0x3c;
  private static final int INTERRUPT_PIN = 0x3d;

  /** The legacy IRQs firmware writes into Interrupt Line, by (slot + pin - 1) mod 4 (SeaBIOS). */
  private static final int[] FIRMWARE_IRQS = {10, 10, 11, 11};

  /** One function: the model on its PCI core, and where sysfs shows it. */
  record Device(String bdf, int iommuGroup, int vfioIndex, PciFunction function) {}

  private final List<Device> devices;

  /** The clock the models run on, null when each has its own (a replay's). */
  private final ExecutorClock clock;

  private final VfioHost vfio;

  private Devices(List<Device> devices, ExecutorClock clock, VfioHost vfio) {
    this.devices = devices;
    this.clock = clock;
    this.vfio = vfio;
  }

  /**
   * Places and makes the devices: explicit addresses and groups as given; the others at {@code
   * 0000:00:04.0} upwards (the next slot no device uses) and each in a group of its own, numbered
   * from 0 past the groups given. Groups and cdev indexes follow address order, as the kernel's
   * probe does.
   *
   * @throws IllegalArgumentException for two devices at one address or in one group, or more
   *     devices than the root bus has slots
   */
  static Devices create(List<DeviceSpec> specs) {
    return create(specs, null);
  }

  /**
   * {@link #create(List)}, each model's timers recorded by {@code recorder} (null: none) as the
   * model's {@link Trace.Timer} events.
   */
  static Devices create(List<DeviceSpec> specs, Trace.Writer recorder) {
    ExecutorClock clock = new ExecutorClock("iommufd4j-devices");
    return make(
        place(specs),
        clock,
        bdf -> recorder == null ? clock : new RecordingClock(clock, bdf, recorder));
  }

  /**
   * The devices of a recording, made again where they sat, each on the clock {@code clocks} gives
   * for its address (a replay's, whose timers fire where the recording's did). A file-backed NVMe
   * namespace is replaced by one in memory of the recorded size: a replay never touches the file.
   *
   * @throws IllegalArgumentException for a model or option this build does not know
   */
  static Devices replayed(List<Trace.Device> recorded, Function<String, DeviceClock> clocks) {
    List<DeviceSpec> specs = new ArrayList<>();
    for (Trace.Device d : recorded) {
      // as --device would have said it, so that every check of the command line applies
      StringBuilder spec = new StringBuilder(d.model()).append('@').append(d.bdf());
      spec.append(',').append(DeviceSpec.GROUP).append('=').append(d.group());
      d.options().forEach((k, v) -> spec.append(',').append(k).append('=').append(v));
      DeviceSpec parsed = DeviceSpec.parse(spec.toString());
      Map<String, String> options = new LinkedHashMap<>(parsed.options());
      options.remove(BACKING);
      specs.add(new DeviceSpec(parsed.model(), parsed.bdf(), parsed.group(), options));
    }
    List<Placed> placed = place(specs);
    for (int i = 0; i < placed.size(); i++) {
      Trace.Device d = recorded.stream().filter(placed.get(i)::isAt).findFirst().orElseThrow();
      if (d.cdev() != i) {
        throw new IllegalArgumentException(d.bdf() + " had cdev vfio" + d.cdev() + ", not " + i);
      }
    }
    return make(placed, null, clocks);
  }

  /** What {@code replay} and {@code inspect --trace} make a recording's devices with. */
  static final Replayer.DeviceMaker REPLAYED =
      (recorded, clocks) -> replayed(recorded, clocks).vfio();

  /**
   * How a recording names the devices {@code specs} make: where each sits, its options, and for a
   * file-backed NVMe namespace the size it will have (the file's, or {@code size} if larger).
   */
  static List<Trace.Device> recorded(List<DeviceSpec> specs) {
    List<Trace.Device> out = new ArrayList<>();
    List<Placed> placed = place(specs);
    for (int i = 0; i < placed.size(); i++) {
      Placed p = placed.get(i);
      Map<String, String> options = new LinkedHashMap<>(p.spec().options());
      String backing = options.get(BACKING);
      if (backing != null) {
        Path file = Path.of(backing).toAbsolutePath();
        long given =
            options.containsKey("size") ? DeviceModel.bytes("size", options.get("size")) : 0;
        long length;
        try {
          length = Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
          length = 0;
        }
        long size =
            length > 0 ? Math.max(given, length) : given > 0 ? given : NvmeNamespace.DEFAULT_SIZE;
        options.put(BACKING, file.toString());
        options.put("size", Long.toString(size));
      }
      out.add(new Trace.Device(p.spec().model().modelName(), p.bdf(), p.group(), i, options));
    }
    return out;
  }

  private static final String BACKING = "backing";

  /** A device's address and group, decided. */
  private record Placed(DeviceSpec spec, String bdf, int group) {
    boolean isAt(Trace.Device d) {
      return d.bdf().equals(bdf);
    }
  }

  private static List<Placed> place(List<DeviceSpec> specs) {
    Set<String> bdfs = new HashSet<>();
    Set<Integer> usedSlots = new HashSet<>();
    Set<Integer> groups = new HashSet<>();
    for (DeviceSpec s : specs) {
      if (s.bdf() != null) {
        if (!bdfs.add(s.bdf())) {
          throw new IllegalArgumentException("two devices at " + s.bdf());
        }
        usedSlots.add(Integer.parseInt(s.bdf().substring(8, 10), 16));
      }
      if (s.group() != null && !groups.add(s.group())) {
        // the testbed gives each group one device; sharing one is a later step
        throw new IllegalArgumentException(
            "two devices in group " + s.group() + " (a group holds one device)");
      }
    }
    record Addressed(DeviceSpec spec, String bdf) {}
    List<Addressed> addressed = new ArrayList<>();
    int slot = FIRST_DEFAULT_SLOT;
    for (DeviceSpec s : specs) {
      String bdf = s.bdf();
      if (bdf == null) {
        while (slot < SLOTS && usedSlots.contains(slot)) {
          slot++;
        }
        if (slot == SLOTS) {
          throw new IllegalArgumentException("more devices than free slots 04-1f on bus 00");
        }
        bdf = String.format("0000:00:%02x.0", slot++);
      }
      addressed.add(new Addressed(s, bdf));
    }
    addressed.sort(Comparator.comparing(Addressed::bdf));
    List<Placed> placed = new ArrayList<>();
    int nextGroup = 0;
    for (Addressed a : addressed) {
      Integer group = a.spec().group();
      if (group == null) {
        while (groups.contains(nextGroup)) {
          nextGroup++;
        }
        group = nextGroup++;
      }
      placed.add(new Placed(a.spec(), a.bdf(), group));
    }
    return placed;
  }

  private static Devices make(
      List<Placed> placed, ExecutorClock clock, Function<String, DeviceClock> clocks) {
    List<Device> devices = new ArrayList<>();
    VfioHost.Builder vfio = VfioHost.builder();
    Object machine = new Object(); // what backend=pair NICs pair within
    for (Placed p : placed) {
      int group = p.group();
      int vfioIndex = devices.size();
      PciFunction function =
          vfio.add(
              p.bdf(),
              group,
              vfioIndex,
              dma ->
                  PciFunction.create(
                      p.spec().model().factory(p.bdf(), p.spec().options(), machine),
                      dma,
                      clocks.apply(p.bdf()),
                      Interrupts.Sink.DISCARD));
      assignInterruptLine(function, p.bdf());
      devices.add(new Device(p.bdf(), group, vfioIndex, function));
    }
    return new Devices(List.copyOf(devices), clock, vfio.build());
  }

  /** The VFIO groups and cdevs of the devices, for the server. */
  VfioHost vfio() {
    return vfio;
  }

  /**
   * What the firmware leaves in Interrupt Line for a function with an INTx pin, which vfio-pci's
   * config space and sysfs's {@code irq} show (edu's oracle transcripts: line 10, irq nonzero).
   */
  private static void assignInterruptLine(PciFunction function, String bdf) {
    int pin = function.config().read(INTERRUPT_PIN, 1);
    if (pin != 0) {
      int slot = Integer.parseInt(bdf.substring(8, 10), 16);
      function.config().write(INTERRUPT_LINE, 1, FIRMWARE_IRQS[(slot + pin - 1) & 3]);
    }
  }

  List<Device> devices() {
    return devices;
  }

  /** How sysfs shows the devices: everything read from the models' config spaces. */
  List<PresentedFunction> presented() {
    return devices.stream().map(Devices::present).toList();
  }

  /** Writes the sysfs and /dev tree of the devices into {@code dir}, for the shim. */
  Path writeTestbed(Path dir) {
    SysfsTestbed.write(dir, presented());
    return dir;
  }

  @Override
  public void close() {
    if (clock != null) {
      clock.close();
    }
  }

  private static PresentedFunction present(Device d) {
    ConfigSpace c = d.function().config();
    List<PresentedFunction.Bar> bars = c.bars().stream().map(Devices::present).toList();
    return new PresentedFunction(
        d.bdf(),
        c.read(VENDOR_ID, 2),
        c.read(DEVICE_ID, 2),
        c.read(SUBSYSTEM_VENDOR_ID, 2),
        c.read(SUBSYSTEM_ID, 2),
        c.read(REVISION_AND_CLASS, 4) >>> 8,
        c.read(REVISION_AND_CLASS, 1),
        bars,
        d.iommuGroup(),
        d.vfioIndex(),
        -1,
        c.snapshot());
  }

  private static PresentedFunction.Bar present(Bar bar) {
    return switch (bar.type()) {
      case IO -> PresentedFunction.Bar.io(bar.index(), bar.size());
      case MEMORY_32 -> PresentedFunction.Bar.mem32(bar.index(), bar.size());
      case MEMORY_64 -> PresentedFunction.Bar.mem64(bar.index(), bar.size(), bar.prefetchable());
    };
  }
}
