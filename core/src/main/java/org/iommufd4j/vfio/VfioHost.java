package org.iommufd4j.vfio;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;
import org.iommufd4j.DomainModel;
import org.iommufd4j.Errno;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.DomainSpec;
import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.ErrnoException;
import org.iommufd4j.engine.HwInfoReport;
import org.iommufd4j.pci.DmaPort;
import org.iommufd4j.pci.PciFunction;

/**
 * The VFIO layer of an emulated host: PCI functions bound to vfio-pci, each in an IOMMU group
 * ({@code /dev/vfio/N}) and with a device cdev ({@code /dev/vfio/devices/vfioN}), each behind QEMU
 * 7.2's {@code intel-iommu} ({@link PciFunction#QEMU_INTEL_IOMMU}). One per server, shared by every
 * process and iommufd context; thread safe.
 *
 * <p>A model's DMA reaches memory through the iommufd its function is bound to (through a cdev, or
 * through a group's container); while no device file has it open, its DMA faults. So the host hands
 * each model its {@link DmaPort} when the model is made: see {@link Builder#add}.
 */
public final class VfioHost implements VfioNodes {
  /**
   * What {@code IOMMU_GET_HW_INFO} reports for QEMU 7.2's {@code intel-iommu} with its default
   * options (as Linux 6.12 saw it: oracle/edu_cdev.txt).
   */
  static final HwInfoReport.VtdData QEMU_VTD_INFO =
      new HwInfoReport.VtdData(
          HwInfoReport.VtdData.ERRATA_772415_SPR17, 0x00d2_008c_2226_0206L, 0x0000_0000_00f0_0f4aL);

  private final Map<Integer, VfioGroup> groups;
  private final Map<Integer, VfioFunction> cdevs;
  private final Map<String, VfioFunction> byBdf;

  private VfioHost(
      Map<Integer, VfioGroup> groups,
      Map<Integer, VfioFunction> cdevs,
      Map<String, VfioFunction> byBdf) {
    this.groups = groups;
    this.cdevs = cdevs;
    this.byBdf = byBdf;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Places functions; each gets the DMA port it must be made with. */
  public static final class Builder {
    private final Map<Integer, VfioGroup> groups = new TreeMap<>();
    private final Map<Integer, VfioFunction> cdevs = new TreeMap<>();
    private final Map<String, VfioFunction> byBdf = new HashMap<>();
    private boolean built;

    private Builder() {}

    /**
     * Adds the function at {@code bdf} ({@code 0000:00:04.0}) in IOMMU group {@code iommuGroup}
     * with cdev {@code vfio<vfioIndex>}; {@code make} makes it with the DMA port given.
     *
     * @return the function made
     * @throws IllegalArgumentException for an address or cdev index given twice
     */
    public PciFunction add(
        String bdf, int iommuGroup, int vfioIndex, Function<DmaPort, PciFunction> make) {
      if (built) {
        throw new IllegalStateException("built already");
      }
      if (byBdf.containsKey(bdf) || cdevs.containsKey(vfioIndex)) {
        throw new IllegalArgumentException("two functions at " + bdf + " or vfio" + vfioIndex);
      }
      if (iommuGroup < 0 || vfioIndex < 0) {
        throw new IllegalArgumentException("negative group or cdev index");
      }
      VfioGroup group = groups.computeIfAbsent(iommuGroup, VfioGroup::new);
      VfioFunction f = new VfioFunction(bdf, group, qemuIntelIommu(), QEMU_VTD_INFO);
      PciFunction function = Objects.requireNonNull(make.apply(f.dma), "the function made");
      f.setFunction(function);
      group.functions.add(f);
      cdevs.put(vfioIndex, f);
      byBdf.put(bdf, f);
      return function;
    }

    public VfioHost build() {
      built = true;
      return new VfioHost(Map.copyOf(groups), Map.copyOf(cdevs), Map.copyOf(byBdf));
    }
  }

  /** vfio/group.c: vfio_group_fops_open(). */
  @Override
  public EmulatedFile openGroup(Caller caller, int group, int flags) {
    VfioGroup g = groups.get(group);
    if (g == null) {
      throw ErrnoException.of(Errno.ENOENT, "no group " + group);
    }
    return g.open();
  }

  /** vfio/device_cdev.c: vfio_device_fops_cdev_open(): any number of opens; only one can bind. */
  @Override
  public EmulatedFile openCdev(Caller caller, int index, int flags) {
    VfioFunction f = cdevs.get(index);
    if (f == null) {
      throw ErrnoException.of(Errno.ENOENT, "no device vfio" + index);
    }
    return new DeviceFile(f, null);
  }

  /** The function at {@code bdf}, or null. */
  VfioFunction function(String bdf) {
    return byBdf.get(bdf);
  }

  private static DomainSpec qemuIntelIommu() {
    DomainModel m = PciFunction.QEMU_INTEL_IOMMU;
    return new DomainSpec(
        DomainSpec.Format.RADIX,
        m.aperture().start(),
        m.aperture().last(),
        m.pageSizes(),
        m.reservedRegions());
  }
}
