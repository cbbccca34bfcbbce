/*
 * QEMU's edu device through the VFIO device cdev and /dev/iommu: discovery in sysfs, what the
 * device fd refuses before VFIO_DEVICE_BIND_IOMMUFD, bind, IOMMU_GET_HW_INFO, attach to an IOAS,
 * its IOVA ranges, then every device-fd check of edu_common.c, detach and close. Prints one
 * observation per line (see edu.h); exits 0 unless a precondition fails.
 */
#include "edu.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct ioas {
  int iommufd;
  uint32_t id;
};

static int ioas_map(void *ctx, void *buffer, uint64_t length, uint64_t iova, bool device_writable) {
  struct ioas *ioas = ctx;
  struct iommu_ioas_map map = {
      .size = sizeof map,
      .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | (device_writable ? IOMMU_IOAS_MAP_WRITEABLE : 0),
      .ioas_id = ioas->id,
      .user_va = (uintptr_t)buffer,
      .length = length,
      .iova = iova,
  };
  return ioctl(ioas->iommufd, IOMMU_IOAS_MAP, &map);
}

static int ioas_unmap(void *ctx, uint64_t iova, uint64_t length, uint64_t *unmapped) {
  struct ioas *ioas = ctx;
  struct iommu_ioas_unmap unmap = {.size = sizeof unmap, .ioas_id = ioas->id, .iova = iova, .length = length};
  int rc = ioctl(ioas->iommufd, IOMMU_IOAS_UNMAP, &unmap);
  *unmapped = rc == 0 ? unmap.length : 0;
  return rc;
}

static void print_iova_ranges(int iommufd, uint32_t ioas, const char *when) {
  struct iommu_iova_range ranges[16];
  struct iommu_ioas_iova_ranges q = {
      .size = sizeof q, .ioas_id = ioas, .num_iovas = 16, .allowed_iovas = (uintptr_t)ranges};
  long rc = ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &q);
  printf("IOMMU_IOAS_IOVA_RANGES %s => %s num_iovas=%u out_iova_alignment=0x%llx\n", when, result(rc), q.num_iovas,
         (unsigned long long)q.out_iova_alignment);
  for (uint32_t i = 0; rc == 0 && i < q.num_iovas && i < 16; i++)
    printf("IOMMU_IOAS_IOVA_RANGES %s range start=0x%llx last=0x%llx\n", when, (unsigned long long)ranges[i].start,
           (unsigned long long)ranges[i].last);
}

static long bind(int device, uint32_t argsz, uint32_t flags, int32_t iommufd, uint32_t *devid) {
  struct vfio_device_bind_iommufd b = {.argsz = argsz, .flags = flags, .iommufd = iommufd, .out_devid = 0xa5a5a5a5};
  long rc = ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &b);
  if (devid) *devid = b.out_devid;
  return rc;
}

static long attach(int device, uint32_t argsz, uint32_t flags, uint32_t *pt_id) {
  struct vfio_device_attach_iommufd_pt a = {.argsz = argsz, .flags = flags, .pt_id = *pt_id};
  long rc = ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);
  *pt_id = a.pt_id;
  return rc;
}

static long detach(int device, uint32_t flags) {
  struct vfio_device_detach_iommufd_pt d = {.argsz = sizeof d, .flags = flags};
  return ioctl(device, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static long destroy(int iommufd, uint32_t id) {
  struct iommu_destroy d = {.size = sizeof d, .id = id};
  return ioctl(iommufd, IOMMU_DESTROY, &d);
}

static void check_before_bind(int device) {
  struct vfio_device_info info = {.argsz = sizeof info};
  printf("before bind: VFIO_DEVICE_GET_INFO => %s\n", result(ioctl(device, VFIO_DEVICE_GET_INFO, &info)));
  uint32_t pt = 1;
  printf("before bind: VFIO_DEVICE_ATTACH_IOMMUFD_PT => %s\n",
         result(attach(device, sizeof(struct vfio_device_attach_iommufd_pt), 0, &pt)));
  printf("before bind: VFIO_DEVICE_DETACH_IOMMUFD_PT => %s\n", result(detach(device, 0)));
  printf("before bind: VFIO_DEVICE_RESET => %s\n", result(ioctl(device, VFIO_DEVICE_RESET)));
  struct vfio_device_feature feature = {.argsz = sizeof feature, .flags = VFIO_DEVICE_FEATURE_PROBE};
  printf("before bind: VFIO_DEVICE_FEATURE => %s\n", result(ioctl(device, VFIO_DEVICE_FEATURE, &feature)));
  printf("before bind: VFIO_GET_API_VERSION on the device fd => %s\n", result(ioctl(device, VFIO_GET_API_VERSION)));
  uint32_t v = 0;
  printf("before bind: pread config => %s\n",
         result(pread(device, &v, 4, (uint64_t)VFIO_PCI_CONFIG_REGION_INDEX << 40)));
  printf("before bind: pwrite BAR0 => %s\n", result(pwrite(device, &v, 4, 0)));
  void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, device, 0);
  printf("before bind: mmap BAR0 => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 4096);
}

static void check_hw_info(int iommufd, uint32_t devid) {
  struct iommu_hw_info_vtd vtd;
  memset(&vtd, 0xa5, sizeof vtd);
  struct iommu_hw_info hw = {.size = sizeof hw, .dev_id = devid, .data_len = sizeof vtd, .data_uptr = (uintptr_t)&vtd};
  long rc = ioctl(iommufd, IOMMU_GET_HW_INFO, &hw);
  printf("IOMMU_GET_HW_INFO dev_id=devid data_len=%zu => %s out_data_type=%u data_len=%u out_capabilities=0x%llx "
         "out_max_pasid_log2=%u\n",
         sizeof vtd, result(rc), hw.out_data_type, hw.data_len, (unsigned long long)hw.out_capabilities,
         hw.out_max_pasid_log2);
  printf("IOMMU_GET_HW_INFO vtd flags=0x%x reserved=0x%x cap_reg=0x%016llx ecap_reg=0x%016llx\n", vtd.flags,
         vtd.__reserved, (unsigned long long)vtd.cap_reg, (unsigned long long)vtd.ecap_reg);

  struct iommu_hw_info empty = {.size = sizeof empty, .dev_id = devid};
  rc = ioctl(iommufd, IOMMU_GET_HW_INFO, &empty);
  printf("IOMMU_GET_HW_INFO data_len=0 => %s out_data_type=%u data_len=%u\n", result(rc), empty.out_data_type,
         empty.data_len);

  uint8_t wide[64];
  memset(wide, 0xa5, sizeof wide);
  struct iommu_hw_info big = {.size = sizeof big, .dev_id = devid, .data_len = sizeof wide, .data_uptr = (uintptr_t)wide};
  rc = ioctl(iommufd, IOMMU_GET_HW_INFO, &big);
  bool zeroed = true;
  for (size_t i = sizeof vtd; i < sizeof wide; i++) zeroed &= wide[i] == 0;
  printf("IOMMU_GET_HW_INFO data_len=64 => %s data_len=%u tail_zeroed=%d\n", result(rc), big.data_len, zeroed);

  memset(&vtd, 0xa5, sizeof vtd);
  struct iommu_hw_info part = {.size = sizeof part, .dev_id = devid, .data_len = 8, .data_uptr = (uintptr_t)&vtd};
  rc = ioctl(iommufd, IOMMU_GET_HW_INFO, &part);
  printf("IOMMU_GET_HW_INFO data_len=8 => %s data_len=%u cap_reg_untouched=%d\n", result(rc), part.data_len,
         vtd.cap_reg == 0xa5a5a5a5a5a5a5a5ull);

  struct iommu_hw_info bad = {.size = sizeof bad, .dev_id = devid, .flags = 1};
  printf("IOMMU_GET_HW_INFO flags=1 => %s\n", result(ioctl(iommufd, IOMMU_GET_HW_INFO, &bad)));
  bad = (struct iommu_hw_info){.size = sizeof bad, .dev_id = 0};
  printf("IOMMU_GET_HW_INFO dev_id=0 => %s\n", result(ioctl(iommufd, IOMMU_GET_HW_INFO, &bad)));
  bad = (struct iommu_hw_info){.size = 16, .dev_id = devid};
  printf("IOMMU_GET_HW_INFO size=16 => %s\n", result(ioctl(iommufd, IOMMU_GET_HW_INFO, &bad)));
  bad = (struct iommu_hw_info){.size = sizeof bad, .dev_id = devid, .__reserved = {1}};
  printf("IOMMU_GET_HW_INFO reserved!=0 => %s\n", result(ioctl(iommufd, IOMMU_GET_HW_INFO, &bad)));
}

int main(void) {
  struct edu_location loc;
  edu_discover(&loc);
  require(loc.vfio_name[0] != 0, "a vfio-dev entry (is the device bound to vfio-pci?)");

  char path[600];
  snprintf(path, sizeof path, "/dev/vfio/devices/%s", loc.vfio_name);
  int device = open(path, O_RDWR | O_CLOEXEC);
  printf("open /dev/vfio/devices/<vfioN> => %s\n", fd_result(device));
  require(device >= 0, "open the device cdev");
  int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
  printf("open /dev/iommu => %s\n", fd_result(iommufd));
  require(iommufd >= 0, "open /dev/iommu");

  check_before_bind(device);

  size_t argsz = sizeof(struct vfio_device_bind_iommufd);
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  printf("VFIO_DEVICE_BIND_IOMMUFD flags=1 => %s\n", result(bind(device, argsz, 1, iommufd, NULL)));
  printf("VFIO_DEVICE_BIND_IOMMUFD argsz=12 => %s\n", result(bind(device, 12, 0, iommufd, NULL)));
  printf("VFIO_DEVICE_BIND_IOMMUFD iommufd=-1 => %s\n", result(bind(device, argsz, 0, -1, NULL)));
  printf("VFIO_DEVICE_BIND_IOMMUFD iommufd=999 (not open) => %s\n", result(bind(device, argsz, 0, 999, NULL)));
  printf("VFIO_DEVICE_BIND_IOMMUFD iommufd=/dev/null => %s\n", result(bind(device, argsz, 0, devnull, NULL)));
  printf("VFIO_DEVICE_BIND_IOMMUFD iommufd=<the device fd> => %s\n", result(bind(device, argsz, 0, device, NULL)));
  close(devnull);
  uint32_t devid = 0;
  long rc = bind(device, argsz + 8, 0, iommufd, &devid);
  printf("VFIO_DEVICE_BIND_IOMMUFD argsz=%zu => %s out_devid=%u\n", argsz + 8, result(rc), devid);
  require(rc == 0, "VFIO_DEVICE_BIND_IOMMUFD");
  uint32_t again = 0;
  rc = bind(device, argsz, 0, iommufd, &again);
  printf("VFIO_DEVICE_BIND_IOMMUFD again on the same fd => %s out_devid_untouched=%d\n", result(rc), again == 0xa5a5a5a5);

  int second = open(path, O_RDWR | O_CLOEXEC);
  printf("open /dev/vfio/devices/<vfioN> a second time => %s\n", fd_result(second));
  if (second >= 0) {
    printf("VFIO_DEVICE_BIND_IOMMUFD second fd, same iommufd => %s\n", result(bind(second, argsz, 0, iommufd, NULL)));
    close(second);
  }
  snprintf(path, sizeof path, "/dev/vfio/%s", loc.group);
  int group = open(path, O_RDWR | O_CLOEXEC);
  printf("open /dev/vfio/<group> while the cdev is bound => %s\n", fd_result(group));
  if (group >= 0) close(group);

  struct vfio_device_info info = {.argsz = sizeof info};
  printf("bound, not attached: VFIO_DEVICE_GET_INFO => %s\n", result(ioctl(device, VFIO_DEVICE_GET_INFO, &info)));

  check_hw_info(iommufd, devid);

  struct iommu_ioas_alloc alloc = {.size = sizeof alloc};
  rc = ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc);
  printf("IOMMU_IOAS_ALLOC => %s out_ioas_id=%u\n", result(rc), alloc.out_ioas_id);
  require(rc == 0, "IOMMU_IOAS_ALLOC");
  struct ioas ioas = {iommufd, alloc.out_ioas_id};
  struct iommu_hw_info wrong = {.size = sizeof wrong, .dev_id = ioas.id};
  printf("IOMMU_GET_HW_INFO dev_id=<the ioas id> => %s\n", result(ioctl(iommufd, IOMMU_GET_HW_INFO, &wrong)));
  print_iova_ranges(iommufd, ioas.id, "before attach");

  size_t attach_size = sizeof(struct vfio_device_attach_iommufd_pt);
  uint32_t pt;
  pt = ioas.id;
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT flags=1 => %s\n", result(attach(device, attach_size, 1, &pt)));
  pt = ioas.id;
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT argsz=8 => %s\n", result(attach(device, 8, 0, &pt)));
  pt = 0;
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=0 => %s\n", result(attach(device, attach_size, 0, &pt)));
  pt = 999;
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=999 => %s\n", result(attach(device, attach_size, 0, &pt)));
  pt = devid;
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=<the devid> => %s\n", result(attach(device, attach_size, 0, &pt)));
  pt = ioas.id;
  rc = attach(device, attach_size, 0, &pt);
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT pt_id=<the ioas id> => %s pt_id=%u\n", result(rc), pt);
  require(rc == 0, "VFIO_DEVICE_ATTACH_IOMMUFD_PT");
  uint32_t hwpt = pt;
  pt = ioas.id;
  rc = attach(device, attach_size, 0, &pt);
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT the same ioas again => %s pt_id=%u\n", result(rc), pt);
  print_iova_ranges(iommufd, ioas.id, "after attach");

  static uint8_t page[4096] __attribute__((aligned(4096)));
  printf("IOMMU_IOAS_MAP iova=0xfee00000 (MSI window) => %s\n", result(ioas_map(&ioas, page, 4096, 0xfee00000, true)));
  printf("IOMMU_IOAS_MAP iova=1<<39 => %s\n", result(ioas_map(&ioas, page, 4096, 1ull << 39, true)));
  printf("IOMMU_IOAS_MAP iova=1<<48 => %s\n", result(ioas_map(&ioas, page, 4096, 1ull << 48, true)));
  printf("IOMMU_DESTROY <the ioas> while attached => %s\n", result(destroy(iommufd, ioas.id)));
  printf("IOMMU_DESTROY <the hwpt> while attached => %s\n", result(destroy(iommufd, hwpt)));
  printf("IOMMU_DESTROY <the devid> => %s\n", result(destroy(iommufd, devid)));

  check_device_info(device);
  check_regions(device);
  check_irq_info(device);
  check_config(device);
  check_bar_pread(device);
  check_bar_mmap(device);
  struct dma_mapper mapper = {"IOMMU_IOAS_MAP", ioas_map, ioas_unmap, &ioas};
  check_dma(device, &mapper, true);
  check_set_irqs_errors(device);
  check_msi(device);
  check_intx(device);
  check_reset_and_features(device);

  printf("VFIO_DEVICE_DETACH_IOMMUFD_PT flags=1 => %s\n", result(detach(device, 1)));
  printf("VFIO_DEVICE_DETACH_IOMMUFD_PT => %s\n", result(detach(device, 0)));
  printf("IOMMU_DESTROY <the old hwpt> after detach => %s\n", result(destroy(iommufd, hwpt)));
  print_iova_ranges(iommufd, ioas.id, "after detach");
  printf("VFIO_DEVICE_DETACH_IOMMUFD_PT again => %s\n", result(detach(device, 0)));
  uint32_t v = 0;
  printf("detached: BAR0 pread id => %s\n", result(pread(device, &v, 4, 0)));
  pt = ioas.id;
  rc = attach(device, attach_size, 0, &pt);
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT re-attach => %s pt_id=%u\n", result(rc), pt);

  printf("close device fd => %s\n", result(close(device)));
  printf("IOMMU_DESTROY <the devid> after close => %s\n", result(destroy(iommufd, devid)));
  print_iova_ranges(iommufd, ioas.id, "after close");
  printf("IOMMU_DESTROY <the ioas> => %s\n", result(destroy(iommufd, ioas.id)));
  printf("close /dev/iommu => %s\n", result(close(iommufd)));
  printf("END\n");
  return 0;
}
