/*
 * Prints what the Linux 6.12 uapi headers say of every struct, member and number that
 * org.iommufd4j.uapi describes, one fact a line, for UapiLayoutsIT to compare with the Java
 * layouts:
 *
 *   struct NAME SIZE
 *   member NAME.PATH OFFSET SIZE (PATH through nested structs and anonymous unions: a.b)
 *   const NAME VALUE             (ioctl request numbers, flags, ops, types)
 *
 * Built by uapi-layouts.sh against the kernel's own headers.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include "iommufd_test.h"

#define S(s) printf("struct %s %zu\n", #s, sizeof(struct s))
#define M(s, m) printf("member %s.%s %zu %zu\n", #s, #m, offsetof(struct s, m), \
			   sizeof(((struct s *)0)->m))
/* a flexible array member: no size of its own */
#define F(s, m) printf("member %s.%s %zu 0\n", #s, #m, offsetof(struct s, m))
#define C(n) printf("const %s %lld\n", #n, (long long)(n))

static void iommufd(void)
{
	C(IOMMUFD_TYPE);
	S(iommu_destroy); M(iommu_destroy, size); M(iommu_destroy, id);
	C(IOMMU_DESTROY);

	S(iommu_ioas_alloc); M(iommu_ioas_alloc, size); M(iommu_ioas_alloc, flags);
	M(iommu_ioas_alloc, out_ioas_id);
	C(IOMMU_IOAS_ALLOC);

	S(iommu_iova_range); M(iommu_iova_range, start); M(iommu_iova_range, last);

	S(iommu_ioas_iova_ranges); M(iommu_ioas_iova_ranges, size);
	M(iommu_ioas_iova_ranges, ioas_id); M(iommu_ioas_iova_ranges, num_iovas);
	M(iommu_ioas_iova_ranges, __reserved); M(iommu_ioas_iova_ranges, allowed_iovas);
	M(iommu_ioas_iova_ranges, out_iova_alignment);
	C(IOMMU_IOAS_IOVA_RANGES);

	S(iommu_ioas_allow_iovas); M(iommu_ioas_allow_iovas, size);
	M(iommu_ioas_allow_iovas, ioas_id); M(iommu_ioas_allow_iovas, num_iovas);
	M(iommu_ioas_allow_iovas, __reserved); M(iommu_ioas_allow_iovas, allowed_iovas);
	C(IOMMU_IOAS_ALLOW_IOVAS);

	S(iommu_ioas_map); M(iommu_ioas_map, size); M(iommu_ioas_map, flags);
	M(iommu_ioas_map, ioas_id); M(iommu_ioas_map, __reserved); M(iommu_ioas_map, user_va);
	M(iommu_ioas_map, length); M(iommu_ioas_map, iova);
	C(IOMMU_IOAS_MAP);
	C(IOMMU_IOAS_MAP_FIXED_IOVA); C(IOMMU_IOAS_MAP_WRITEABLE); C(IOMMU_IOAS_MAP_READABLE);

	S(iommu_ioas_copy); M(iommu_ioas_copy, size); M(iommu_ioas_copy, flags);
	M(iommu_ioas_copy, dst_ioas_id); M(iommu_ioas_copy, src_ioas_id);
	M(iommu_ioas_copy, length); M(iommu_ioas_copy, dst_iova); M(iommu_ioas_copy, src_iova);
	C(IOMMU_IOAS_COPY);

	S(iommu_ioas_unmap); M(iommu_ioas_unmap, size); M(iommu_ioas_unmap, ioas_id);
	M(iommu_ioas_unmap, iova); M(iommu_ioas_unmap, length);
	C(IOMMU_IOAS_UNMAP);

	S(iommu_option); M(iommu_option, size); M(iommu_option, option_id); M(iommu_option, op);
	M(iommu_option, __reserved); M(iommu_option, object_id); M(iommu_option, val64);
	C(IOMMU_OPTION);
	C(IOMMU_OPTION_RLIMIT_MODE); C(IOMMU_OPTION_HUGE_PAGES);
	C(IOMMU_OPTION_OP_SET); C(IOMMU_OPTION_OP_GET);

	S(iommu_vfio_ioas); M(iommu_vfio_ioas, size); M(iommu_vfio_ioas, ioas_id);
	M(iommu_vfio_ioas, op); M(iommu_vfio_ioas, __reserved);
	C(IOMMU_VFIO_IOAS);
	C(IOMMU_VFIO_IOAS_GET); C(IOMMU_VFIO_IOAS_SET); C(IOMMU_VFIO_IOAS_CLEAR);

	S(iommu_hwpt_alloc); M(iommu_hwpt_alloc, size); M(iommu_hwpt_alloc, flags);
	M(iommu_hwpt_alloc, dev_id); M(iommu_hwpt_alloc, pt_id); M(iommu_hwpt_alloc, out_hwpt_id);
	M(iommu_hwpt_alloc, __reserved); M(iommu_hwpt_alloc, data_type);
	M(iommu_hwpt_alloc, data_len); M(iommu_hwpt_alloc, data_uptr);
	M(iommu_hwpt_alloc, fault_id); M(iommu_hwpt_alloc, __reserved2);
	C(IOMMU_HWPT_ALLOC);
	C(IOMMU_HWPT_ALLOC_NEST_PARENT); C(IOMMU_HWPT_ALLOC_DIRTY_TRACKING);
	C(IOMMU_HWPT_FAULT_ID_VALID);
	C(IOMMU_HWPT_DATA_NONE); C(IOMMU_HWPT_DATA_VTD_S1);

	S(iommu_hw_info); M(iommu_hw_info, size); M(iommu_hw_info, flags);
	M(iommu_hw_info, dev_id); M(iommu_hw_info, data_len); M(iommu_hw_info, data_uptr);
	M(iommu_hw_info, out_data_type); M(iommu_hw_info, out_max_pasid_log2);
	M(iommu_hw_info, __reserved); M(iommu_hw_info, out_capabilities);
	C(IOMMU_GET_HW_INFO);
	C(IOMMU_HW_INFO_TYPE_NONE); C(IOMMU_HW_INFO_TYPE_INTEL_VTD);
	C(IOMMU_HW_CAP_DIRTY_TRACKING); C(IOMMU_HW_CAP_PCI_PASID_EXEC);
	C(IOMMU_HW_CAP_PCI_PASID_PRIV);

	S(iommu_hwpt_set_dirty_tracking); M(iommu_hwpt_set_dirty_tracking, size);
	M(iommu_hwpt_set_dirty_tracking, flags); M(iommu_hwpt_set_dirty_tracking, hwpt_id);
	M(iommu_hwpt_set_dirty_tracking, __reserved);
	C(IOMMU_HWPT_SET_DIRTY_TRACKING);
	C(IOMMU_HWPT_DIRTY_TRACKING_ENABLE);

	S(iommu_hwpt_get_dirty_bitmap); M(iommu_hwpt_get_dirty_bitmap, size);
	M(iommu_hwpt_get_dirty_bitmap, hwpt_id); M(iommu_hwpt_get_dirty_bitmap, flags);
	M(iommu_hwpt_get_dirty_bitmap, __reserved); M(iommu_hwpt_get_dirty_bitmap, iova);
	M(iommu_hwpt_get_dirty_bitmap, length); M(iommu_hwpt_get_dirty_bitmap, page_size);
	M(iommu_hwpt_get_dirty_bitmap, data);
	C(IOMMU_HWPT_GET_DIRTY_BITMAP);
	C(IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);

	S(iommu_hwpt_invalidate); M(iommu_hwpt_invalidate, size);
	M(iommu_hwpt_invalidate, hwpt_id); M(iommu_hwpt_invalidate, data_uptr);
	M(iommu_hwpt_invalidate, data_type); M(iommu_hwpt_invalidate, entry_len);
	M(iommu_hwpt_invalidate, entry_num); M(iommu_hwpt_invalidate, __reserved);
	C(IOMMU_HWPT_INVALIDATE);
	C(IOMMU_HWPT_INVALIDATE_DATA_VTD_S1);

	S(iommu_fault_alloc); M(iommu_fault_alloc, size); M(iommu_fault_alloc, flags);
	M(iommu_fault_alloc, out_fault_id); M(iommu_fault_alloc, out_fault_fd);
	C(IOMMU_FAULT_QUEUE_ALLOC);

	S(iommu_hwpt_pgfault); M(iommu_hwpt_pgfault, flags); M(iommu_hwpt_pgfault, dev_id);
	M(iommu_hwpt_pgfault, pasid); M(iommu_hwpt_pgfault, grpid); M(iommu_hwpt_pgfault, perm);
	M(iommu_hwpt_pgfault, __reserved); M(iommu_hwpt_pgfault, addr);
	M(iommu_hwpt_pgfault, length); M(iommu_hwpt_pgfault, cookie);
	C(IOMMU_PGFAULT_FLAGS_PASID_VALID); C(IOMMU_PGFAULT_FLAGS_LAST_PAGE);
	C(IOMMU_PGFAULT_PERM_READ); C(IOMMU_PGFAULT_PERM_WRITE); C(IOMMU_PGFAULT_PERM_EXEC);
	C(IOMMU_PGFAULT_PERM_PRIV);

	S(iommu_hwpt_page_response); M(iommu_hwpt_page_response, cookie);
	M(iommu_hwpt_page_response, code);
	C(IOMMUFD_PAGE_RESP_SUCCESS); C(IOMMUFD_PAGE_RESP_INVALID);
}

static void selftest(void)
{
	S(iommu_test_cmd); M(iommu_test_cmd, size); M(iommu_test_cmd, op);
	M(iommu_test_cmd, id); M(iommu_test_cmd, __reserved);
	M(iommu_test_cmd, add_reserved); M(iommu_test_cmd, add_reserved.start);
	M(iommu_test_cmd, add_reserved.length);
	M(iommu_test_cmd, mock_domain); M(iommu_test_cmd, mock_domain.out_stdev_id);
	M(iommu_test_cmd, mock_domain.out_hwpt_id); M(iommu_test_cmd, mock_domain.out_idev_id);
	M(iommu_test_cmd, mock_domain_flags); M(iommu_test_cmd, mock_domain_flags.out_stdev_id);
	M(iommu_test_cmd, mock_domain_flags.out_hwpt_id);
	M(iommu_test_cmd, mock_domain_flags.out_idev_id);
	M(iommu_test_cmd, mock_domain_flags.dev_flags);
	M(iommu_test_cmd, mock_domain_replace); M(iommu_test_cmd, mock_domain_replace.pt_id);
	M(iommu_test_cmd, check_map); M(iommu_test_cmd, check_map.iova);
	M(iommu_test_cmd, check_map.length); M(iommu_test_cmd, check_map.uptr);
	M(iommu_test_cmd, check_refs); M(iommu_test_cmd, check_refs.length);
	M(iommu_test_cmd, check_refs.uptr); M(iommu_test_cmd, check_refs.refs);
	M(iommu_test_cmd, create_access); M(iommu_test_cmd, create_access.out_access_fd);
	M(iommu_test_cmd, create_access.flags);
	M(iommu_test_cmd, destroy_access_pages);
	M(iommu_test_cmd, destroy_access_pages.access_pages_id);
	M(iommu_test_cmd, access_pages); M(iommu_test_cmd, access_pages.flags);
	M(iommu_test_cmd, access_pages.out_access_pages_id); M(iommu_test_cmd, access_pages.iova);
	M(iommu_test_cmd, access_pages.length); M(iommu_test_cmd, access_pages.uptr);
	M(iommu_test_cmd, access_rw); M(iommu_test_cmd, access_rw.iova);
	M(iommu_test_cmd, access_rw.length); M(iommu_test_cmd, access_rw.uptr);
	M(iommu_test_cmd, access_rw.flags);
	M(iommu_test_cmd, memory_limit); M(iommu_test_cmd, memory_limit.limit);
	M(iommu_test_cmd, access_replace_ioas); M(iommu_test_cmd, access_replace_ioas.ioas_id);
	M(iommu_test_cmd, dirty); M(iommu_test_cmd, dirty.flags); M(iommu_test_cmd, dirty.iova);
	M(iommu_test_cmd, dirty.length); M(iommu_test_cmd, dirty.page_size);
	M(iommu_test_cmd, dirty.uptr); M(iommu_test_cmd, dirty.out_nr_dirty);
	M(iommu_test_cmd, check_iotlb); M(iommu_test_cmd, check_iotlb.id);
	M(iommu_test_cmd, check_iotlb.iotlb);
	M(iommu_test_cmd, trigger_iopf); M(iommu_test_cmd, trigger_iopf.dev_id);
	M(iommu_test_cmd, trigger_iopf.pasid); M(iommu_test_cmd, trigger_iopf.grpid);
	M(iommu_test_cmd, trigger_iopf.perm); M(iommu_test_cmd, trigger_iopf.addr);
	M(iommu_test_cmd, last);
	C(IOMMU_TEST_CMD);
	C(IOMMU_TEST_OP_ADD_RESERVED); C(IOMMU_TEST_OP_MOCK_DOMAIN);
	C(IOMMU_TEST_OP_MD_CHECK_MAP); C(IOMMU_TEST_OP_MD_CHECK_REFS);
	C(IOMMU_TEST_OP_CREATE_ACCESS); C(IOMMU_TEST_OP_DESTROY_ACCESS_PAGES);
	C(IOMMU_TEST_OP_ACCESS_PAGES); C(IOMMU_TEST_OP_ACCESS_RW);
	C(IOMMU_TEST_OP_SET_TEMP_MEMORY_LIMIT); C(IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE);
	C(IOMMU_TEST_OP_ACCESS_REPLACE_IOAS); C(IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS);
	C(IOMMU_TEST_OP_DIRTY); C(IOMMU_TEST_OP_MD_CHECK_IOTLB); C(IOMMU_TEST_OP_TRIGGER_IOPF);
	C(MOCK_APERTURE_START); C(MOCK_APERTURE_LAST);
	C(MOCK_FLAGS_ACCESS_WRITE); C(MOCK_FLAGS_ACCESS_SYZ);
	C(MOCK_ACCESS_RW_WRITE); C(MOCK_ACCESS_RW_SLOW_PATH);
	C(MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES);
	C(MOCK_FLAGS_DEVICE_NO_DIRTY); C(MOCK_FLAGS_DEVICE_HUGE_IOVA);
	C(MOCK_NESTED_DOMAIN_IOTLB_ID_MAX); C(MOCK_NESTED_DOMAIN_IOTLB_NUM);

	S(iommu_test_hw_info); M(iommu_test_hw_info, flags); M(iommu_test_hw_info, test_reg);
	C(IOMMU_HW_INFO_TYPE_SELFTEST); C(IOMMU_HW_INFO_SELFTEST_REGVAL);

	S(iommu_hwpt_selftest); M(iommu_hwpt_selftest, iotlb);
	C(IOMMU_HWPT_DATA_SELFTEST); C(IOMMU_TEST_IOTLB_DEFAULT);

	S(iommu_hwpt_invalidate_selftest); M(iommu_hwpt_invalidate_selftest, flags);
	M(iommu_hwpt_invalidate_selftest, iotlb_id);
	C(IOMMU_HWPT_INVALIDATE_DATA_SELFTEST); C(IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID);
	C(IOMMU_TEST_INVALIDATE_FLAG_ALL);
}

static void vfio_type1(void)
{
	C(VFIO_TYPE); C(VFIO_BASE); C(VFIO_API_VERSION);
	C(VFIO_GET_API_VERSION); C(VFIO_CHECK_EXTENSION); C(VFIO_SET_IOMMU);
	C(VFIO_IOMMU_GET_INFO); C(VFIO_IOMMU_MAP_DMA); C(VFIO_IOMMU_UNMAP_DMA);
	C(VFIO_IOMMU_DIRTY_PAGES);
	C(VFIO_TYPE1_IOMMU); C(VFIO_SPAPR_TCE_IOMMU); C(VFIO_TYPE1v2_IOMMU);
	C(VFIO_DMA_CC_IOMMU); C(VFIO_EEH); C(VFIO_TYPE1_NESTING_IOMMU);
	C(VFIO_SPAPR_TCE_v2_IOMMU); C(VFIO_NOIOMMU_IOMMU); C(VFIO_UNMAP_ALL);
	C(VFIO_UPDATE_VADDR);

	S(vfio_info_cap_header); M(vfio_info_cap_header, id); M(vfio_info_cap_header, version);
	M(vfio_info_cap_header, next);

	S(vfio_iommu_type1_info); M(vfio_iommu_type1_info, argsz);
	M(vfio_iommu_type1_info, flags); M(vfio_iommu_type1_info, iova_pgsizes);
	M(vfio_iommu_type1_info, cap_offset); M(vfio_iommu_type1_info, pad);
	C(VFIO_IOMMU_INFO_PGSIZES); C(VFIO_IOMMU_INFO_CAPS);

	S(vfio_iova_range); M(vfio_iova_range, start); M(vfio_iova_range, end);
	S(vfio_iommu_type1_info_cap_iova_range);
	M(vfio_iommu_type1_info_cap_iova_range, header);
	M(vfio_iommu_type1_info_cap_iova_range, header.id);
	M(vfio_iommu_type1_info_cap_iova_range, header.version);
	M(vfio_iommu_type1_info_cap_iova_range, header.next);
	M(vfio_iommu_type1_info_cap_iova_range, nr_iovas);
	M(vfio_iommu_type1_info_cap_iova_range, reserved);
	F(vfio_iommu_type1_info_cap_iova_range, iova_ranges);
	C(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);

	S(vfio_iommu_type1_info_dma_avail); M(vfio_iommu_type1_info_dma_avail, header);
	M(vfio_iommu_type1_info_dma_avail, header.id);
	M(vfio_iommu_type1_info_dma_avail, header.version);
	M(vfio_iommu_type1_info_dma_avail, header.next);
	M(vfio_iommu_type1_info_dma_avail, avail);
	C(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL);

	S(vfio_iommu_type1_dma_map); M(vfio_iommu_type1_dma_map, argsz);
	M(vfio_iommu_type1_dma_map, flags); M(vfio_iommu_type1_dma_map, vaddr);
	M(vfio_iommu_type1_dma_map, iova); M(vfio_iommu_type1_dma_map, size);
	C(VFIO_DMA_MAP_FLAG_READ); C(VFIO_DMA_MAP_FLAG_WRITE); C(VFIO_DMA_MAP_FLAG_VADDR);

	S(vfio_iommu_type1_dma_unmap); M(vfio_iommu_type1_dma_unmap, argsz);
	M(vfio_iommu_type1_dma_unmap, flags); M(vfio_iommu_type1_dma_unmap, iova);
	M(vfio_iommu_type1_dma_unmap, size); F(vfio_iommu_type1_dma_unmap, data);
	C(VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP); C(VFIO_DMA_UNMAP_FLAG_ALL);
	C(VFIO_DMA_UNMAP_FLAG_VADDR);
}

static void vfio_device(void)
{
	C(VFIO_GROUP_GET_STATUS); C(VFIO_GROUP_SET_CONTAINER); C(VFIO_GROUP_UNSET_CONTAINER);
	C(VFIO_GROUP_GET_DEVICE_FD); C(VFIO_DEVICE_GET_INFO); C(VFIO_DEVICE_GET_REGION_INFO);
	C(VFIO_DEVICE_GET_IRQ_INFO); C(VFIO_DEVICE_SET_IRQS); C(VFIO_DEVICE_RESET);
	C(VFIO_DEVICE_GET_PCI_HOT_RESET_INFO); C(VFIO_DEVICE_PCI_HOT_RESET);
	C(VFIO_DEVICE_FEATURE); C(VFIO_DEVICE_BIND_IOMMUFD); C(VFIO_DEVICE_ATTACH_IOMMUFD_PT);
	C(VFIO_DEVICE_DETACH_IOMMUFD_PT);

	S(vfio_group_status); M(vfio_group_status, argsz); M(vfio_group_status, flags);
	C(VFIO_GROUP_FLAGS_VIABLE); C(VFIO_GROUP_FLAGS_CONTAINER_SET);

	S(vfio_device_bind_iommufd); M(vfio_device_bind_iommufd, argsz);
	M(vfio_device_bind_iommufd, flags); M(vfio_device_bind_iommufd, iommufd);
	M(vfio_device_bind_iommufd, out_devid);

	S(vfio_device_attach_iommufd_pt); M(vfio_device_attach_iommufd_pt, argsz);
	M(vfio_device_attach_iommufd_pt, flags); M(vfio_device_attach_iommufd_pt, pt_id);

	S(vfio_device_detach_iommufd_pt); M(vfio_device_detach_iommufd_pt, argsz);
	M(vfio_device_detach_iommufd_pt, flags);

	S(vfio_device_info); M(vfio_device_info, argsz); M(vfio_device_info, flags);
	M(vfio_device_info, num_regions); M(vfio_device_info, num_irqs);
	M(vfio_device_info, cap_offset); M(vfio_device_info, pad);
	C(VFIO_DEVICE_FLAGS_RESET); C(VFIO_DEVICE_FLAGS_PCI); C(VFIO_DEVICE_FLAGS_PLATFORM);
	C(VFIO_DEVICE_FLAGS_AMBA); C(VFIO_DEVICE_FLAGS_CCW); C(VFIO_DEVICE_FLAGS_AP);
	C(VFIO_DEVICE_FLAGS_FSL_MC); C(VFIO_DEVICE_FLAGS_CAPS); C(VFIO_DEVICE_FLAGS_CDX);
	C(VFIO_DEVICE_INFO_CAP_ZPCI_BASE); C(VFIO_DEVICE_INFO_CAP_ZPCI_GROUP);
	C(VFIO_DEVICE_INFO_CAP_ZPCI_UTIL); C(VFIO_DEVICE_INFO_CAP_ZPCI_PFIP);
	C(VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP);

	S(vfio_region_info); M(vfio_region_info, argsz); M(vfio_region_info, flags);
	M(vfio_region_info, index); M(vfio_region_info, cap_offset); M(vfio_region_info, size);
	M(vfio_region_info, offset);
	C(VFIO_REGION_INFO_FLAG_READ); C(VFIO_REGION_INFO_FLAG_WRITE);
	C(VFIO_REGION_INFO_FLAG_MMAP); C(VFIO_REGION_INFO_FLAG_CAPS);
	C(VFIO_REGION_INFO_CAP_SPARSE_MMAP); C(VFIO_REGION_INFO_CAP_TYPE);
	C(VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	C(VFIO_PCI_BAR0_REGION_INDEX); C(VFIO_PCI_BAR1_REGION_INDEX);
	C(VFIO_PCI_BAR2_REGION_INDEX); C(VFIO_PCI_BAR3_REGION_INDEX);
	C(VFIO_PCI_BAR4_REGION_INDEX); C(VFIO_PCI_BAR5_REGION_INDEX);
	C(VFIO_PCI_ROM_REGION_INDEX); C(VFIO_PCI_CONFIG_REGION_INDEX);
	C(VFIO_PCI_VGA_REGION_INDEX); C(VFIO_PCI_NUM_REGIONS);

	S(vfio_region_sparse_mmap_area); M(vfio_region_sparse_mmap_area, offset);
	M(vfio_region_sparse_mmap_area, size);
	S(vfio_region_info_cap_sparse_mmap); M(vfio_region_info_cap_sparse_mmap, header);
	M(vfio_region_info_cap_sparse_mmap, header.id);
	M(vfio_region_info_cap_sparse_mmap, header.version);
	M(vfio_region_info_cap_sparse_mmap, header.next);
	M(vfio_region_info_cap_sparse_mmap, nr_areas);
	M(vfio_region_info_cap_sparse_mmap, reserved);
	F(vfio_region_info_cap_sparse_mmap, areas);

	S(vfio_region_info_cap_type); M(vfio_region_info_cap_type, header);
	M(vfio_region_info_cap_type, header.id); M(vfio_region_info_cap_type, header.version);
	M(vfio_region_info_cap_type, header.next); M(vfio_region_info_cap_type, type);
	M(vfio_region_info_cap_type, subtype);
	C(VFIO_REGION_TYPE_PCI_VENDOR_TYPE); C(VFIO_REGION_TYPE_PCI_VENDOR_MASK);
	C(VFIO_REGION_TYPE_GFX); C(VFIO_REGION_TYPE_CCW);
	C(VFIO_REGION_TYPE_MIGRATION_DEPRECATED);

	S(vfio_irq_info); M(vfio_irq_info, argsz); M(vfio_irq_info, flags);
	M(vfio_irq_info, index); M(vfio_irq_info, count);
	C(VFIO_IRQ_INFO_EVENTFD); C(VFIO_IRQ_INFO_MASKABLE); C(VFIO_IRQ_INFO_AUTOMASKED);
	C(VFIO_IRQ_INFO_NORESIZE);
	C(VFIO_PCI_INTX_IRQ_INDEX); C(VFIO_PCI_MSI_IRQ_INDEX); C(VFIO_PCI_MSIX_IRQ_INDEX);
	C(VFIO_PCI_ERR_IRQ_INDEX); C(VFIO_PCI_REQ_IRQ_INDEX); C(VFIO_PCI_NUM_IRQS);

	S(vfio_irq_set); M(vfio_irq_set, argsz); M(vfio_irq_set, flags); M(vfio_irq_set, index);
	M(vfio_irq_set, start); M(vfio_irq_set, count); F(vfio_irq_set, data);
	C(VFIO_IRQ_SET_DATA_NONE); C(VFIO_IRQ_SET_DATA_BOOL); C(VFIO_IRQ_SET_DATA_EVENTFD);
	C(VFIO_IRQ_SET_ACTION_MASK); C(VFIO_IRQ_SET_ACTION_UNMASK);
	C(VFIO_IRQ_SET_ACTION_TRIGGER); C(VFIO_IRQ_SET_DATA_TYPE_MASK);
	C(VFIO_IRQ_SET_ACTION_TYPE_MASK);

	S(vfio_pci_dependent_device); M(vfio_pci_dependent_device, group_id);
	M(vfio_pci_dependent_device, devid); M(vfio_pci_dependent_device, segment);
	M(vfio_pci_dependent_device, bus); M(vfio_pci_dependent_device, devfn);
	S(vfio_pci_hot_reset_info); M(vfio_pci_hot_reset_info, argsz);
	M(vfio_pci_hot_reset_info, flags); M(vfio_pci_hot_reset_info, count);
	F(vfio_pci_hot_reset_info, devices);
	C(VFIO_PCI_HOT_RESET_FLAG_DEV_ID); C(VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED);
	C(VFIO_PCI_DEVID_OWNED); C(VFIO_PCI_DEVID_NOT_OWNED);

	S(vfio_pci_hot_reset); M(vfio_pci_hot_reset, argsz); M(vfio_pci_hot_reset, flags);
	M(vfio_pci_hot_reset, count); F(vfio_pci_hot_reset, group_fds);

	S(vfio_device_feature); M(vfio_device_feature, argsz); M(vfio_device_feature, flags);
	F(vfio_device_feature, data);
	C(VFIO_DEVICE_FEATURE_MASK); C(VFIO_DEVICE_FEATURE_GET); C(VFIO_DEVICE_FEATURE_SET);
	C(VFIO_DEVICE_FEATURE_PROBE);
	C(VFIO_DEVICE_FEATURE_PCI_VF_TOKEN); C(VFIO_DEVICE_FEATURE_MIGRATION);
	C(VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE); C(VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY);
	C(VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP);
	C(VFIO_DEVICE_FEATURE_LOW_POWER_EXIT); C(VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
	C(VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP); C(VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT);
	C(VFIO_DEVICE_FEATURE_MIG_DATA_SIZE); C(VFIO_DEVICE_FEATURE_BUS_MASTER);
}

int main(void)
{
	iommufd();
	selftest();
	vfio_type1();
	vfio_device();
	return 0;
}
