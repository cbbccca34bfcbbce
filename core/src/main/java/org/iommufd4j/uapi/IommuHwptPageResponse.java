package org.iommufd4j.uapi;

/**
 * One response written to a fault fd (spec §7.6).
 *
 * {@snippet lang=c :
 * struct iommu_hwpt_page_response {
 *   __u32 cookie;
 *   __u32 code;   // IOMMUFD_PAGE_RESP_SUCCESS, _INVALID
 * };
 * }
 */
public final class IommuHwptPageResponse {
  public static final int SIZE = 8;
  public static final long COOKIE = 0;
  public static final long CODE = 4;

  public static final int IOMMUFD_PAGE_RESP_SUCCESS = 0;
  public static final int IOMMUFD_PAGE_RESP_INVALID = 1;

  private IommuHwptPageResponse() {}
}
