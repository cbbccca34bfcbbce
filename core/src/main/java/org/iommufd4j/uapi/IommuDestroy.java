package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.StructLayout;

/**
 *
 *
 * {@snippet lang=c :
 * struct iommu_destroy {
 *   __u32 size;
 *   __u32 id;
 * };
 * }
 */
public final class IommuDestroy {
  public static final StructLayout LAYOUT = struct("iommu_destroy", u32("size"), u32("id"));
  public static final int SIZE = size(LAYOUT);
  public static final int MIN_SIZE = SIZE;
  public static final long ID = offset(LAYOUT, "id");

  /** A DESTROY argument. */
  public static Struct of(SegmentAllocator allocator, int id) {
    return Struct.of(allocator, Command.IOMMU_DESTROY).u32(ID, id);
  }

  private IommuDestroy() {}
}
