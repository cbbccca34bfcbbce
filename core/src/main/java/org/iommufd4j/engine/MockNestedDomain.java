package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.engine.Unsigned.hex;

import java.util.Arrays;

/**
 * The selftest mock nested domain (spec §6.3.3): four 32-bit "IOTLB" slots, set at allocation,
 * zeroed by HWPT_INVALIDATE (§7.5) and read by the test op MD_CHECK_IOTLB (§6.4.13). Thread safe.
 */
final class MockNestedDomain {
  /** {@code IOMMU_HWPT_DATA_SELFTEST}: the HWPT_ALLOC data type of a mock nested domain. */
  static final int HWPT_DATA_SELFTEST = 0xdead;
  /** {@code sizeof(struct iommu_hwpt_selftest)}. */
  static final int HWPT_DATA_SIZE = 4;
  /** {@code IOMMU_HWPT_INVALIDATE_DATA_SELFTEST}. */
  static final int INVALIDATE_DATA_SELFTEST = 0xdeadbeef;
  /** {@code sizeof(struct iommu_hwpt_invalidate_selftest)}. */
  static final int INVALIDATE_ENTRY_SIZE = 8;
  static final int INVALIDATE_FLAG_ALL = 1;
  static final int IOTLB_ID_MAX = 3;

  private final int[] iotlb = new int[IOTLB_ID_MAX + 1];

  MockNestedDomain(int initial) {
    Arrays.fill(iotlb, initial);
  }

  /** Slot {@code slot} (0 to 3). */
  synchronized int iotlb(int slot) {
    return iotlb[slot];
  }

  /**
   * The mock driver's part of HWPT_INVALIDATE (§7.5 step 4): type check, then each request in
   * order until the first error. {@code handled[0]} counts the requests applied, also when this
   * throws; applied requests stay applied.
   */
  synchronized void invalidate(int dataType, int entryLen, int entryNum,
      InvalidationReader reader, int[] handled) {
    if (dataType != INVALIDATE_DATA_SELFTEST) {
      throw ErrnoException.of(EINVAL, "data_type=" + hex(Integer.toUnsignedLong(dataType)));
    }
    for (int i = 0; Integer.compareUnsigned(i, entryNum) < 0; i++) {
      if (entryLen != INVALIDATE_ENTRY_SIZE) {
        throw ErrnoException.of(EINVAL, "entry_len=" + Integer.toUnsignedString(entryLen));
      }
      InvalidationReader.Request r = reader.read(i);
      if ((r.flags() & ~INVALIDATE_FLAG_ALL) != 0) {
        throw ErrnoException.of(EOPNOTSUPP, "request " + i + " flags=" + hex(r.flags()));
      }
      // The slot is range-checked before FLAG_ALL is looked at (§7.5, pitfalls §9.7 #39).
      if (Integer.compareUnsigned(r.iotlbId(), IOTLB_ID_MAX) > 0) {
        throw ErrnoException.of(EINVAL, "request " + i + " iotlb_id="
            + Integer.toUnsignedString(r.iotlbId()));
      }
      if ((r.flags() & INVALIDATE_FLAG_ALL) != 0) {
        Arrays.fill(iotlb, 0);
      } else {
        iotlb[r.iotlbId()] = 0;
      }
      handled[0]++;
    }
  }
}
