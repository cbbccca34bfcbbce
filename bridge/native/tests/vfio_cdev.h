/*
 * A PCI function's VFIO device cdev, for the tests and the device benchmark: found in sysfs, bound
 * to an iommufd and attached to a fresh IOAS, its regions' offsets, memory decoding and bus
 * mastering turned on.
 */
#ifndef IOMMUFD4J_VFIO_CDEV_H
#define IOMMUFD4J_VFIO_CDEV_H

#include <dirent.h>
#include <linux/vfio.h>
#include <stdbool.h>

#include "t.h"

/* The vfio cdev of the first PCI function whose sysfs `attribute` starts with `value` (e.g.
   "class", "0x0108"): 0, or -1 if there is none. */
static inline int t_vfio_cdev_find(const char *attribute, const char *value, char *cdev, size_t size) {
  DIR *pci = opendir("/sys/bus/pci/devices");
  if (!pci) return -1;
  for (struct dirent *e; (e = readdir(pci));) {
    char path[600], text[16] = {0};
    snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/%s", e->d_name, attribute);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    bool match = fgets(text, sizeof text, f) && strncmp(text, value, strlen(value)) == 0;
    fclose(f);
    if (!match) continue;
    snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/vfio-dev", e->d_name);
    DIR *vfio = opendir(path);
    for (struct dirent *v; vfio && (v = readdir(vfio));)
      if (v->d_name[0] != '.') {
        snprintf(cdev, size, "/dev/vfio/devices/%s", v->d_name);
        closedir(vfio);
        closedir(pci);
        return 0;
      }
    if (vfio) closedir(vfio);
  }
  closedir(pci);
  return -1;
}

/* Binds the device fd to iommufd and attaches it to a new IOAS: the IOAS. */
static inline uint32_t t_vfio_cdev_attach(int fd, int iommufd) {
  struct bind_iommufd bind = {.argsz = sizeof bind, .iommufd = iommufd};
  CHECK_OK(ioctl(fd, DEVICE_BIND_IOMMUFD, &bind));
  uint32_t ioas = t_ioas_alloc(iommufd);
  struct attach_pt attach = {.argsz = sizeof attach, .pt_id = ioas};
  CHECK_OK(ioctl(fd, DEVICE_ATTACH_IOMMUFD_PT, &attach));
  return ioas;
}

/* The offset of region `index` in the device file. */
static inline uint64_t t_vfio_region(int fd, uint32_t index) {
  struct vfio_region_info info = {.argsz = sizeof info, .index = index};
  CHECK_OK(ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info));
  return info.offset;
}

/* Sets memory decoding and bus mastering in the command register of the config space at `config`. */
static inline void t_vfio_enable_memory_and_dma(int fd, uint64_t config) {
  uint16_t command;
  CHECK(pread(fd, &command, 2, (off_t)config + 0x04) == 2);
  command |= 0x6;
  CHECK(pwrite(fd, &command, 2, (off_t)config + 0x04) == 2);
}

#endif
