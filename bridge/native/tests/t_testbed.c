/*
 * The presented sysfs and /dev tree (IOMMUFD4J_TESTBED), walked as DPDK, QEMU and libvfn walk it
 * before they open anything: list /sys/bus/pci/devices (the host's functions and the emulated
 * ones), read the ids with fopen+fgets and with open+read, follow driver and iommu_group, find the
 * vfio cdev under vfio-dev and compare its dev file with stat of the /dev node, parse resource,
 * check the IOMMU's address width, write driver_override and bind. Prints one line per vfio-pci
 * function for the caller (SysfsTestbedIT) to compare with what it generated. With the argument
 * --expect-none (no IOMMUFD4J_TESTBED, or an unusable one), checks that nothing is presented.
 */
#include "t.h"

#include <dirent.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define DEVICES "/sys/bus/pci/devices"
#define MAX_NAMES 512

static char *names[MAX_NAMES];
static int nnames;

static int listed(char **list, int n, const char *name) {
  int count = 0;
  for (int i = 0; i < n; i++) count += strcmp(list[i], name) == 0;
  return count;
}

/* The host's own listing, by raw system calls the shim cannot see. */
static int host_listing(const char *path, char **out) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[8192];
  long n;
  int count = 0;
  while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *e = (struct dirent64 *)(buf + off);
      off += e->d_reclen;
      if (e->d_name[0] != '.' && count < MAX_NAMES) out[count++] = strdup(e->d_name);
    }
  }
  close(fd);
  return count;
}

/* A merged listing: every host entry once, and `name` (NULL: none) among them. */
static void check_merged(const char *path, const char *name) {
  char *host[MAX_NAMES], *seen[MAX_NAMES];
  int nhost = host_listing(path, host), nseen = 0;
  DIR *d = opendir(path);
  if (!d) FAIL("opendir(%s): %s", path, strerror(errno));
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (listed(seen, nseen, e->d_name)) FAIL("%s/%s listed twice", path, e->d_name);
    CHECK(nseen < MAX_NAMES);
    seen[nseen++] = strdup(e->d_name);
  }
  closedir(d);
  for (int i = 0; i < nhost; i++)
    if (!listed(seen, nseen, host[i])) FAIL("%s: the host's %s is missing", path, host[i]);
  if (name && !listed(seen, nseen, name)) FAIL("%s: %s is missing", path, name);
  while (nseen) free(seen[--nseen]);
  while (nhost) free(host[--nhost]);
}

/* DPDK's pci_scan: every non-dot entry of /sys/bus/pci/devices. */
static void list_devices(void) {
  DIR *d = opendir(DEVICES);
  CHECK(d != NULL);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    CHECK(nnames < MAX_NAMES);
    if (listed(names, nnames, e->d_name)) FAIL("%s listed twice", e->d_name);
    names[nnames++] = strdup(e->d_name);
  }
  CHECK_OK(closedir(d));
  struct dirent **sorted;
  int n = scandir(DEVICES, &sorted, NULL, alphasort);
  CHECK(n >= 0);
  int dots = 0;
  for (int i = 0; i < n; i++) {
    if (sorted[i]->d_name[0] == '.')
      dots++;
    else if (!listed(names, nnames, sorted[i]->d_name))
      FAIL("scandir lists %s, readdir does not", sorted[i]->d_name);
    if (i > 0 && strcmp(sorted[i - 1]->d_name, sorted[i]->d_name) >= 0) FAIL("scandir did not sort");
    free(sorted[i]);
  }
  free(sorted);
  if (n - dots != nnames) FAIL("scandir lists %d functions, readdir %d", n - dots, nnames);
}

static void read_text(const char *path, char *out, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) FAIL("open(%s): %s", path, strerror(errno));
  ssize_t n = read(fd, out, size - 1);
  CHECK(n >= 0);
  out[n] = 0;
  CHECK_OK(close(fd));
}

/* DPDK's eal_parse_sysfs_value: fopen, fgets, strtoul. */
static unsigned long sysfs_value(const char *dir, const char *attr) {
  char path[PATH_MAX], line[64], *end;
  snprintf(path, sizeof path, "%s/%s", dir, attr);
  FILE *f = fopen(path, "r");
  if (!f) FAIL("fopen(%s): %s", path, strerror(errno));
  CHECK(fgets(line, sizeof line, f) != NULL);
  fclose(f);
  unsigned long v = strtoul(line, &end, 0);
  if (*end != '\n') FAIL("%s: '%s' is not a number and a newline", path, line);
  char again[64];
  read_text(path, again, sizeof again);
  if (strcmp(again, line) != 0) FAIL("%s: open+read gives '%s', fopen+fgets '%s'", path, again, line);
  return v;
}

/* readlink's basename, as DPDK's pci_get_kernel_driver_by_path and QEMU's group lookup use it. */
static void link_name(const char *path, char *out, size_t size) {
  char target[PATH_MAX];
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) FAIL("readlink(%s): %s", path, strerror(errno));
  target[n] = 0;
  CHECK(target[0] != '/'); /* sysfs links are relative */
  snprintf(out, size, "%s", basename(target));
}

static void check_realpath(const char *path, const char *expected) {
  char resolved[PATH_MAX];
  if (!realpath(path, resolved)) FAIL("realpath(%s): %s", path, strerror(errno));
  if (strcmp(resolved, expected) != 0) FAIL("realpath(%s) = %s, expected %s", path, resolved, expected);
}

/* A character device node whose number is the one a sysfs dev file gives. */
static void check_node(const char *node, const char *dev_file, unsigned *major_out, unsigned *minor_out) {
  char text[32];
  unsigned maj, min;
  read_text(dev_file, text, sizeof text);
  if (sscanf(text, "%u:%u\n", &maj, &min) != 2) FAIL("%s: '%s'", dev_file, text);
  struct stat st;
  CHECK_OK(stat(node, &st));
  if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(maj, min))
    FAIL("stat(%s): mode 0%o rdev %u:%u, %s says %u:%u", node, st.st_mode, major(st.st_rdev), minor(st.st_rdev),
         dev_file, maj, min);
  struct statx stx;
  CHECK_OK(statx(AT_FDCWD, node, 0, STATX_BASIC_STATS, &stx));
  CHECK(S_ISCHR(stx.stx_mode) && stx.stx_rdev_major == maj && stx.stx_rdev_minor == min);
  CHECK_OK(access(node, R_OK | W_OK));
  *major_out = maj;
  *minor_out = min;
}

/* QEMU's iommufd_cdev_getfd: the one vfioN entry of <device>/vfio-dev. */
static void find_cdev(const char *dir, char *out, size_t size) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/vfio-dev", dir);
  DIR *d = opendir(path);
  if (!d) FAIL("opendir(%s): %s", path, strerror(errno));
  struct dirent *e;
  out[0] = 0;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, "vfio", 4) == 0) snprintf(out, size, "%s", e->d_name);
  closedir(d);
  if (!out[0]) FAIL("no vfio cdev under %s", path);
}

/* DPDK's pci_parse_sysfs_resource: start, end, flags per line; each BAR's resourceN is its size. */
static int check_resources(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/resource", dir);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  unsigned long long start, end, flags;
  int line = 0, bars = 0;
  while (fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3) {
    if (flags != 0 && line < 6) {
      struct stat st;
      snprintf(path, sizeof path, "%s/resource%d", dir, line);
      CHECK_OK(stat(path, &st));
      if ((unsigned long long)st.st_size != end - start + 1) FAIL("%s: %lld bytes", path, (long long)st.st_size);
      bars++;
    }
    line++;
  }
  fclose(f);
  if (line != 13) FAIL("resource has %d lines, not 13", line);
  return bars;
}

/* DPDK's pci_device_iommu_support_va: the VT-d unit's MGAW, from intel-iommu/cap. */
static unsigned iommu_address_width(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/iommu/intel-iommu/cap", dir);
  FILE *f = fopen(path, "r");
  if (!f) FAIL("fopen(%s): %s", path, strerror(errno));
  uint64_t cap;
  CHECK(fscanf(f, "%" SCNx64, &cap) == 1);
  fclose(f);
  return (unsigned)((cap >> 16) & 0x3f) + 1;
}

/* libvfn's pci_bind: driver_override, then bind; both writes succeed and land in the testbed. */
static void write_attributes(const char *bdf, const char *dir) {
  char path[PATH_MAX], text[64];
  snprintf(path, sizeof path, "%s/driver_override", dir);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  CHECK(write(fd, "vfio-pci", 8) == 8);
  CHECK_OK(close(fd));
  read_text(path, text, sizeof text);
  if (strcmp(text, "vfio-pci") != 0) FAIL("driver_override reads back '%s'", text);
  FILE *f = fopen("/sys/bus/pci/drivers/vfio-pci/bind", "w");
  CHECK(f != NULL);
  CHECK(fputs(bdf, f) >= 0);
  CHECK(fclose(f) == 0);
  /* sysfs makes no files: a shell's `echo 1 > sriov_numvfs` on a function without SR-IOV */
  snprintf(path, sizeof path, "%s/sriov_numvfs", dir);
  CHECK_ERRNO(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), EACCES);
  CHECK(fopen(path, "w") == NULL && errno == EACCES);
  CHECK_ERRNO(access(path, F_OK), ENOENT);
}

static void check_function(const char *bdf) {
  char dir[256], path[PATH_MAX], text[PATH_MAX], driver[64], group[32], cdev[256];
  snprintf(dir, sizeof dir, DEVICES "/%s", bdf);
  unsigned long vendor = sysfs_value(dir, "vendor"), device = sysfs_value(dir, "device");
  unsigned long class = sysfs_value(dir, "class");
  snprintf(path, sizeof path, "%s/numa_node", dir);
  read_text(path, text, sizeof text);
  long numa = atol(text);
  snprintf(path, sizeof path, "%s/driver", dir);
  link_name(path, driver, sizeof driver);
  snprintf(path, sizeof path, "%s/iommu_group", dir);
  link_name(path, group, sizeof group);

  snprintf(text, sizeof text, "/sys/devices/pci0000:00/%s", bdf);
  check_realpath(dir, text);
  snprintf(text, sizeof text, "/sys/kernel/iommu_groups/%s", group);
  check_realpath(path, text);
  /* the group's link reaches the same function */
  snprintf(path, sizeof path, "/sys/kernel/iommu_groups/%s/devices/%s", group, bdf);
  if (sysfs_value(path, "vendor") != vendor) FAIL("%s/vendor differs", path);

  /* .. after a symlink is the kernel's parent: /sys/devices/pci0000:00 */
  snprintf(path, sizeof path, "%s/../%s/class", dir, bdf);
  CHECK(access(path, R_OK) == 0);
  /* the function's directory is the testbed's own: a file it lacks does not exist */
  snprintf(path, sizeof path, "%s/firmware_node", dir);
  struct stat st;
  CHECK_ERRNO(lstat(path, &st), ENOENT);

  /* openat relative to a directory descriptor, and /proc/self/fd reading back the sysfs path */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  CHECK(dfd >= 0);
  int fd = openat(dfd, "vendor", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, text, sizeof text - 1);
  CHECK(n > 0);
  text[n] = 0;
  char expected[PATH_MAX];
  snprintf(expected, sizeof expected, "/sys/devices/pci0000:00/%s/vendor", bdf);
  if (strcmp(text, expected) != 0) FAIL("%s reads back %s, expected %s", path, text, expected);
  CHECK_OK(close(fd));
  CHECK_OK(close(dfd));

  /* a path relative to a host directory the program changed into */
  if (chdir("/sys/bus/pci") == 0) {
    snprintf(path, sizeof path, "devices/%s", bdf);
    if (sysfs_value(path, "vendor") != vendor) FAIL("%s/vendor from /sys/bus/pci differs", path);
    CHECK_OK(chdir("/"));
  }
  check_merged("/sys/kernel/iommu_groups", group);

  find_cdev(dir, cdev, sizeof cdev);
  unsigned cdev_major, cdev_minor, group_major, group_minor;
  snprintf(path, sizeof path, "%s/vfio-dev/%s/dev", dir, cdev);
  snprintf(text, sizeof text, "/dev/vfio/devices/%s", cdev);
  check_node(text, path, &cdev_major, &cdev_minor);
  CHECK_ERRNO(open(text, O_RDWR | O_CLOEXEC), ENOENT); /* the VFIO layer's: no server, no layer */
  snprintf(path, sizeof path, "/sys/class/vfio/%s/dev", group);
  snprintf(text, sizeof text, "/dev/vfio/%s", group);
  check_node(text, path, &group_major, &group_minor);

  int bars = check_resources(dir);
  unsigned width = iommu_address_width(dir);
  write_attributes(bdf, dir);
  printf(
      "function %s %04lx:%04lx class %06lx numa %ld driver %s group %s cdev %s %u:%u group-node %u:%u bars %d "
      "iommu-width %u\n",
      bdf, vendor, device, class, numa, driver, group, cdev, cdev_major, cdev_minor, group_major, group_minor, bars,
      width);
}

/* /dev/vfio lists its nodes as character devices; the container is 10:196. */
static void check_dev_vfio(void) {
  DIR *d = opendir("/dev/vfio");
  CHECK(d != NULL);
  struct dirent *e;
  int nodes = 0, devices_dir = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (strcmp(e->d_name, "devices") == 0)
      devices_dir = e->d_type == DT_DIR;
    else if (e->d_type == DT_CHR)
      nodes++;
    else
      FAIL("/dev/vfio/%s has d_type %d", e->d_name, e->d_type);
  }
  closedir(d);
  CHECK(devices_dir);
  /* ls -l asks for a label: the node exists for that too */
  char label[64];
  errno = 0;
  CHECK(lgetxattr("/dev/vfio/vfio", "security.selinux", label, sizeof label) >= 0 || errno != ENOENT);
  struct stat st;
  CHECK_OK(stat("/dev/vfio/vfio", &st));
  CHECK(S_ISCHR(st.st_mode) && st.st_rdev == makedev(10, 196));
  printf("dev-vfio nodes %d\n", nodes);
}

static void check_modules(void) {
  struct stat st;
  CHECK_OK(stat("/sys/module/vfio", &st));
  CHECK(S_ISDIR(st.st_mode));
  CHECK_OK(stat("/sys/module/vfio_pci", &st));
  CHECK_ERRNO(stat("/sys/module/vfio_iommu_type1", &st), ENOENT);
  char text[8];
  read_text("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode", text, sizeof text);
  if (strcmp(text, "N\n") != 0) FAIL("enable_unsafe_noiommu_mode is '%s'", text);
}

int main(int argc, char **argv) {
  t_name = "t_testbed";
  char *host[MAX_NAMES];
  int nhost = host_listing(DEVICES, host);
  list_devices();
  for (int i = 0; i < nhost; i++)
    if (listed(names, nnames, host[i]) != 1) FAIL("the host's %s is not listed once", host[i]);
  int emulated = 0;
  for (int i = 0; i < nnames; i++) {
    char path[PATH_MAX], driver[64];
    snprintf(path, sizeof path, DEVICES "/%s/driver", names[i]);
    char target[PATH_MAX];
    if (readlink(path, target, sizeof target) < 0) continue;
    link_name(path, driver, sizeof driver);
    if (strcmp(driver, "vfio-pci") != 0) {
      /* a host function reads as it does without the shim */
      snprintf(path, sizeof path, DEVICES "/%s", names[i]);
      sysfs_value(path, "vendor");
      continue;
    }
    check_function(names[i]);
    emulated++;
  }
  struct stat st;
  if (argc > 1 && strcmp(argv[1], "--expect-none") == 0) {
    if (emulated != 0) FAIL("vfio-pci functions without a testbed");
    if (nnames != nhost) FAIL("readdir lists %d functions, the host has %d", nnames, nhost);
    if (stat("/dev/vfio/vfio", &st) != 0) CHECK_ERRNO(open("/dev/vfio/devices/vfio0", O_RDWR), ENOENT);
    printf("t_testbed: ok (no testbed)\n");
    return 0;
  }
  if (emulated == 0) FAIL("no vfio-pci function listed (is IOMMUFD4J_TESTBED set?)");
  check_dev_vfio();
  check_modules();
  check_merged("/sys/module", "vfio_pci");
  check_merged("/sys/bus/pci/drivers", "vfio-pci");
  printf("listed %d functions, %d of the host\n", nnames, nhost);
  printf("t_testbed: ok\n");
  return 0;
}
