/*
 * The device-fd checks edu_cdev and edu_group share (see edu.h). Written from the VFIO uapi
 * header's documentation and QEMU's edu specification; the kernel under test decides every
 * result, this file only asks and prints.
 */
#include "edu.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Waits that expect an event, and waits that prove there is none (kept short: the VM is slow). */
#define EXPECT_MS 5000
#define QUIET_MS 1000

/* ---- printing ---- */

const char *err_name(int err) {
#define E(name) {name, "-" #name}
  static const struct { int err; const char *name; } names[] = {
      E(EPERM),  E(ENOENT), E(ESRCH),  E(EINTR),  E(EIO),     E(ENXIO),     E(E2BIG),      E(EBADF),
      E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY),   E(EEXIST),    E(ENODEV),     E(ENOTDIR),
      E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ENOSPC),  E(ESPIPE),    E(ERANGE),     E(ENOSYS),
      E(EBADFD), E(EOVERFLOW), E(EOPNOTSUPP), E(EADDRINUSE), E(ETIMEDOUT),
      {524, "-ENOTSUPP"}, /* kernel-internal, but it leaks to user space from some drivers */
  };
#undef E
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].err == err) return names[i].name;
  static char other[4][16];
  static int next;
  char *s = other[next++ % 4];
  snprintf(s, sizeof other[0], "-E%d", err);
  return s;
}

/* Rotating buffers, so one printf may show several results. */
static char *scratch(void) {
  static char buffers[8][32];
  static int next;
  return buffers[next++ % 8];
}

const char *result(long rc) {
  if (rc < 0) return err_name(errno);
  char *s = scratch();
  snprintf(s, 32, "%ld", rc);
  return s;
}

const char *fd_result(long rc) { return rc < 0 ? err_name(errno) : "fd"; }

void require(bool cond, const char *what) {
  if (cond) return;
  printf("FATAL %s (errno %s)\n", what, err_name(errno));
  exit(1);
}

static void flag_names(char *out, size_t size, uint32_t flags, const char *const *names, int n) {
  size_t used = snprintf(out, size, "0x%x", flags);
  const char *sep = "(";
  for (int bit = 0; bit < n && used < size; bit++)
    if (flags & (1u << bit) && names[bit]) {
      used += snprintf(out + used, size - used, "%s%s", sep, names[bit]);
      sep = "|";
    }
  if (*sep == '|' && used < size) snprintf(out + used, size - used, ")");
}

/* ---- sysfs discovery ---- */

/*
 * Files are read with open+read, never stdio: an LD_PRELOAD emulator can interpose open, but not
 * the open that fopen makes inside libc.
 */
static ssize_t read_file(const char *path, char *out, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, out, size - 1);
  close(fd);
  out[n < 0 ? 0 : n] = 0;
  return n;
}

static bool read_line(const char *path, char *out, size_t size) {
  if (read_file(path, out, size) <= 0) return false;
  out[strcspn(out, "\n")] = 0;
  return true;
}

static unsigned long read_hex(const char *dir, const char *file) {
  char path[600], line[64];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  return read_line(path, line, sizeof line) ? strtoul(line, NULL, 16) : ~0ul;
}

static const char *link_name(const char *path, char *out, size_t size) {
  char target[256];
  ssize_t n = readlink(path, target, sizeof target - 1);
  if (n < 0) return NULL;
  target[n] = 0;
  const char *base = strrchr(target, '/');
  snprintf(out, size, "%s", base ? base + 1 : target);
  return out;
}

static const char *file_type(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) return err_name(errno);
  return S_ISCHR(st.st_mode) ? "char" : S_ISDIR(st.st_mode) ? "dir" : "other";
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

void edu_discover(struct edu_location *loc) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  memset(loc, 0, sizeof *loc);
  DIR *d = opendir("/sys/bus/pci/devices");
  require(d != NULL, "opendir /sys/bus/pci/devices");
  int found = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char dir[300];
    snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s", e->d_name);
    if (read_hex(dir, "vendor") != EDU_VENDOR || read_hex(dir, "device") != EDU_DEVICE) continue;
    if (found++ == 0) {
      snprintf(loc->bdf, sizeof loc->bdf, "%s", e->d_name);
      snprintf(loc->sysfs, sizeof loc->sysfs, "%s", dir);
    }
  }
  closedir(d);
  printf("SYSFS devices with vendor=0x%04x device=0x%04x: %d\n", EDU_VENDOR, EDU_DEVICE, found);
  require(found == 1, "exactly one edu device");

  printf("SYSFS <bdf> class=0x%06lx revision=0x%02lx subsystem=0x%04lx:0x%04lx\n",
         read_hex(loc->sysfs, "class"), read_hex(loc->sysfs, "revision"),
         read_hex(loc->sysfs, "subsystem_vendor"), read_hex(loc->sysfs, "subsystem_device"));
  char path[600], name[256], line[128];
  snprintf(path, sizeof path, "%s/driver", loc->sysfs);
  printf("SYSFS <bdf>/driver -> %s\n", link_name(path, name, sizeof name) ?: err_name(errno));
  snprintf(path, sizeof path, "%s/driver_override", loc->sysfs);
  printf("SYSFS <bdf>/driver_override = %s\n", read_line(path, line, sizeof line) ? line : "?");

  /* BAR0's size from the resource file (the addresses themselves vary). */
  snprintf(path, sizeof path, "%s/resource", loc->sysfs);
  char resource[2048];
  char *at = read_file(path, resource, sizeof resource) > 0 ? resource : NULL;
  for (int bar = 0; at && *at && bar < 13; bar++, at = strchr(at, '\n') ? strchr(at, '\n') + 1 : NULL) {
    unsigned long long start, end, flags;
    if (sscanf(at, "%llx %llx %llx", &start, &end, &flags) != 3) break;
    if (end) printf("SYSFS <bdf>/resource line=%d size=0x%llx flags=0x%llx\n", bar, end - start + 1, flags);
  }
  snprintf(path, sizeof path, "%s/irq", loc->sysfs);
  printf("SYSFS <bdf>/irq nonzero=%d\n", read_line(path, line, sizeof line) && atoi(line) != 0);

  snprintf(path, sizeof path, "%s/iommu_group", loc->sysfs);
  require(link_name(path, loc->group, sizeof loc->group) != NULL, "readlink iommu_group");
  snprintf(path, sizeof path, "/sys/kernel/iommu_groups/%s/devices", loc->group);
  printf("SYSFS <bdf>/iommu_group -> <group> devices_in_group=%d\n", count_entries(path));
  snprintf(path, sizeof path, "/sys/kernel/iommu_groups/%s/type", loc->group);
  printf("SYSFS iommu_groups/<group>/type = %s\n", read_line(path, line, sizeof line) ? line : "?");
  snprintf(path, sizeof path, "%s/iommu", loc->sysfs);
  printf("SYSFS <bdf>/iommu -> %s\n", link_name(path, name, sizeof name) ?: err_name(errno));

  snprintf(path, sizeof path, "%s/vfio-dev", loc->sysfs);
  d = opendir(path);
  int entries = 0;
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.' && entries++ == 0) snprintf(loc->vfio_name, sizeof loc->vfio_name, "%s", e->d_name);
  if (d) closedir(d);
  printf("SYSFS <bdf>/vfio-dev entries=%d%s\n", entries,
         strncmp(loc->vfio_name, "vfio", 4) == 0 ? " named vfioN" : "");
  snprintf(path, sizeof path, "/dev/vfio/devices/%s", loc->vfio_name);
  printf("DEV /dev/vfio/devices/<vfioN> %s\n", entries ? file_type(path) : "absent");
  snprintf(path, sizeof path, "/dev/vfio/%s", loc->group);
  printf("DEV /dev/vfio/<group> %s\n", file_type(path));
  struct stat st;
  if (stat("/dev/vfio/vfio", &st) == 0)
    printf("DEV /dev/vfio/vfio char=%d major=%u minor=%u\n", S_ISCHR(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
  else
    printf("DEV /dev/vfio/vfio %s\n", err_name(errno));
  printf("DEV /dev/iommu %s\n", file_type("/dev/iommu"));
}

/* ---- register access through the device fd ---- */

static uint64_t region_offset(int device, uint32_t index) {
  struct vfio_region_info info = {.argsz = sizeof info, .index = index};
  require(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info) == 0, "VFIO_DEVICE_GET_REGION_INFO");
  return info.offset;
}

static uint64_t bar0(int device) { return region_offset(device, VFIO_PCI_BAR0_REGION_INDEX); }
static uint64_t config(int device) { return region_offset(device, VFIO_PCI_CONFIG_REGION_INDEX); }

static uint32_t rd32(int device, uint32_t reg) {
  uint32_t v = 0;
  require(pread(device, &v, 4, bar0(device) + reg) == 4, "pread BAR0");
  return v;
}

static void wr32(int device, uint32_t reg, uint32_t v) {
  require(pwrite(device, &v, 4, bar0(device) + reg) == 4, "pwrite BAR0");
}

static void wr64(int device, uint32_t reg, uint64_t v) {
  require(pwrite(device, &v, 8, bar0(device) + reg) == 8, "pwrite BAR0 8 bytes");
}

static uint16_t config16(int device, uint32_t offset) {
  uint16_t v = 0;
  require(pread(device, &v, 2, config(device) + offset) == 2, "pread config");
  return v;
}

static void set_config16(int device, uint32_t offset, uint16_t v) {
  require(pwrite(device, &v, 2, config(device) + offset) == 2, "pwrite config");
}

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS_INTERRUPT 0x8
#define PCI_CAP_ID_MSI 0x05

static void set_command_bits(int device, uint16_t bits, bool on) {
  uint16_t cmd = config16(device, PCI_COMMAND);
  set_config16(device, PCI_COMMAND, on ? cmd | bits : cmd & ~bits);
}

static void sleep_ms(int ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* Polls a BAR0 register until (value & mask) == 0; false after EXPECT_MS. */
static bool wait_clear(int device, uint32_t reg, uint32_t mask) {
  for (int waited = 0; waited < EXPECT_MS; waited += 2) {
    if (!(rd32(device, reg) & mask)) return true;
    sleep_ms(2);
  }
  return false;
}

/* The eventfd's count after waiting up to ms for it to become readable, 0 if it did not. */
static uint64_t wait_event(int efd, int ms) {
  struct pollfd p = {.fd = efd, .events = POLLIN};
  if (poll(&p, 1, ms) != 1) return 0;
  uint64_t count = 0;
  require(read(efd, &count, 8) == 8, "read eventfd");
  return count;
}

static const char *event(int efd, int ms) {
  uint64_t n = wait_event(efd, ms);
  char *s = scratch();
  if (n)
    snprintf(s, 32, "count=%llu", (unsigned long long)n);
  else
    snprintf(s, 32, "none");
  return s;
}

/* ---- device info, regions, irqs ---- */

static const char *const device_flag_names[] = {"RESET", "PCI", "PLATFORM", "AMBA", "CCW",
                                                "AP", "FSL_MC", "CAPS", "CDX"};
static const char *const region_flag_names[] = {"READ", "WRITE", "MMAP", "CAPS"};
static const char *const irq_flag_names[] = {"EVENTFD", "MASKABLE", "AUTOMASKED", "NORESIZE"};

static void print_cap_chain(const char *what, const uint8_t *buffer, uint32_t size, uint32_t offset) {
  for (int n = 0; offset && n < 16; n++) {
    if (offset + sizeof(struct vfio_info_cap_header) > size) {
      printf("%s cap at=%u beyond argsz\n", what, offset);
      return;
    }
    const struct vfio_info_cap_header *h = (const void *)(buffer + offset);
    printf("%s cap at=%u id=%u version=%u next=%u\n", what, offset, h->id, h->version, h->next);
    if (strcmp(what, "VFIO_DEVICE_GET_REGION_INFO") == 0 && h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
      const struct vfio_region_info_cap_sparse_mmap *s = (const void *)h;
      for (uint32_t i = 0; i < s->nr_areas; i++)
        printf("%s   sparse area offset=0x%llx size=0x%llx\n", what,
               (unsigned long long)s->areas[i].offset, (unsigned long long)s->areas[i].size);
    } else if (strcmp(what, "VFIO_DEVICE_GET_REGION_INFO") == 0 && h->id == VFIO_REGION_INFO_CAP_TYPE) {
      const struct vfio_region_info_cap_type *t = (const void *)h;
      printf("%s   type=0x%x subtype=0x%x\n", what, t->type, t->subtype);
    }
    offset = h->next;
  }
}

void check_device_info(int device) {
  struct vfio_device_info small = {.argsz = offsetof(struct vfio_device_info, num_irqs)};
  long rc = ioctl(device, VFIO_DEVICE_GET_INFO, &small);
  printf("VFIO_DEVICE_GET_INFO argsz=%u => %s\n", (unsigned)offsetof(struct vfio_device_info, num_irqs), result(rc));

  struct vfio_device_info minimal = {.argsz = offsetof(struct vfio_device_info, cap_offset)};
  memset(&minimal.flags, 0xa5, sizeof minimal - offsetof(struct vfio_device_info, flags));
  rc = ioctl(device, VFIO_DEVICE_GET_INFO, &minimal);
  char flags[96];
  flag_names(flags, sizeof flags, minimal.flags, device_flag_names, 9);
  printf("VFIO_DEVICE_GET_INFO argsz=%u => %s argsz=%u flags=%s num_regions=%u num_irqs=%u cap_offset=0x%x(untouched=%d)\n",
         (unsigned)offsetof(struct vfio_device_info, cap_offset), result(rc), minimal.argsz, flags,
         minimal.num_regions, minimal.num_irqs, minimal.cap_offset, minimal.cap_offset == 0xa5a5a5a5);

  union { struct vfio_device_info info; uint8_t bytes[512]; } big = {.info.argsz = sizeof big};
  rc = ioctl(device, VFIO_DEVICE_GET_INFO, &big);
  flag_names(flags, sizeof flags, big.info.flags, device_flag_names, 9);
  printf("VFIO_DEVICE_GET_INFO argsz=%zu => %s argsz=%u flags=%s num_regions=%u num_irqs=%u cap_offset=%u\n",
         sizeof big, result(rc), big.info.argsz, flags, big.info.num_regions, big.info.num_irqs, big.info.cap_offset);
  if (rc == 0 && (big.info.flags & VFIO_DEVICE_FLAGS_CAPS))
    print_cap_chain("VFIO_DEVICE_GET_INFO", big.bytes, sizeof big, big.info.cap_offset);
}

void check_regions(int device) {
  struct vfio_device_info dev = {.argsz = sizeof dev};
  require(ioctl(device, VFIO_DEVICE_GET_INFO, &dev) == 0, "VFIO_DEVICE_GET_INFO");
  static const char *const names[] = {"BAR0", "BAR1", "BAR2", "BAR3", "BAR4", "BAR5", "ROM", "CONFIG", "VGA"};
  for (uint32_t index = 0; index <= dev.num_regions; index++) {
    union { struct vfio_region_info info; uint8_t bytes[512]; } r = {0};
    r.info.argsz = sizeof r.info;
    r.info.index = index;
    long rc = ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &r);
    char flags[64];
    flag_names(flags, sizeof flags, r.info.flags, region_flag_names, 4);
    const char *name = index < 9 ? names[index] : "beyond";
    if (rc < 0) {
      printf("VFIO_DEVICE_GET_REGION_INFO index=%u(%s) => %s\n", index, name, result(rc));
      continue;
    }
    printf("VFIO_DEVICE_GET_REGION_INFO index=%u(%s) => 0 argsz=%u flags=%s size=0x%llx offset=0x%llx cap_offset=%u\n",
           index, name, r.info.argsz, flags, (unsigned long long)r.info.size,
           (unsigned long long)r.info.offset, r.info.cap_offset);
    if (r.info.argsz > sizeof r.info && r.info.argsz <= sizeof r) {
      uint32_t need = r.info.argsz;
      memset(&r, 0, sizeof r);
      r.info.argsz = need;
      r.info.index = index;
      rc = ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &r);
      printf("VFIO_DEVICE_GET_REGION_INFO index=%u argsz=%u => %s cap_offset=%u\n", index, need, result(rc), r.info.cap_offset);
      if (rc == 0) print_cap_chain("VFIO_DEVICE_GET_REGION_INFO", r.bytes, need, r.info.cap_offset);
    }
  }
  struct vfio_region_info tiny = {.argsz = 8, .index = 0};
  printf("VFIO_DEVICE_GET_REGION_INFO argsz=8 => %s\n", result(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &tiny)));
}

void check_irq_info(int device) {
  static const char *const names[] = {"INTX", "MSI", "MSIX", "ERR", "REQ", "beyond"};
  for (uint32_t index = 0; index <= VFIO_PCI_NUM_IRQS; index++) {
    struct vfio_irq_info info = {.argsz = sizeof info, .index = index};
    long rc = ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &info);
    if (rc < 0) {
      printf("VFIO_DEVICE_GET_IRQ_INFO index=%u(%s) => %s\n", index, names[index], result(rc));
      continue;
    }
    char flags[64];
    flag_names(flags, sizeof flags, info.flags, irq_flag_names, 4);
    printf("VFIO_DEVICE_GET_IRQ_INFO index=%u(%s) => 0 argsz=%u flags=%s count=%u\n", index, names[index],
           info.argsz, flags, info.count);
  }
  struct vfio_irq_info tiny = {.argsz = 8};
  printf("VFIO_DEVICE_GET_IRQ_INFO argsz=8 => %s\n", result(ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &tiny)));
}

/* ---- config space ---- */

void check_config(int device) {
  uint64_t base = config(device);
  uint32_t space[1024];
  memset(space, 0xa5, sizeof space);
  ssize_t n = pread(device, space, 256, base);
  printf("CONFIG pread offset=0 count=256 => %s\n", result(n));
  for (int row = 0; n == 256 && row < 16; row++) {
    printf("CONFIG 0x%02x:", row * 16);
    for (int col = 0; col < 4; col++) {
      int at = row * 16 + col * 4;
      uint32_t v = space[at / 4];
      /* BAR addresses are where the guest placed them: print only the flag bits. */
      if (at >= 0x10 && at <= 0x24 && (v & ~0xfu))
        printf(" bar|0x%x", v & 0xf);
      else
        printf(" %08x", v);
    }
    printf("\n");
  }
  const uint8_t *bytes = (const uint8_t *)space;
  for (uint8_t at = bytes[0x34], hops = 0; n == 256 && at && hops < 48; at = bytes[at + 1], hops++)
    printf("CONFIG capability at=0x%02x id=0x%02x next=0x%02x word=0x%04x\n", at, bytes[at], bytes[at + 1],
           bytes[at + 2] | bytes[at + 3] << 8);

  memset(space, 0xa5, sizeof space);
  n = pread(device, space, 4096, base);
  printf("CONFIG pread offset=0 count=4096 => %s\n", result(n));
  printf("CONFIG pread offset=0x100 count=4 => %s\n", result(pread(device, space, 4, base + 0x100)));
  printf("CONFIG pread offset=0xffc count=4 => %s\n", result(pread(device, space, 4, base + 0xffc)));
  printf("CONFIG pread offset=0x3 count=2 => %s\n", result(pread(device, space, 2, base + 3)));

  /* Writes: the IDs are read-only; the command register's decode bits pass through. */
  uint16_t vendor = 0xbeef;
  printf("CONFIG pwrite vendor=0xbeef => %s\n", result(pwrite(device, &vendor, 2, base)));
  printf("CONFIG vendor after write = 0x%04x\n", config16(device, 0));
  uint16_t cmd = config16(device, PCI_COMMAND);
  printf("CONFIG command=0x%04x status=0x%04x\n", cmd, config16(device, PCI_STATUS));
  uint32_t bar = 0xffffffff, sized = 0, restore = 0;
  pread(device, &restore, 4, base + 0x10);
  printf("CONFIG pwrite BAR0=0xffffffff => %s\n", result(pwrite(device, &bar, 4, base + 0x10)));
  pread(device, &sized, 4, base + 0x10);
  printf("CONFIG BAR0 after sizing write = 0x%08x\n", sized);
  pwrite(device, &restore, 4, base + 0x10);
  uint32_t back = 0;
  pread(device, &back, 4, base + 0x10);
  printf("CONFIG BAR0 restored=%d\n", back == restore);

  /* With memory decoding off, BAR access through the fd fails. */
  set_command_bits(device, PCI_COMMAND_MEMORY, false);
  printf("CONFIG command with MEMORY cleared=0x%04x\n", config16(device, PCI_COMMAND));
  uint32_t id = 0;
  printf("BAR0 pread id with memory decoding off => %s\n", result(pread(device, &id, 4, bar0(device))));
  set_config16(device, PCI_COMMAND, cmd);
  printf("CONFIG command restored=0x%04x\n", config16(device, PCI_COMMAND));
}

/* ---- BAR0 ---- */

static void factorial_by(const char *how, int device, volatile uint32_t *mapped, uint32_t n) {
  if (mapped) {
    mapped[EDU_FACTORIAL / 4] = n;
    int waited = 0;
    while ((mapped[EDU_STATUS / 4] & EDU_STATUS_COMPUTING) && waited < EXPECT_MS) sleep_ms(2), waited += 2;
    printf("%s factorial(%u) = %u status=0x%x\n", how, n, mapped[EDU_FACTORIAL / 4], mapped[EDU_STATUS / 4]);
  } else {
    wr32(device, EDU_FACTORIAL, n);
    bool done = wait_clear(device, EDU_STATUS, EDU_STATUS_COMPUTING);
    printf("%s factorial(%u) = %u status=0x%x done=%d\n", how, n, rd32(device, EDU_FACTORIAL),
           rd32(device, EDU_STATUS), done);
  }
}

void check_bar_pread(int device) {
  uint64_t base = bar0(device);
  uint32_t v = 0;
  ssize_t n = pread(device, &v, 4, base + EDU_ID);
  printf("BAR0 pread id => %s value=0x%08x\n", result(n), v);
  v = 0x12345678;
  printf("BAR0 pwrite liveness=0x12345678 => %s\n", result(pwrite(device, &v, 4, base + EDU_LIVENESS)));
  printf("BAR0 pread liveness = 0x%08x\n", rd32(device, EDU_LIVENESS));
  uint64_t wide = 0;
  n = pread(device, &wide, 8, base + EDU_ID);
  printf("BAR0 pread offset=0x0 count=8 => %s value=0x%016llx\n", result(n), (unsigned long long)wide);
  uint16_t half = 0;
  n = pread(device, &half, 2, base + EDU_ID);
  printf("BAR0 pread offset=0x0 count=2 => %s value=0x%04x\n", result(n), half);
  uint8_t byte = 0;
  n = pread(device, &byte, 1, base + EDU_ID);
  printf("BAR0 pread offset=0x0 count=1 => %s value=0x%02x\n", result(n), byte);
  v = 0;
  n = pread(device, &v, 4, base + 2);
  printf("BAR0 pread offset=0x2 count=4 => %s value=0x%08x\n", result(n), v);
  uint32_t block[8] = {0};
  n = pread(device, block, sizeof block, base);
  printf("BAR0 pread offset=0x0 count=32 => %s words=%08x %08x %08x %08x %08x %08x %08x %08x\n", result(n),
         block[0], block[1], block[2], block[3], block[4], block[5], block[6], block[7]);
  wr64(device, EDU_DMA_SRC, 0x0123456789abcdefull);
  wide = 0;
  n = pread(device, &wide, 8, base + EDU_DMA_SRC);
  printf("BAR0 pwrite+pread dma_src count=8 => %s value=0x%016llx\n", result(n), (unsigned long long)wide);
  wr64(device, EDU_DMA_SRC, 0);
  printf("BAR0 pread unused offset=0x1000 = 0x%08x\n", rd32(device, 0x1000));
  v = 0;
  n = pread(device, &v, 4, base + 0x100000 - 4);
  printf("BAR0 pread last dword => %s value=0x%08x\n", result(n), v);
  printf("BAR0 pread at size => %s\n", result(pread(device, &v, 4, base + 0x100000)));
  printf("BAR0 pread straddling end count=8 => %s\n", result(pread(device, &wide, 8, base + 0x100000 - 4)));
  printf("BAR1 pread => %s\n", result(pread(device, &v, 4, region_offset(device, 1))));
  printf("ROM pread => %s\n", result(pread(device, &v, 4, region_offset(device, VFIO_PCI_ROM_REGION_INDEX))));
  printf("pread region index 9 => %s\n", result(pread(device, &v, 4, (uint64_t)9 << 40)));
  factorial_by("BAR0 pread", device, NULL, 10);
  factorial_by("BAR0 pread", device, NULL, 0);
  factorial_by("BAR0 pread", device, NULL, 13);
}

void check_bar_mmap(int device) {
  uint64_t base = bar0(device);
  void *p = mmap(NULL, 0x100000, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)base);
  printf("BAR0 mmap size=0x100000 => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) {
    volatile uint32_t *bar = p;
    printf("BAR0 mmap id = 0x%08x\n", bar[EDU_ID / 4]);
    bar[EDU_LIVENESS / 4] = 0xcafef00d;
    printf("BAR0 mmap liveness after 0xcafef00d = 0x%08x\n", bar[EDU_LIVENESS / 4]);
    printf("BAR0 mmap pread agrees=%d\n", rd32(device, EDU_LIVENESS) == bar[EDU_LIVENESS / 4]);
    factorial_by("BAR0 mmap", device, bar, 12);
    volatile uint64_t *wide = p;
    wide[EDU_DMA_DST / 8] = 0x00000000deadbeefull;
    printf("BAR0 mmap dma_dst 8-byte = 0x%016llx\n", (unsigned long long)wide[EDU_DMA_DST / 8]);
    wide[EDU_DMA_DST / 8] = 0;
    munmap(p, 0x100000);
  }
  p = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, device, (off_t)(base + 0x1000));
  printf("BAR0 mmap offset=0x1000 size=0x1000 => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 0x1000);
  p = mmap(NULL, 0x200000, PROT_READ, MAP_SHARED, device, (off_t)base);
  printf("BAR0 mmap size=0x200000 => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 0x200000);
  p = mmap(NULL, 0x1000, PROT_READ, MAP_PRIVATE, device, (off_t)base);
  printf("BAR0 mmap MAP_PRIVATE => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 0x1000);
  p = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, device, (off_t)config(device));
  printf("CONFIG mmap => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 0x1000);
  p = mmap(NULL, 0x1000, PROT_READ, MAP_SHARED, device, (off_t)region_offset(device, 1));
  printf("BAR1 mmap => %s\n", p == MAP_FAILED ? err_name(errno) : "ok");
  if (p != MAP_FAILED) munmap(p, 0x1000);
}

/* ---- DMA through the IOMMU ---- */

enum { IOVA_SOURCE = 0x100000, IOVA_DESTINATION = 0x200000, IOVA_UNMAPPED = 0x400000 };
/*
 * Half of edu's buffer: QEMU 7.2's edu rejects a transfer that reaches the buffer's last byte
 * (an off-by-one in its range check) with hw_error(), which kills the whole VM.
 */
#define DMA_LENGTH 0x800

static bool dma(int device, uint64_t src, uint64_t dst, uint32_t count, uint32_t cmd) {
  wr64(device, EDU_DMA_SRC, src);
  wr64(device, EDU_DMA_DST, dst);
  wr64(device, EDU_DMA_COUNT, count);
  wr64(device, EDU_DMA_CMD, cmd | EDU_DMA_START);
  return wait_clear(device, EDU_DMA_CMD, EDU_DMA_START);
}

static uint8_t pattern(size_t i) { return (uint8_t)(i * 7 + 3); }
#define FILLER 0x5a

/* What the first DMA_LENGTH bytes of a buffer hold, in words. */
static const char *contents(const uint8_t *b, const uint8_t *before) {
  bool unchanged = before != NULL, is_pattern = true, zeros = true, ones = true, filler = true;
  for (size_t i = 0; i < DMA_LENGTH; i++) {
    if (before) unchanged &= b[i] == before[i];
    is_pattern &= b[i] == pattern(i);
    zeros &= b[i] == 0;
    ones &= b[i] == 0xff;
    filler &= b[i] == FILLER;
  }
  return unchanged ? "unchanged" : is_pattern ? "pattern" : zeros ? "zeros" : ones ? "ones" : filler ? "filler" : "other";
}

void check_dma(int device, const struct dma_mapper *m, bool with_faults) {
  size_t size = 4096, length = DMA_LENGTH;
  uint8_t *src = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  uint8_t *dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  require(src != MAP_FAILED && dst != MAP_FAILED, "mmap DMA buffers");
  for (size_t i = 0; i < size; i++) src[i] = pattern(i);

  printf("%s iova=0x%x length=0x%zx device=read-only => %s\n", m->name, IOVA_SOURCE, size,
         result(m->map(m->ctx, src, size, IOVA_SOURCE, false)));
  printf("%s iova=0x%x length=0x%zx device=read-write => %s\n", m->name, IOVA_DESTINATION, size,
         result(m->map(m->ctx, dst, size, IOVA_DESTINATION, true)));

  set_command_bits(device, PCI_COMMAND_MASTER, false);
  bool done = dma(device, IOVA_SOURCE, EDU_DMA_BUFFER, length, 0) &&
              dma(device, EDU_DMA_BUFFER, IOVA_DESTINATION, length, EDU_DMA_TO_RAM);
  printf("DMA ram->edu->ram bus_master=0 done=%d destination=%s\n", done, contents(dst, NULL));

  set_command_bits(device, PCI_COMMAND_MASTER, true);
  printf("CONFIG command with MASTER set=0x%04x\n", config16(device, PCI_COMMAND));
  done = dma(device, IOVA_SOURCE, EDU_DMA_BUFFER, length, 0);
  printf("DMA ram->edu count=0x%zx done=%d cmd=0x%x\n", length, done, rd32(device, EDU_DMA_CMD));
  done = dma(device, EDU_DMA_BUFFER, IOVA_DESTINATION, length, EDU_DMA_TO_RAM);
  printf("DMA edu->ram count=0x%zx done=%d destination=%s\n", length, done, contents(dst, NULL));

  memset(dst, 0, size);
  done = dma(device, EDU_DMA_BUFFER + 0x100, IOVA_DESTINATION + 0x10, 0x20, EDU_DMA_TO_RAM);
  bool placed = dst[0x0f] == 0 && dst[0x30] == 0;
  for (int i = 0; i < 0x20; i++) placed &= dst[0x10 + i] == pattern(0x100 + i);
  printf("DMA edu+0x100->iova+0x10 count=0x20 done=%d exactly_placed=%d\n", done, placed);

  if (with_faults) {
    /* edu's buffer holds FILLER; the source mapping is readable but not writable by the device. */
    uint8_t before[EDU_DMA_BUFFER_SIZE];
    memset(dst, FILLER, size);
    done = dma(device, IOVA_DESTINATION, EDU_DMA_BUFFER, length, 0);
    memcpy(before, src, size);
    done &= dma(device, EDU_DMA_BUFFER, IOVA_SOURCE, length, EDU_DMA_TO_RAM);
    printf("DMA edu->ram of filler into the device-read-only iova done=%d source=%s\n", done, contents(src, before));

    memset(dst, 0x11, size);
    memcpy(before, dst, size);
    done = dma(device, IOVA_UNMAPPED, EDU_DMA_BUFFER, length, 0) &&
           dma(device, EDU_DMA_BUFFER, IOVA_DESTINATION, length, EDU_DMA_TO_RAM);
    printf("DMA ram->edu from an unmapped iova, then edu->ram done=%d destination=%s\n", done, contents(dst, before));
  }

  static const struct { const char *what; uint64_t iova; } unmaps[] = {
      {"source", IOVA_SOURCE}, {"destination", IOVA_DESTINATION}, {"destination again", IOVA_DESTINATION}};
  for (size_t i = 0; i < sizeof unmaps / sizeof unmaps[0]; i++) {
    uint64_t unmapped = 0;
    long rc = m->unmap(m->ctx, unmaps[i].iova, size, &unmapped);
    printf("%s unmap %s iova=0x%llx => %s unmapped=0x%llx\n", m->name, unmaps[i].what,
           (unsigned long long)unmaps[i].iova, result(rc), (unsigned long long)unmapped);
  }
  munmap(src, size);
  munmap(dst, size);
}

/* ---- interrupts ---- */

static long set_irqs(int device, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
                     const void *data, size_t data_size) {
  union { struct vfio_irq_set set; uint8_t bytes[sizeof(struct vfio_irq_set) + 64]; } u = {0};
  u.set.argsz = sizeof u.set + data_size;
  u.set.flags = flags;
  u.set.index = index;
  u.set.start = start;
  u.set.count = count;
  if (data_size) memcpy(u.set.data, data, data_size);
  return ioctl(device, VFIO_DEVICE_SET_IRQS, &u);
}

static long set_eventfd(int device, uint32_t index, int32_t fd) {
  return set_irqs(device, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 1, &fd, 4);
}

static long disable_irq(int device, uint32_t index) {
  return set_irqs(device, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0, NULL, 0);
}

static uint8_t msi_cap(int device) {
  for (uint8_t at = config16(device, 0x34) & 0xff, hops = 0; at && hops < 48; hops++) {
    uint16_t head = config16(device, at);
    if ((head & 0xff) == PCI_CAP_ID_MSI) return at;
    at = head >> 8;
  }
  return 0;
}

void check_msi(int device) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  require(efd >= 0, "eventfd");
  uint8_t cap = msi_cap(device);
  printf("MSI capability found=%d control=0x%04x\n", cap != 0, cap ? config16(device, cap + 2) : 0);
  printf("SET_IRQS MSI trigger eventfd => %s\n", result(set_eventfd(device, VFIO_PCI_MSI_IRQ_INDEX, efd)));
  if (cap) printf("MSI control after enable=0x%04x\n", config16(device, cap + 2));
  printf("CONFIG command=0x%04x\n", config16(device, PCI_COMMAND));

  long rc = set_irqs(device, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS MSI trigger DATA_NONE (loopback) => %s eventfd %s\n", result(rc), event(efd, 0));
  uint8_t no = 0, yes = 1;
  rc = set_irqs(device, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &no, 1);
  printf("SET_IRQS MSI trigger DATA_BOOL=0 => %s eventfd %s\n", result(rc), event(efd, 0));
  rc = set_irqs(device, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &yes, 1);
  printf("SET_IRQS MSI trigger DATA_BOOL=1 => %s eventfd %s\n", result(rc), event(efd, 0));

  wr32(device, EDU_IRQ_RAISE, 0x1);
  printf("MSI raise 0x1 eventfd %s irq_status=0x%x\n", event(efd, EXPECT_MS), rd32(device, EDU_IRQ_STATUS));
  wr32(device, EDU_IRQ_RAISE, 0x4);
  printf("MSI raise 0x4 while 0x1 pending eventfd %s irq_status=0x%x\n", event(efd, EXPECT_MS), rd32(device, EDU_IRQ_STATUS));
  wr32(device, EDU_IRQ_ACK, 0x5);
  printf("MSI ack 0x5 irq_status=0x%x eventfd %s\n", rd32(device, EDU_IRQ_STATUS), event(efd, 0));

  wr32(device, EDU_STATUS, EDU_STATUS_IRQ_FACTORIAL);
  wr32(device, EDU_FACTORIAL, 5);
  printf("MSI factorial(5) with irq eventfd %s\n", event(efd, EXPECT_MS));
  printf("MSI factorial result=%u irq_status=0x%x status=0x%x\n", rd32(device, EDU_FACTORIAL),
         rd32(device, EDU_IRQ_STATUS), rd32(device, EDU_STATUS));
  wr32(device, EDU_IRQ_ACK, EDU_IRQ_FACTORIAL_VALUE);
  wr32(device, EDU_STATUS, 0);

  int32_t other = eventfd(0, EFD_CLOEXEC);
  printf("SET_IRQS INTX trigger while MSI enabled => %s\n", result(set_eventfd(device, VFIO_PCI_INTX_IRQ_INDEX, other)));
  close(other);

  set_command_bits(device, PCI_COMMAND_MASTER, false);
  wr32(device, EDU_IRQ_RAISE, 0x8);
  printf("MSI raise with bus_master=0 eventfd %s irq_status=0x%x\n", event(efd, QUIET_MS), rd32(device, EDU_IRQ_STATUS));
  set_command_bits(device, PCI_COMMAND_MASTER, true);
  printf("MSI bus_master=1 again eventfd %s\n", event(efd, QUIET_MS));
  wr32(device, EDU_IRQ_ACK, 0x8);

  printf("SET_IRQS MSI trigger eventfd=-1 => %s\n", result(set_eventfd(device, VFIO_PCI_MSI_IRQ_INDEX, -1)));
  if (cap) printf("MSI control after eventfd=-1 =0x%04x\n", config16(device, cap + 2));
  wr32(device, EDU_IRQ_RAISE, 0x10);
  printf("MSI raise with no eventfd attached eventfd %s\n", event(efd, QUIET_MS));
  wr32(device, EDU_IRQ_ACK, 0x10);
  printf("SET_IRQS MSI trigger eventfd again => %s\n", result(set_eventfd(device, VFIO_PCI_MSI_IRQ_INDEX, efd)));
  wr32(device, EDU_IRQ_RAISE, 0x20);
  printf("MSI raise 0x20 eventfd %s\n", event(efd, EXPECT_MS));
  wr32(device, EDU_IRQ_ACK, 0x20);

  printf("SET_IRQS MSI disable (count=0 DATA_NONE) => %s\n", result(disable_irq(device, VFIO_PCI_MSI_IRQ_INDEX)));
  if (cap) printf("MSI control after disable=0x%04x\n", config16(device, cap + 2));
  rc = set_irqs(device, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS MSI trigger DATA_NONE after disable => %s\n", result(rc));
  printf("SET_IRQS MSI disable again => %s\n", result(disable_irq(device, VFIO_PCI_MSI_IRQ_INDEX)));
  close(efd);
}

void check_intx(int device) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  require(efd >= 0, "eventfd");
  printf("INTX before: command=0x%04x status=0x%04x\n", config16(device, PCI_COMMAND), config16(device, PCI_STATUS));
  long rc = set_eventfd(device, VFIO_PCI_INTX_IRQ_INDEX, efd);
  printf("SET_IRQS INTX trigger eventfd => %s\n", result(rc));
  if (rc < 0) {
    close(efd);
    return;
  }
  printf("INTX enabled: command=0x%04x\n", config16(device, PCI_COMMAND));
  int32_t other = eventfd(0, EFD_CLOEXEC);
  printf("SET_IRQS MSI trigger while INTX enabled => %s\n", result(set_eventfd(device, VFIO_PCI_MSI_IRQ_INDEX, other)));
  close(other);

  uint32_t unmask = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK;
  wr32(device, EDU_IRQ_RAISE, 0x2);
  printf("INTX raise 0x2 eventfd %s irq_status=0x%x\n", event(efd, EXPECT_MS), rd32(device, EDU_IRQ_STATUS));
  printf("INTX masked: command=0x%04x status=0x%04x\n", config16(device, PCI_COMMAND), config16(device, PCI_STATUS));
  printf("INTX still asserted, no unmask: eventfd %s\n", event(efd, QUIET_MS));
  rc = set_irqs(device, unmask, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS INTX unmask while still asserted => %s eventfd %s\n", result(rc), event(efd, EXPECT_MS));
  wr32(device, EDU_IRQ_ACK, 0x2);
  printf("INTX ack: irq_status=0x%x status=0x%04x\n", rd32(device, EDU_IRQ_STATUS), config16(device, PCI_STATUS));
  rc = set_irqs(device, unmask, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS INTX unmask after ack => %s eventfd %s command=0x%04x\n", result(rc), event(efd, QUIET_MS),
         config16(device, PCI_COMMAND));

  uint8_t yes = 1;
  rc = set_irqs(device, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &yes, 1);
  printf("SET_IRQS INTX mask DATA_BOOL=1 => %s command=0x%04x\n", result(rc), config16(device, PCI_COMMAND));
  wr32(device, EDU_IRQ_RAISE, 0x40);
  printf("INTX raise 0x40 while masked eventfd %s\n", event(efd, QUIET_MS));
  rc = set_irqs(device, unmask, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS INTX unmask => %s eventfd %s\n", result(rc), event(efd, EXPECT_MS));
  wr32(device, EDU_IRQ_ACK, 0x40);
  rc = set_irqs(device, VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &yes, 1);
  printf("SET_IRQS INTX unmask DATA_BOOL=1 after ack => %s eventfd %s\n", result(rc), event(efd, QUIET_MS));

  rc = set_irqs(device, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS INTX trigger DATA_NONE (loopback) => %s eventfd %s\n", result(rc), event(efd, 0));
  rc = set_irqs(device, unmask, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS INTX unmask after loopback => %s eventfd %s\n", result(rc), event(efd, QUIET_MS));

  printf("SET_IRQS INTX disable (count=0 DATA_NONE) => %s\n", result(disable_irq(device, VFIO_PCI_INTX_IRQ_INDEX)));
  printf("INTX disabled: command=0x%04x\n", config16(device, PCI_COMMAND));
  rc = set_irqs(device, unmask, VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0);
  printf("SET_IRQS INTX unmask after disable => %s\n", result(rc));
  close(efd);
}

void check_set_irqs_errors(int device) {
  int efd = eventfd(0, EFD_CLOEXEC);
  int32_t fds[2] = {efd, efd};
  uint32_t trigger = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  uint8_t yes = 1;
  struct { const char *what; uint32_t flags, index, start, count; const void *data; size_t size; } cases[] = {
      {"index=5", trigger, VFIO_PCI_NUM_IRQS, 0, 1, fds, 4},
      {"MSI start=1 count=1", trigger, VFIO_PCI_MSI_IRQ_INDEX, 1, 1, fds, 4},
      {"MSI count=2", trigger, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, fds, 8},
      {"MSIX count=1 (has 0)", trigger, VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, fds, 4},
      {"ERR count=1", trigger, VFIO_PCI_ERR_IRQ_INDEX, 0, 1, fds, 4},
      {"MSI DATA_NONE|DATA_BOOL", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_TRIGGER,
       VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &yes, 1},
      {"MSI unknown flag 0x40", trigger | 0x40, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds, 4},
      {"MSI no action", VFIO_IRQ_SET_DATA_EVENTFD, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds, 4},
      {"MSI MASK|UNMASK", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK,
       VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0},
      {"MSI eventfd without data", trigger, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0},
      {"MSI mask DATA_BOOL=1", VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &yes, 1},
      {"MSI unmask DATA_NONE", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0},
      {"MSI trigger DATA_NONE while disabled", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
       VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0},
      {"MSI disable while disabled", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_MSI_IRQ_INDEX,
       0, 0, NULL, 0},
      {"INTX unmask while disabled", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, VFIO_PCI_INTX_IRQ_INDEX,
       0, 1, NULL, 0},
      {"INTX mask DATA_BOOL=1 while disabled", VFIO_IRQ_SET_DATA_BOOL | VFIO_IRQ_SET_ACTION_MASK,
       VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &yes, 1},
      {"INTX disable while disabled", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_PCI_INTX_IRQ_INDEX,
       0, 0, NULL, 0},
      {"REQ trigger DATA_NONE while unset", VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
       VFIO_PCI_REQ_IRQ_INDEX, 0, 1, NULL, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    printf("SET_IRQS %s => %s\n", cases[i].what,
           result(set_irqs(device, cases[i].flags, cases[i].index, cases[i].start, cases[i].count, cases[i].data,
                           cases[i].size)));

  struct vfio_irq_set tiny = {.argsz = 8, .flags = trigger, .index = VFIO_PCI_MSI_IRQ_INDEX, .count = 1};
  printf("SET_IRQS argsz=8 => %s\n", result(ioctl(device, VFIO_DEVICE_SET_IRQS, &tiny)));
  printf("SET_IRQS INTX eventfd=999 (not open) => %s\n", result(set_eventfd(device, VFIO_PCI_INTX_IRQ_INDEX, 999)));
  printf("SET_IRQS INTX eventfd=<the device fd> => %s\n", result(set_eventfd(device, VFIO_PCI_INTX_IRQ_INDEX, device)));
  printf("SET_IRQS MSI eventfd=999 (not open) => %s\n", result(set_eventfd(device, VFIO_PCI_MSI_IRQ_INDEX, 999)));
  printf("SET_IRQS REQ eventfd => %s\n", result(set_eventfd(device, VFIO_PCI_REQ_IRQ_INDEX, efd)));
  printf("SET_IRQS REQ disable => %s\n", result(disable_irq(device, VFIO_PCI_REQ_IRQ_INDEX)));
  close(efd);
}

/* ---- reset and features ---- */

void check_reset_and_features(int device) {
  wr32(device, EDU_LIVENESS, 0x0f0f0f0f);
  printf("VFIO_DEVICE_RESET => %s\n", result(ioctl(device, VFIO_DEVICE_RESET)));
  printf("after reset: id=0x%08x liveness=0x%08x command=0x%04x\n", rd32(device, EDU_ID),
         rd32(device, EDU_LIVENESS), config16(device, PCI_COMMAND));

  union { struct vfio_pci_hot_reset_info info; uint8_t bytes[256]; } hot = {.info.argsz = sizeof hot};
  long rc = ioctl(device, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hot);
  printf("VFIO_DEVICE_GET_PCI_HOT_RESET_INFO => %s", result(rc));
  if (rc == 0) printf(" flags=0x%x count=%u", hot.info.flags, hot.info.count);
  printf("\n");

  struct { const char *what; uint32_t flags; uint32_t argsz; } cases[] = {
      {"PROBE|GET MIGRATION", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, 8},
      {"PROBE|SET MIG_DEVICE_STATE", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, 8},
      {"PROBE|SET PCI_VF_TOKEN", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN, 8},
      {"PROBE|SET LOW_POWER_ENTRY", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, 8},
      {"PROBE|SET LOW_POWER_EXIT", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, 8},
      {"PROBE|GET LOW_POWER_ENTRY", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, 8},
      {"PROBE|SET DMA_LOGGING_START", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 8},
      {"PROBE|GET MIG_DATA_SIZE", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, 8},
      {"PROBE|SET BUS_MASTER(10)", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | 10, 8},
      {"PROBE feature 0xffff", VFIO_DEVICE_FEATURE_PROBE | 0xffff, 8},
      {"GET|SET without PROBE", VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, 8},
      {"unknown flag bit 19", VFIO_DEVICE_FEATURE_PROBE | (1u << 19) | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, 8},
      {"argsz=4", VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, 4},
      {"GET MIGRATION", VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, 24},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    union { struct vfio_device_feature f; uint8_t bytes[64]; } u = {.f.argsz = cases[i].argsz, .f.flags = cases[i].flags};
    printf("VFIO_DEVICE_FEATURE %s => %s\n", cases[i].what, result(ioctl(device, VFIO_DEVICE_FEATURE, &u)));
  }
  printf("VFIO unknown ioctl VFIO_BASE+40 => %s\n", result(ioctl(device, _IO(VFIO_TYPE, VFIO_BASE + 40))));
}
