package org.iommufd4j.inspect;

import java.util.ArrayList;
import java.util.List;
import org.iommufd4j.IovaRange;
import org.iommufd4j.inspect.Snapshot.AccessPin;
import org.iommufd4j.inspect.Snapshot.AccessState;
import org.iommufd4j.inspect.Snapshot.Account;
import org.iommufd4j.inspect.Snapshot.AccountKind;
import org.iommufd4j.inspect.Snapshot.AreaState;
import org.iommufd4j.inspect.Snapshot.BarState;
import org.iommufd4j.inspect.Snapshot.BarType;
import org.iommufd4j.inspect.Snapshot.DeviceState;
import org.iommufd4j.inspect.Snapshot.DmaState;
import org.iommufd4j.inspect.Snapshot.FaultQueueState;
import org.iommufd4j.inspect.Snapshot.HostState;
import org.iommufd4j.inspect.Snapshot.HwptState;
import org.iommufd4j.inspect.Snapshot.IoasState;
import org.iommufd4j.inspect.Snapshot.IrqState;
import org.iommufd4j.inspect.Snapshot.IrqType;
import org.iommufd4j.inspect.Snapshot.ObjectEntry;
import org.iommufd4j.inspect.Snapshot.ObjectType;
import org.iommufd4j.inspect.Snapshot.OpenPath;
import org.iommufd4j.inspect.Snapshot.OwnerKind;
import org.iommufd4j.inspect.Snapshot.PageSourceState;
import org.iommufd4j.inspect.Snapshot.Reserved;
import org.iommufd4j.inspect.Snapshot.VfioState;

/** Hand-built snapshots for the renderer tests: every kind of thing, sizes from 4 KiB to 2^63. */
final class Samples {
  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long GIB = 1024 * MIB;

  private Samples() {}

  static AreaState area(long iova, long length, int source, boolean write) {
    return new AreaState(
        iova,
        iova + length - 1,
        0x7f00_0000_0000L + iova,
        source,
        0,
        true,
        write,
        true,
        false,
        length / 4096,
        0);
  }

  /**
   * IOAS 1: a tiny 4 KiB area next to a 2^63-byte reserved range (domain), a device's MSI window
   * inside it, an allowed range, a test reserved range, areas of 4 KiB to 1 GiB, an unpopulated
   * area and one waiting for accesses. IOAS 7: empty.
   */
  static Snapshot everything() {
    List<AreaState> areas =
        List.of(
            area(0x1000, 4 * KIB, 1, true),
            area(0x10_0000, 2 * MIB, 2, false),
            new AreaState(
                0x40_0000,
                0x40_0fff,
                0x7f00_0040_0000L,
                3,
                0x1000,
                false,
                true,
                false,
                false,
                0,
                0),
            new AreaState(
                0x50_0000, 0x50_ffff, 0x7f00_0050_0000L, 3, 0x2000, true, true, true, true, 16, 2),
            area(0x4000_0000, GIB, 4, true));
    IoasState one =
        new IoasState(
            1,
            4096,
            true,
            List.of(new IovaRange(0x1000, 0xffff_ffffL)),
            List.of(
                new Reserved(0x1_0000_0000L, 0x1_0000_0fffL, OwnerKind.TEST, 0),
                new Reserved(0x8000_0000_0000_0000L, -1L, OwnerKind.DOMAIN, 3),
                new Reserved(0xfee0_0000_0000_0000L, 0xfee0_0000_000f_ffffL, OwnerKind.DEVICE, 2)),
            areas,
            List.of(3),
            List.of(5));
    IoasState empty =
        new IoasState(7, 1, false, List.of(), List.of(), List.of(), List.of(), List.of());
    HwptState hwpt =
        new HwptState(
            3,
            ObjectType.HWPT_PAGING,
            true,
            false,
            1,
            0,
            "radix",
            new IovaRange(0, 0x7fff_ffff_ffff_ffffL),
            (1L << 12) | (1L << 21),
            42,
            false,
            false,
            0,
            List.of(2));
    HwptState nested =
        new HwptState(
            6,
            ObjectType.HWPT_NESTED,
            false,
            false,
            1,
            3,
            "selftest-mock-nested",
            null,
            0,
            0,
            false,
            false,
            8,
            List.of());
    DeviceState dev =
        new DeviceState(
            2,
            3,
            "radix",
            new IovaRange(0, 0x7fff_ffff_ffff_ffffL),
            (1L << 12) | (1L << 21),
            List.of(new IovaRange(0xfee0_0000_0000_0000L, 0xfee0_0000_000f_ffffL)),
            0,
            0,
            null);
    AccessState access = new AccessState(5, 1, true, List.of(new AccessPin(0x50_0000, 0x2000, 2)));
    List<PageSourceState> sources =
        List.of(
            new PageSourceState(
                1, 0x7f00_0000_1000L, 1, true, 42, 1000, Snapshot.Accounting.USER, 1),
            new PageSourceState(
                2, 0x7f00_0010_0000L, 512, false, 42, 1000, Snapshot.Accounting.MM, 512),
            new PageSourceState(
                3, 0x7f00_0040_0000L, 32, true, 42, 1000, Snapshot.Accounting.NONE, 16),
            new PageSourceState(
                4, 0x7f00_4000_0000L, 262144, true, 42, 1000, Snapshot.Accounting.USER, 262144));
    List<ObjectEntry> objects =
        List.of(
            new ObjectEntry(1, ObjectType.IOAS, 4),
            new ObjectEntry(2, ObjectType.DEVICE, 2),
            new ObjectEntry(3, ObjectType.HWPT_PAGING, 3),
            new ObjectEntry(5, ObjectType.ACCESS, 2),
            new ObjectEntry(6, ObjectType.HWPT_NESTED, 1),
            new ObjectEntry(7, ObjectType.IOAS, 1),
            new ObjectEntry(8, ObjectType.FAULT, 2));
    HostState host =
        new HostState(
            262673,
            262657,
            List.of(
                new Account(AccountKind.USER, 1000, 262145),
                new Account(AccountKind.PROCESS, 42, 512)));
    return new Snapshot(
        false,
        false,
        objects,
        List.of(one, empty),
        List.of(hwpt, nested),
        List.of(dev),
        List.of(access),
        List.of(new FaultQueueState(8, true, 1, 2)),
        sources,
        host);
  }

  /**
   * {@link #everything()} with two devices VFIO bound: edu at 0000:00:04.0 through its cdev,
   * attached to HWPT 3, MSI enabled, with DMA and a translation fault; and a function at
   * 0000:00:05.0 through its group, not attached, INTx masked, with a 64-bit prefetchable BAR and
   * an IO BAR.
   */
  static Snapshot withVfioDevices() {
    Snapshot s = everything();
    VfioState edu =
        new VfioState(
            "0000:00:04.0",
            0x1234,
            0x11e8,
            0,
            OpenPath.CDEV,
            List.of(new BarState(0, BarType.MEM32, false, MIB)),
            new IrqState(IrqType.MSI, 1, 1, false),
            new DmaState(3, 12 * KIB, 2, 8, 1, 0xdead_b000L),
            "");
    VfioState other =
        new VfioState(
            "0000:00:05.0",
            0x8086,
            0x10d3,
            1,
            OpenPath.GROUP,
            List.of(
                new BarState(0, BarType.MEM64, true, 16 * KIB),
                new BarState(2, BarType.IO, false, 32)),
            new IrqState(IrqType.INTX, 1, 1, true),
            new DmaState(0, 0, 0, 0, 0, 0),
            "mac 52:54:00:00:05:00, link up");
    IovaRange aperture = new IovaRange(0, (1L << 39) - 1);
    long pages = (1L << 12) | (1L << 21) | (1L << 30);
    List<DeviceState> devices = new ArrayList<>(s.devices());
    devices.add(new DeviceState(9, 3, "radix", aperture, pages, List.of(), 0, 0, edu));
    devices.add(new DeviceState(10, 0, "radix", aperture, pages, List.of(), 0, 0, other));
    List<ObjectEntry> objects = new ArrayList<>(s.objects());
    objects.add(new ObjectEntry(9, ObjectType.DEVICE, 2));
    objects.add(new ObjectEntry(10, ObjectType.DEVICE, 2));
    return new Snapshot(
        s.closed(),
        s.tornDown(),
        objects,
        s.ioases(),
        s.hwpts(),
        devices,
        s.accesses(),
        s.faultQueues(),
        s.pageSources(),
        s.host());
  }

  /** One IOAS holding {@code count} 4 KiB areas, each followed by a 4 KiB hole. */
  static Snapshot manyAreas(int count) {
    List<AreaState> areas = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      areas.add(area(0x100_0000L + i * 0x2000L, 4 * KIB, i + 1, true));
    }
    IoasState ioas = new IoasState(1, 1, true, List.of(), List.of(), areas, List.of(), List.of());
    return new Snapshot(
        false,
        false,
        List.of(new ObjectEntry(1, ObjectType.IOAS, 1)),
        List.of(ioas),
        List.of(),
        List.of(),
        List.of(),
        List.of(),
        List.of(),
        new HostState(0, 0, List.of()));
  }
}
