package org.iommufd4j;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuIoasMap;

/**
 * The iommufd calls a Java VFIO driver test makes on an {@link EmulatedMachine}, as C makes them.
 */
public final class MachineCalls {
  private MachineCalls() {}

  /**
   * IOMMU_IOAS_MAP of {@code buffer}, readable and writable, at {@code iova} in IOAS {@code ioas}
   * of iommufd descriptor {@code iommufd}.
   */
  public static void mapFixed(
      EmulatedMachine machine,
      Arena arena,
      int iommufd,
      int ioas,
      MemorySegment buffer,
      long iova) {
    MemorySegment map = arena.allocate(IommuIoasMap.SIZE, 8);
    map.set(JAVA_INT, 0, IommuIoasMap.SIZE);
    map.set(
        JAVA_INT,
        IommuIoasMap.FLAGS,
        IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA
            | IommuIoasMap.IOMMU_IOAS_MAP_READABLE
            | IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE);
    map.set(JAVA_INT, IommuIoasMap.IOAS_ID, ioas);
    map.set(JAVA_LONG, IommuIoasMap.USER_VA, buffer.address());
    map.set(JAVA_LONG, IommuIoasMap.LENGTH, buffer.byteSize());
    map.set(JAVA_LONG, IommuIoasMap.IOVA, iova);
    machine.ioctl(iommufd, Command.IOMMU_IOAS_MAP.request(), map);
  }
}
