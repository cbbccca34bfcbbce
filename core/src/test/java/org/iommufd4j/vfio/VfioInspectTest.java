package org.iommufd4j.vfio;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.inspect.Snapshot.BarState;
import org.iommufd4j.inspect.Snapshot.BarType;
import org.iommufd4j.inspect.Snapshot.DeviceState;
import org.iommufd4j.inspect.Snapshot.DmaState;
import org.iommufd4j.inspect.Snapshot.IrqType;
import org.iommufd4j.inspect.Snapshot.OpenPath;
import org.iommufd4j.inspect.Snapshot.VfioState;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasAlloc;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.Vfio;
import org.junit.jupiter.api.Test;

/**
 * {@code inspect} of a context with edu bound through VFIO: the function behind the DEVICE, how it
 * was opened, its HWPT, and the DMA and translation faults of the model counted as they go through
 * the device's domain.
 */
class VfioInspectTest {
  private static final long IOVA = 0x100000;
  private static final long UNMAPPED = 0x400000;
  private static final long EDU_BUFFER = 0x40000;
  private static final long TO_RAM = 0x2;
  private static final long START = 0x1;

  private final VfioRig rig = new VfioRig();

  private static DeviceState vfioDevice(Snapshot s) {
    return s.devices().stream().filter(d -> d.vfio() != null).findFirst().orElseThrow();
  }

  @Test
  void aCdevBoundEduShowsItsFunctionBindingAndEveryDmaAndFault() {
    int device = rig.openCdev();
    int iommufd = rig.files.openIommufd(false);
    rig.args(16, 0, iommufd);
    assertThat(rig.ioctl(device, Vfio.VFIO_DEVICE_BIND_IOMMUFD, rig.arg)).isZero();
    int devId = rig.u32(12);
    var ctx = rig.files.ctx(iommufd);

    DeviceState bound = vfioDevice(ctx.snapshot());
    assertThat(bound.id()).isEqualTo(devId);
    assertThat(bound.hwptId()).as("not attached yet").isZero();
    VfioState v = bound.vfio();
    assertThat(v.bdf()).isEqualTo(VfioRig.BDF);
    assertThat(v.ids()).isEqualTo("1234:11e8");
    assertThat(v.group()).isZero();
    assertThat(v.openedVia()).isEqualTo(OpenPath.CDEV);
    assertThat(v.bars()).containsExactly(new BarState(0, BarType.MEM32, false, 1 << 20));
    assertThat(v.irqs().type()).isEqualTo(IrqType.NONE);
    assertThat(v.dma()).isEqualTo(new DmaState(0, 0, 0, 0, 0, 0));

    rig.args(IommuIoasAlloc.SIZE);
    rig.ioctl(iommufd, Command.IOMMU_IOAS_ALLOC);
    int ioas = rig.u32(IommuIoasAlloc.OUT_IOAS_ID);
    rig.args(12, 0, ioas);
    assertThat(rig.ioctl(device, Vfio.VFIO_DEVICE_ATTACH_IOMMUFD_PT, rig.arg)).isZero();
    int hwpt = rig.u32(8);
    long page = rig.memory.allocate(4096, true);
    assertThat(map(iommufd, ioas, page, IOVA)).isZero();
    rig.busMaster(device);
    rig.eduDma(device, IOVA, EDU_BUFFER, 0x100, START);
    rig.eduDma(device, EDU_BUFFER, IOVA + 0x800, 0x40, TO_RAM | START);
    rig.eduDma(device, UNMAPPED + 0x10, EDU_BUFFER, 0x20, START);

    Snapshot s = ctx.snapshot();
    DeviceState d = vfioDevice(s);
    assertThat(d.hwptId()).isEqualTo(hwpt);
    assertThat(d.vfio().dma()).isEqualTo(new DmaState(1, 0x100, 1, 0x40, 1, UNMAPPED + 0x10));
    assertThat(s.toTable()).contains("0000:00:04.0", "0x400010");
    assertThat(Snapshot.fromJson(s.toJson())).isEqualTo(s);

    assertThat(rig.files.close(device)).isZero();
    assertThat(ctx.snapshot().devices()).as("unbound on close").isEmpty();
  }

  @Test
  void aGroupOpenedEduShowsTheGroupPathAndCountsAnewAfterReopening() {
    int container = rig.files.openIommufd(true);
    int group = rig.openGroup();
    assertThat(rig.ioctl(group, Vfio.VFIO_GROUP_SET_CONTAINER, rig.args(container))).isZero();
    assertThat(rig.ioctl(container, Vfio.VFIO_SET_IOMMU, Vfio.VFIO_TYPE1v2_IOMMU)).isZero();
    int device = deviceFd(group);
    assertThat(device).isNotNegative();
    var ctx = rig.files.ctx(container);
    VfioState v = vfioDevice(ctx.snapshot()).vfio();
    assertThat(v.openedVia()).isEqualTo(OpenPath.GROUP);
    assertThat(vfioDevice(ctx.snapshot()).hwptId())
        .as("attached to the container's IOAS")
        .isNotZero();

    rig.busMaster(device);
    rig.eduDma(device, UNMAPPED, EDU_BUFFER, 8, START);
    assertThat(vfioDevice(ctx.snapshot()).vfio().dma().faults()).isEqualTo(1);
    rig.files.close(device);
    device = deviceFd(group);
    assertThat(vfioDevice(ctx.snapshot()).vfio().dma())
        .as("a new binding starts counting from zero")
        .isEqualTo(new DmaState(0, 0, 0, 0, 0, 0));
  }

  private int deviceFd(int group) {
    long at = rig.arg + 1024;
    rig.memory.putBytes(at, (VfioRig.BDF + "\0").getBytes(StandardCharsets.ISO_8859_1));
    return (int) rig.ioctl(group, Vfio.VFIO_GROUP_GET_DEVICE_FD, at);
  }

  private long map(int iommufd, int ioas, long va, long iova) {
    rig.args(IommuIoasMap.SIZE);
    rig.memory.putInt(
        rig.arg + IommuIoasMap.FLAGS,
        IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
            | IommuIoasMap.IOMMU_IOAS_MAP_READABLE
            | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE);
    rig.memory.putInt(rig.arg + IommuIoasMap.IOAS_ID, ioas);
    rig.memory.putLong(rig.arg + IommuIoasMap.USER_VA, va);
    rig.memory.putLong(rig.arg + IommuIoasMap.LENGTH, 4096);
    rig.memory.putLong(rig.arg + IommuIoasMap.IOVA, iova);
    return rig.ioctl(iommufd, Command.IOMMU_IOAS_MAP);
  }
}
