/*
 * QEMU's edu device through the legacy VFIO path: the IOMMU group (/dev/vfio/<group>), the
 * container (/dev/vfio/vfio, iommufd's compatibility container on this kernel), SET_IOMMU,
 * VFIO_IOMMU_GET_INFO, GROUP_GET_DEVICE_FD, then the device-fd checks of edu_common.c with
 * VFIO_IOMMU_MAP_DMA, and teardown. Prints one observation per line (see edu.h).
 */
#include "edu.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static int type1_map(void *ctx, void *buffer, uint64_t length, uint64_t iova, bool device_writable) {
  struct vfio_iommu_type1_dma_map map = {
      .argsz = sizeof map,
      .flags = VFIO_DMA_MAP_FLAG_READ | (device_writable ? VFIO_DMA_MAP_FLAG_WRITE : 0),
      .vaddr = (uintptr_t)buffer,
      .iova = iova,
      .size = length,
  };
  return ioctl(*(int *)ctx, VFIO_IOMMU_MAP_DMA, &map);
}

static int type1_unmap(void *ctx, uint64_t iova, uint64_t length, uint64_t *unmapped) {
  struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof unmap, .iova = iova, .size = length};
  int rc = ioctl(*(int *)ctx, VFIO_IOMMU_UNMAP_DMA, &unmap);
  *unmapped = rc == 0 ? unmap.size : 0;
  return rc;
}

static const char *const extension_names[] = {
    "0",          "TYPE1_IOMMU",         "SPAPR_TCE_IOMMU", "TYPE1v2_IOMMU", "DMA_CC_IOMMU", "EEH",
    "TYPE1_NESTING_IOMMU", "SPAPR_TCE_v2_IOMMU", "NOIOMMU_IOMMU", "UNMAP_ALL", "UPDATE_VADDR", "11"};

static void check_extensions(int container, const char *when) {
  for (int ext = 0; ext <= 11; ext++)
    printf("VFIO_CHECK_EXTENSION %s %s => %s\n", extension_names[ext], when,
           result(ioctl(container, VFIO_CHECK_EXTENSION, ext)));
}

static void group_status(int group, const char *when) {
  struct vfio_group_status status = {.argsz = sizeof status};
  long rc = ioctl(group, VFIO_GROUP_GET_STATUS, &status);
  printf("VFIO_GROUP_GET_STATUS %s => %s flags=0x%x\n", when, result(rc), status.flags);
}

static void iommu_info(int container, const char *when) {
  struct vfio_iommu_type1_info minimal = {.argsz = offsetof(struct vfio_iommu_type1_info, cap_offset)};
  long rc = ioctl(container, VFIO_IOMMU_GET_INFO, &minimal);
  printf("VFIO_IOMMU_GET_INFO %s argsz=%zu => %s argsz=%u flags=0x%x iova_pgsizes=0x%llx\n", when,
         offsetof(struct vfio_iommu_type1_info, cap_offset), result(rc), minimal.argsz, minimal.flags,
         (unsigned long long)minimal.iova_pgsizes);
  if (rc < 0) return;
  struct vfio_iommu_type1_info plain = {.argsz = sizeof plain};
  rc = ioctl(container, VFIO_IOMMU_GET_INFO, &plain);
  printf("VFIO_IOMMU_GET_INFO %s argsz=%zu => %s argsz=%u flags=0x%x cap_offset=%u\n", when, sizeof plain, result(rc),
         plain.argsz, plain.flags, plain.cap_offset);
  union { struct vfio_iommu_type1_info info; uint8_t bytes[1024]; } big = {.info.argsz = sizeof big};
  rc = ioctl(container, VFIO_IOMMU_GET_INFO, &big);
  printf("VFIO_IOMMU_GET_INFO %s argsz=%zu => %s argsz=%u flags=0x%x iova_pgsizes=0x%llx cap_offset=%u\n", when,
         sizeof big, result(rc), big.info.argsz, big.info.flags, (unsigned long long)big.info.iova_pgsizes,
         big.info.cap_offset);
  for (uint32_t at = big.info.cap_offset, n = 0; rc == 0 && at && at < sizeof big && n < 16; n++) {
    const struct vfio_info_cap_header *h = (const void *)(big.bytes + at);
    printf("VFIO_IOMMU_GET_INFO cap at=%u id=%u version=%u next=%u\n", at, h->id, h->version, h->next);
    if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
      const struct vfio_iommu_type1_info_cap_iova_range *r = (const void *)h;
      for (uint32_t i = 0; i < r->nr_iovas; i++)
        printf("VFIO_IOMMU_GET_INFO   iova range start=0x%llx end=0x%llx\n",
               (unsigned long long)r->iova_ranges[i].start, (unsigned long long)r->iova_ranges[i].end);
    } else if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
      const struct vfio_iommu_type1_info_cap_migration *m = (const void *)h;
      printf("VFIO_IOMMU_GET_INFO   migration flags=0x%x pgsize_bitmap=0x%llx max_dirty_bitmap_size=0x%llx\n", m->flags,
             (unsigned long long)m->pgsize_bitmap, (unsigned long long)m->max_dirty_bitmap_size);
    } else if (h->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
      printf("VFIO_IOMMU_GET_INFO   dma_avail=%u\n", ((const struct vfio_iommu_type1_info_dma_avail *)h)->avail);
    }
    at = h->next;
  }
}

static long map_dma(int container, uint32_t flags, void *vaddr, uint64_t iova, uint64_t size) {
  struct vfio_iommu_type1_dma_map map = {
      .argsz = sizeof map, .flags = flags, .vaddr = (uintptr_t)vaddr, .iova = iova, .size = size};
  return ioctl(container, VFIO_IOMMU_MAP_DMA, &map);
}

static void unmap_dma(int container, const char *what, uint32_t flags, uint64_t iova, uint64_t size) {
  struct vfio_iommu_type1_dma_unmap unmap = {.argsz = sizeof unmap, .flags = flags, .iova = iova, .size = size};
  long rc = ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap);
  printf("VFIO_IOMMU_UNMAP_DMA %s => %s size=0x%llx\n", what, result(rc), (unsigned long long)unmap.size);
}

static void check_map_dma_errors(int container) {
  uint32_t rw = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  uint8_t *buffer = mmap(NULL, 0x4000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  require(buffer != MAP_FAILED, "mmap");
  printf("VFIO_IOMMU_MAP_DMA iova=0x800000 size=0x4000 => %s\n", result(map_dma(container, rw, buffer, 0x800000, 0x4000)));
  printf("VFIO_IOMMU_MAP_DMA overlapping => %s\n", result(map_dma(container, rw, buffer, 0x801000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA same range again => %s\n", result(map_dma(container, rw, buffer, 0x800000, 0x4000)));
  printf("VFIO_IOMMU_MAP_DMA iova unaligned => %s\n", result(map_dma(container, rw, buffer, 0x900800, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA vaddr unaligned => %s\n", result(map_dma(container, rw, buffer + 0x800, 0x900000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA size=0 => %s\n", result(map_dma(container, rw, buffer, 0x900000, 0)));
  printf("VFIO_IOMMU_MAP_DMA size=0x800 => %s\n", result(map_dma(container, rw, buffer, 0x900000, 0x800)));
  printf("VFIO_IOMMU_MAP_DMA flags=0 => %s\n", result(map_dma(container, 0, buffer, 0x900000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA flags=WRITE only => %s\n",
         result(map_dma(container, VFIO_DMA_MAP_FLAG_WRITE, buffer, 0x900000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA flags=VADDR (not mapped before) => %s\n",
         result(map_dma(container, rw | VFIO_DMA_MAP_FLAG_VADDR, buffer, 0xa00000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA unknown flag 0x8 => %s\n", result(map_dma(container, rw | 8, buffer, 0x900000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA iova=0xfee00000 (MSI window) => %s\n", result(map_dma(container, rw, buffer, 0xfee00000, 0x1000)));
  printf("VFIO_IOMMU_MAP_DMA iova=1<<39 => %s\n", result(map_dma(container, rw, buffer, 1ull << 39, 0x1000)));
  struct vfio_iommu_type1_dma_map tiny = {.argsz = 16, .flags = rw, .vaddr = (uintptr_t)buffer, .iova = 0x900000, .size = 0x1000};
  printf("VFIO_IOMMU_MAP_DMA argsz=16 => %s\n", result(ioctl(container, VFIO_IOMMU_MAP_DMA, &tiny)));

  unmap_dma(container, "middle page of a mapping", 0, 0x801000, 0x1000);
  unmap_dma(container, "iova unaligned", 0, 0x800800, 0x1000);
  unmap_dma(container, "nothing mapped there", 0, 0x900000, 0x1000);
  unmap_dma(container, "size=0", 0, 0x800000, 0);
  printf("VFIO_IOMMU_MAP_DMA iova=0x810000 size=0x1000 => %s\n", result(map_dma(container, rw, buffer, 0x810000, 0x1000)));
  unmap_dma(container, "ALL with size!=0", VFIO_DMA_UNMAP_FLAG_ALL, 0, 0x1000);
  unmap_dma(container, "ALL", VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
  unmap_dma(container, "ALL again", VFIO_DMA_UNMAP_FLAG_ALL, 0, 0);
  unmap_dma(container, "unknown flag 0x8", 8, 0x800000, 0x1000);
  munmap(buffer, 0x4000);
}

static long get_device_fd(int group, const char *name) { return ioctl(group, VFIO_GROUP_GET_DEVICE_FD, name); }

/* GROUP_GET_DEVICE_FD with a name that may or may not be accepted; a descriptor it gives is closed. */
static void try_device_name(int group, const char *shown, const char *name, const char *when) {
  long fd = get_device_fd(group, name);
  printf("VFIO_GROUP_GET_DEVICE_FD \"%s\"%s => %s\n", shown, when, fd_result(fd));
  if (fd >= 0) close((int)fd);
}

int main(void) {
  struct edu_location loc;
  edu_discover(&loc);

  printf("SYSFS /sys/module/vfio_iommu_type1 present=%d\n", access("/sys/module/vfio_iommu_type1", F_OK) == 0);
  printf("SYSFS /sys/module/iommufd present=%d\n", access("/sys/module/iommufd", F_OK) == 0);
  int container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  printf("open /dev/vfio/vfio => %s\n", fd_result(container));
  require(container >= 0, "open /dev/vfio/vfio");
  printf("VFIO_GET_API_VERSION => %s\n", result(ioctl(container, VFIO_GET_API_VERSION)));
  check_extensions(container, "before SET_IOMMU");
  printf("CONTAINER provider=%s\n", access("/sys/module/vfio_iommu_type1", F_OK) == 0 ? "vfio_iommu_type1"
                                    : ioctl(container, VFIO_CHECK_EXTENSION, VFIO_UPDATE_VADDR) == 0
                                        ? "iommufd-compat (no type1 module, UPDATE_VADDR unsupported)"
                                        : "unknown");
  iommu_info(container, "before SET_IOMMU");

  char path[600];
  snprintf(path, sizeof path, "/dev/vfio/%s", loc.group);
  int group = open(path, O_RDWR | O_CLOEXEC);
  printf("open /dev/vfio/<group> => %s\n", fd_result(group));
  require(group >= 0, "open the group");
  int second = open(path, O_RDWR | O_CLOEXEC);
  printf("open /dev/vfio/<group> a second time => %s\n", fd_result(second));
  if (second >= 0) close(second);

  struct vfio_group_status tiny = {.argsz = 4};
  printf("VFIO_GROUP_GET_STATUS argsz=4 => %s\n", result(ioctl(group, VFIO_GROUP_GET_STATUS, &tiny)));
  group_status(group, "before SET_CONTAINER");
  try_device_name(group, "<bdf>", loc.bdf, " before SET_CONTAINER");
  printf("VFIO_SET_IOMMU TYPE1v2 before any group => %s\n", result(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)));
  int32_t fd = -1;
  printf("VFIO_GROUP_SET_CONTAINER fd=-1 => %s\n", result(ioctl(group, VFIO_GROUP_SET_CONTAINER, &fd)));
  fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  printf("VFIO_GROUP_SET_CONTAINER fd=/dev/null => %s\n", result(ioctl(group, VFIO_GROUP_SET_CONTAINER, &fd)));
  close(fd);
  printf("VFIO_GROUP_UNSET_CONTAINER before SET_CONTAINER => %s\n", result(ioctl(group, VFIO_GROUP_UNSET_CONTAINER)));
  long rc = ioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
  printf("VFIO_GROUP_SET_CONTAINER => %s\n", result(rc));
  require(rc == 0, "VFIO_GROUP_SET_CONTAINER");
  group_status(group, "after SET_CONTAINER");
  printf("VFIO_GROUP_SET_CONTAINER again => %s\n", result(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container)));
  try_device_name(group, "<bdf>", loc.bdf, " before SET_IOMMU");
  printf("VFIO_SET_IOMMU 42 => %s\n", result(ioctl(container, VFIO_SET_IOMMU, 42)));
  printf("VFIO_SET_IOMMU NOIOMMU => %s\n", result(ioctl(container, VFIO_SET_IOMMU, VFIO_NOIOMMU_IOMMU)));
  rc = ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
  printf("VFIO_SET_IOMMU TYPE1v2 => %s\n", result(rc));
  require(rc == 0, "VFIO_SET_IOMMU");
  printf("VFIO_SET_IOMMU TYPE1 after TYPE1v2 => %s\n", result(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU)));
  check_extensions(container, "after SET_IOMMU");
  group_status(group, "after SET_IOMMU");
  iommu_info(container, "after SET_IOMMU");

  char name[600];
  try_device_name(group, "0000:ff:1f.7", "0000:ff:1f.7", "");
  try_device_name(group, "garbage", "garbage", "");
  try_device_name(group, "", "", "");
  try_device_name(group, "<bdf without domain>", loc.bdf + 5, "");
  snprintf(name, sizeof name, "%s vf_token=00000000-0000-0000-0000-000000000000", loc.bdf);
  try_device_name(group, "<bdf> vf_token=<zero uuid>", name, "");
  snprintf(name, sizeof name, "%s ", loc.bdf);
  try_device_name(group, "<bdf> ", name, "");
  int device = (int)get_device_fd(group, loc.bdf);
  printf("VFIO_GROUP_GET_DEVICE_FD \"<bdf>\" => %s\n", fd_result(device));
  require(device >= 0, "VFIO_GROUP_GET_DEVICE_FD");
  int other = (int)get_device_fd(group, loc.bdf);
  printf("VFIO_GROUP_GET_DEVICE_FD \"<bdf>\" a second time => %s\n", fd_result(other));
  if (other >= 0) close(other);
  group_status(group, "with a device fd open");

  if (loc.vfio_name[0]) {
    snprintf(path, sizeof path, "/dev/vfio/devices/%s", loc.vfio_name);
    int cdev = open(path, O_RDWR | O_CLOEXEC);
    printf("open /dev/vfio/devices/<vfioN> while the group is open => %s\n", fd_result(cdev));
    int iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
    if (cdev >= 0 && iommufd >= 0) {
      struct vfio_device_bind_iommufd bind = {.argsz = sizeof bind, .iommufd = iommufd};
      printf("VFIO_DEVICE_BIND_IOMMUFD on the cdev while the group is open => %s\n",
             result(ioctl(cdev, VFIO_DEVICE_BIND_IOMMUFD, &bind)));
    }
    if (cdev >= 0) close(cdev);
    if (iommufd >= 0) close(iommufd);
  }

  struct vfio_device_bind_iommufd bind = {.argsz = sizeof bind, .iommufd = container};
  printf("VFIO_DEVICE_BIND_IOMMUFD on a group device fd => %s\n", result(ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &bind)));
  struct vfio_device_attach_iommufd_pt attach = {.argsz = sizeof attach, .pt_id = 1};
  printf("VFIO_DEVICE_ATTACH_IOMMUFD_PT on a group device fd => %s\n",
         result(ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)));
  printf("VFIO_GET_API_VERSION on the device fd => %s\n", result(ioctl(device, VFIO_GET_API_VERSION)));
  printf("VFIO_IOMMU_GET_INFO on the group fd => %s\n", result(ioctl(group, VFIO_IOMMU_GET_INFO, NULL)));

  check_device_info(device);
  check_regions(device);
  check_irq_info(device);
  check_config(device);
  check_bar_pread(device);
  check_bar_mmap(device);
  struct dma_mapper mapper = {"VFIO_IOMMU_MAP_DMA", type1_map, type1_unmap, &container};
  check_dma(device, &mapper, false);
  check_map_dma_errors(container);
  check_msi(device);

  printf("VFIO_GROUP_UNSET_CONTAINER with a device fd open => %s\n", result(ioctl(group, VFIO_GROUP_UNSET_CONTAINER)));
  group_status(group, "with a device fd open, after UNSET_CONTAINER");
  uint32_t id = 0;
  long n = pread(device, &id, 4, 0);
  printf("BAR0 pread id with the container unset => %s value=0x%08x\n", result(n), id);
  printf("close device fd => %s\n", result(close(device)));
  printf("VFIO_GROUP_UNSET_CONTAINER => %s\n", result(ioctl(group, VFIO_GROUP_UNSET_CONTAINER)));
  group_status(group, "after UNSET_CONTAINER");
  printf("VFIO_GROUP_UNSET_CONTAINER again => %s\n", result(ioctl(group, VFIO_GROUP_UNSET_CONTAINER)));
  iommu_info(container, "after UNSET_CONTAINER");
  printf("VFIO_SET_IOMMU TYPE1v2 after UNSET_CONTAINER => %s\n",
         result(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)));
  printf("close group => %s\n", result(close(group)));
  printf("close container => %s\n", result(close(container)));
  printf("END\n");
  return 0;
}
