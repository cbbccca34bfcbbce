/*
 * Names the selftest sources in Debian's linux-source-6.12 (6.12.117) use but its own uapi
 * headers lack: stable backports updated the tests, not the headers. Upstream values (issue 5);
 * force-included when building them. Nothing here is copied from the kernel.
 */
#ifndef IOMMUFD4J_SELFTEST_COMPAT_H
#define IOMMUFD4J_SELFTEST_COMPAT_H
#define IOMMU_HW_INFO_TYPE_DEFAULT 0           /* upstream: same value as TYPE_NONE */
#define IOMMU_HW_INFO_FLAG_INPUT_TYPE (1 << 0) /* upstream >= 6.17 */
#define in_data_type out_data_type             /* upstream: a union of the two */
#define MOCK_FLAGS_DEVICE_PASID (1 << 2)       /* upstream >= 6.15 mock */
#define MOCK_PASID_WIDTH 20
#endif
