package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.EOPNOTSUPP;
import static org.iommufd4j.engine.Unsigned.hex;
import static org.iommufd4j.uapi.IommuHwptInvalidate.IOMMU_HWPT_INVALIDATE_DATA_SELFTEST;
import static org.iommufd4j.uapi.IommuHwptInvalidateSelftest.IOMMU_TEST_INVALIDATE_FLAG_ALL;
import static org.iommufd4j.uapi.IommuHwptSelftest.MOCK_NESTED_DOMAIN_IOTLB_ID_MAX;

import java.util.Arrays;
import org.iommufd4j.uapi.IommuHwptInvalidateSelftest;

/**
 * The selftest mock nested domain (selftest.c: __mock_domain_alloc_nested()): four 32-bit "IOTLB"
 * slots, set at allocation, zeroed by HWPT_INVALIDATE (hw_pagetable.c: iommufd_hwpt_invalidate())
 * and read by the test op MD_CHECK_IOTLB (selftest.c: iommufd_test_md_check_iotlb()). Thread safe.
 */
final class MockNestedDomain {
  private final int[] iotlb = new int[MOCK_NESTED_DOMAIN_IOTLB_ID_MAX + 1];

  MockNestedDomain(int initial) {
    Arrays.fill(iotlb, initial);
  }

  /** Slot {@code slot} (0 to 3). */
  synchronized int iotlb(int slot) {
    return iotlb[slot];
  }

  /**
   * The mock driver's part of HWPT_INVALIDATE (hw_pagetable.c: iommufd_hwpt_invalidate()): type
   * check, then each request in order until the first error. {@code handled[0]} counts the requests
   * applied, also when this throws; applied requests stay applied.
   */
  synchronized void invalidate(
      int dataType, int entryLen, int entryNum, InvalidationReader reader, int[] handled) {
    if (dataType != IOMMU_HWPT_INVALIDATE_DATA_SELFTEST) {
      throw ErrnoException.of(EINVAL, "data_type=" + hex(Integer.toUnsignedLong(dataType)));
    }
    for (int i = 0; Integer.compareUnsigned(i, entryNum) < 0; i++) {
      if (entryLen != IommuHwptInvalidateSelftest.SIZE) {
        throw ErrnoException.of(EINVAL, "entry_len=" + Integer.toUnsignedString(entryLen));
      }
      InvalidationReader.Request r = reader.read(i);
      if ((r.flags() & ~IOMMU_TEST_INVALIDATE_FLAG_ALL) != 0) {
        throw ErrnoException.of(EOPNOTSUPP, "request " + i + " flags=" + hex(r.flags()));
      }
      // The slot is range-checked before FLAG_ALL is looked at (hw_pagetable.c:
      // iommufd_hwpt_invalidate()).
      if (Integer.compareUnsigned(r.iotlbId(), MOCK_NESTED_DOMAIN_IOTLB_ID_MAX) > 0) {
        throw ErrnoException.of(
            EINVAL, "request " + i + " iotlb_id=" + Integer.toUnsignedString(r.iotlbId()));
      }
      if ((r.flags() & IOMMU_TEST_INVALIDATE_FLAG_ALL) != 0) {
        Arrays.fill(iotlb, 0);
      } else {
        iotlb[r.iotlbId()] = 0;
      }
      handled[0]++;
    }
  }
}
