package org.iommufd4j;

import java.util.function.Consumer;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuDestroy;
import org.iommufd4j.uapi.IommuIoasAllowIovas;
import org.iommufd4j.uapi.IommuIoasCopy;
import org.iommufd4j.uapi.IommuIoasIovaRanges;
import org.iommufd4j.uapi.IommuIoasMap;
import org.iommufd4j.uapi.IommuIoasUnmap;
import org.iommufd4j.uapi.IommuOption;
import org.iommufd4j.uapi.IommuVfioIoas;

/**
 * One well-formed call of each command of the 6.12 IOAS table (spec §1.4.1), on a context
 * prepared for it, with the result it gives at {@code size = ksize}. The generic decode tests
 * vary only the size word and the bytes around the struct and compare with this result.
 */
enum CommandSample {
  DESTROY(Command.IOMMU_DESTROY, 0,
      d -> d.createIoas(),
      s -> s.u32(IommuDestroy.ID, 1)),
  IOAS_ALLOC(Command.IOMMU_IOAS_ALLOC, 0,
      d -> {},
      s -> {}),
  ALLOW_IOVAS(Command.IOMMU_IOAS_ALLOW_IOVAS, 0,
      d -> d.createIoas(),
      s -> s.u32(IommuIoasAllowIovas.IOAS_ID, 1)),
  COPY(Command.IOMMU_IOAS_COPY, 0,
      d -> d.mapFixed(d.createIoas(), 0x1000, ConformanceTest.USER_VA, 0x1000, Protection.READ),
      s -> s.u32(IommuIoasCopy.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_READABLE)
          .u32(IommuIoasCopy.DST_IOAS_ID, 1)
          .u32(IommuIoasCopy.SRC_IOAS_ID, 1)
          .u64(IommuIoasCopy.LENGTH, 0x1000)
          .u64(IommuIoasCopy.SRC_IOVA, 0x1000)),
  /** The usual probe: capacity 0, NULL array → EMSGSIZE with the count written (§3.2). */
  IOVA_RANGES(Command.IOMMU_IOAS_IOVA_RANGES, -Errno.EMSGSIZE.number(),
      d -> d.createIoas(),
      s -> s.u32(IommuIoasIovaRanges.IOAS_ID, 1)),
  MAP(Command.IOMMU_IOAS_MAP, 0,
      d -> d.createIoas(),
      s -> s.u32(IommuIoasMap.FLAGS, IommuIoasMap.IOMMU_IOAS_MAP_READABLE)
          .u32(IommuIoasMap.IOAS_ID, 1)
          .u64(IommuIoasMap.USER_VA, ConformanceTest.USER_VA)
          .u64(IommuIoasMap.LENGTH, 0x1000)),
  UNMAP(Command.IOMMU_IOAS_UNMAP, 0,
      d -> d.mapFixed(d.createIoas(), 0x1000, ConformanceTest.USER_VA, 0x1000, Protection.READ),
      s -> s.u32(IommuIoasUnmap.IOAS_ID, 1)
          .u64(IommuIoasUnmap.IOVA, 0)
          .u64(IommuIoasUnmap.LENGTH, 0x10000)),
  OPTION(Command.IOMMU_OPTION, 0,
      d -> d.createIoas(),
      s -> s.u32(IommuOption.OPTION_ID, IommuOption.IOMMU_OPTION_HUGE_PAGES)
          .u16(IommuOption.OP, IommuOption.IOMMU_OPTION_OP_GET)
          .u32(IommuOption.OBJECT_ID, 1)
          .u64(IommuOption.VAL64, 0x5a5a)),
  VFIO_IOAS(Command.IOMMU_VFIO_IOAS, 0,
      d -> {
        d.createIoas();
        d.createIoas();
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
          Struct set = Struct.of(arena, Command.IOMMU_VFIO_IOAS)
              .u32(IommuVfioIoas.IOAS_ID, 2)
              .u16(IommuVfioIoas.OP, IommuVfioIoas.IOMMU_VFIO_IOAS_SET);
          if (set.ioctl(d.iommufd()) != 0) {
            throw new AssertionError("VFIO_IOAS SET failed");
          }
        }
      },
      s -> s.u16(IommuVfioIoas.OP, IommuVfioIoas.IOMMU_VFIO_IOAS_GET));

  final Command command;
  /** The ioctl result at {@code size = ksize}. */
  final int result;
  private final Consumer<Door> prepare;
  private final Consumer<Struct> fill;

  CommandSample(Command command, int result, Consumer<Door> prepare, Consumer<Struct> fill) {
    this.command = command;
    this.result = result;
    this.prepare = prepare;
    this.fill = fill;
  }

  /** Creates what the call needs (IOAS 1, a mapping at 0x1000, ...) through the raw door. */
  void prepare(Iommufd iommufd) {
    prepare.accept(new RawDoor(iommufd));
  }

  /** Fills the struct fields after {@code size}. */
  Struct fill(Struct s) {
    fill.accept(s);
    return s;
  }
}
