package org.iommufd4j.model;

import java.util.List;
import org.iommufd4j.IovaRange;

/**
 * One randomized operation with its raw arguments, exactly as the byte ABI would carry them. Not
 * every operation can be expressed through the typed API; {@link EngineDriver#typedCanExpress}
 * decides.
 */
sealed interface IoasOp {

  private static String hex(long v) {
    return "0x" + Long.toHexString(v);
  }

  /** IOMMU_IOAS_ALLOC. */
  record Alloc(int flags) implements IoasOp {
    @Override
    public String toString() {
      return "ALLOC flags=" + hex(flags);
    }
  }

  /** IOMMU_DESTROY of any id. */
  record Destroy(int id) implements IoasOp {
    @Override
    public String toString() {
      return "DESTROY id=" + id;
    }
  }

  /** {@code Ioas.close()} on typed handle number {@code handle} (typed only). */
  record CloseHandle(int handle) implements IoasOp {
    @Override
    public String toString() {
      return "CLOSE handle#" + handle;
    }
  }

  /** {@code Iommufd.ioas(id)} (typed only). */
  record Lookup(int id) implements IoasOp {
    @Override
    public String toString() {
      return "LOOKUP id=" + id;
    }
  }

  /** IOMMU_IOAS_MAP. */
  record Map(int flags, int ioasId, int reserved, long userVa, long length, long iova)
      implements IoasOp {
    @Override
    public String toString() {
      return "MAP flags="
          + hex(flags)
          + " ioas="
          + ioasId
          + " reserved="
          + reserved
          + " user_va="
          + hex(userVa)
          + " length="
          + hex(length)
          + " iova="
          + hex(iova);
    }
  }

  /** IOMMU_IOAS_COPY. */
  record Copy(int flags, int dstIoasId, int srcIoasId, long length, long dstIova, long srcIova)
      implements IoasOp {
    @Override
    public String toString() {
      return "COPY flags="
          + hex(flags)
          + " dst="
          + dstIoasId
          + " src="
          + srcIoasId
          + " length="
          + hex(length)
          + " dst_iova="
          + hex(dstIova)
          + " src_iova="
          + hex(srcIova);
    }
  }

  /** IOMMU_IOAS_UNMAP. */
  record Unmap(int ioasId, long iova, long length) implements IoasOp {
    @Override
    public String toString() {
      return "UNMAP ioas=" + ioasId + " iova=" + hex(iova) + " length=" + hex(length);
    }
  }

  /**
   * IOMMU_IOAS_IOVA_RANGES with {@code num_iovas = capacity} (u32) and an array of which only the
   * first {@code writableSlots} records are writable memory (0: NULL pointer).
   */
  record IovaRanges(int ioasId, int reserved, int capacity, int writableSlots) implements IoasOp {
    @Override
    public String toString() {
      return "IOVA_RANGES ioas="
          + ioasId
          + " reserved="
          + reserved
          + " num_iovas="
          + Integer.toUnsignedString(capacity)
          + " writable="
          + writableSlots;
    }
  }

  /**
   * IOMMU_IOAS_ALLOW_IOVAS with {@code num_iovas} elements, of which only {@code ranges} are
   * readable memory (elements past them fault).
   */
  record AllowIovas(int ioasId, int reserved, List<IovaRange> ranges, int numIovas)
      implements IoasOp {
    @Override
    public String toString() {
      return "ALLOW_IOVAS ioas="
          + ioasId
          + " reserved="
          + reserved
          + " num_iovas="
          + Integer.toUnsignedString(numIovas)
          + " ranges="
          + ranges;
    }
  }

  /** IOMMU_OPTION. */
  record Option(int optionId, int op, int reserved, int objectId, long val64) implements IoasOp {
    @Override
    public String toString() {
      return "OPTION option_id="
          + optionId
          + " op="
          + op
          + " reserved="
          + reserved
          + " object_id="
          + objectId
          + " val64="
          + hex(val64);
    }
  }

  /**
   * IOMMU_TEST_CMD ADD_RESERVED (selftest.c: iommufd_test_add_reserved(); byte ABI only, ENOTTY
   * without the test ABI).
   */
  record AddReserved(int ioasId, long start, long length) implements IoasOp {
    @Override
    public String toString() {
      return "TEST_CMD ADD_RESERVED ioas="
          + ioasId
          + " start="
          + hex(start)
          + " length="
          + hex(length);
    }
  }
}
