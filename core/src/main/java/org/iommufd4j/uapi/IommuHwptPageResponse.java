package org.iommufd4j.uapi;

import static org.iommufd4j.uapi.CLayouts.offset;
import static org.iommufd4j.uapi.CLayouts.size;
import static org.iommufd4j.uapi.CLayouts.struct;
import static org.iommufd4j.uapi.CLayouts.u32;

import java.lang.foreign.StructLayout;

/**
 * One response written to a fault fd (fault.c: iommufd_fault_fops_write()).
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_page_response {
 *   __u32 cookie;
 *   __u32 code;   // IOMMUFD_PAGE_RESP_SUCCESS, _INVALID
 * };
 * }
 */
public final class IommuHwptPageResponse {
  public static final StructLayout LAYOUT =
      struct("iommu_hwpt_page_response", u32("cookie"), u32("code"));
  public static final int SIZE = size(LAYOUT);
  public static final long COOKIE = offset(LAYOUT, "cookie");
  public static final long CODE = offset(LAYOUT, "code");

  public static final int IOMMUFD_PAGE_RESP_SUCCESS = 0;
  public static final int IOMMUFD_PAGE_RESP_INVALID = 1;

  private IommuHwptPageResponse() {}
}
