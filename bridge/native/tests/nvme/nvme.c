/* The driver of nvme.h. */
#define _GNU_SOURCE
#include "nvme.h"

#include <dirent.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>

#include "../t.h"

#define PAGE 4096u
#define IOVA_BASE 0x10000000ull  /* below the x86 MSI window, inside every IOVA range */
#define COMMAND_TIMEOUT_MS 20000 /* generous: the machine running the tests may be loaded */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY_AND_MASTER 0x6

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool sysfs_read(const char *bdf, const char *attr, char *out, size_t size) {
  char path[512];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/%s", bdf, attr);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(out, (int)size, f) != NULL;
  fclose(f);
  out[strcspn(out, "\n")] = 0;
  return ok;
}

/* The first function with QEMU's NVMe ids, or any class 01:08:02 (NVM Express), in sysfs. */
static void find_nvme(char *bdf, size_t size) {
  DIR *pci = opendir("/sys/bus/pci/devices");
  if (!pci) FAIL("no /sys/bus/pci/devices (run under ./run.sh exec --device nvme)");
  for (struct dirent *e; (e = readdir(pci));) {
    char class[32];
    if (e->d_name[0] == '.' || strlen(e->d_name) >= size) continue;
    if (!sysfs_read(e->d_name, "class", class, sizeof class) || strtoul(class, NULL, 16) != 0x010802) continue;
    memcpy(bdf, e->d_name, strlen(e->d_name) + 1);
    closedir(pci);
    return;
  }
  closedir(pci);
  FAIL("no NVMe function (class 0x010802) in /sys/bus/pci/devices (run under ./run.sh exec --device nvme)");
}

/* The entry of a sysfs directory of the device that is not . or .. (vfio-dev/vfioN). */
static void sysfs_entry(const char *bdf, const char *dir, char *out, size_t size) {
  char path[512];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/%s", bdf, dir);
  DIR *d = opendir(path);
  if (!d) FAIL("%s: %s (is the device bound to vfio-pci?)", path, strerror(errno));
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] != '.' && strlen(e->d_name) < size) {
      memcpy(out, e->d_name, strlen(e->d_name) + 1);
      closedir(d);
      return;
    }
  closedir(d);
  FAIL("%s is empty", path);
}

static void open_cdev(struct nvme_ctrl *c) {
  char name[256], cdev[512];
  sysfs_entry(c->bdf, "vfio-dev", name, sizeof name);
  snprintf(cdev, sizeof cdev, "/dev/vfio/devices/%s", name);
  c->device = open(cdev, O_RDWR | O_CLOEXEC);
  if (c->device < 0) FAIL("open(%s): %s", cdev, strerror(errno));
  c->iommufd = t_open();
  struct bind_iommufd bind = {.argsz = sizeof bind, .iommufd = c->iommufd};
  CHECK_OK(ioctl(c->device, DEVICE_BIND_IOMMUFD, &bind));
  c->ioas = t_ioas_alloc(c->iommufd);
  struct attach_pt attach = {.argsz = sizeof attach, .pt_id = c->ioas};
  CHECK_OK(ioctl(c->device, DEVICE_ATTACH_IOMMUFD_PT, &attach));
}

static void open_group(struct nvme_ctrl *c) {
  char link[256], path[512];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/iommu_group", c->bdf);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n <= 0) FAIL("readlink(%s): %s", path, strerror(errno));
  link[n] = 0;
  c->container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  if (c->container < 0) FAIL("open(/dev/vfio/vfio): %s", strerror(errno));
  CHECK(ioctl(c->container, VFIO_GET_API_VERSION) == VFIO_API_VERSION);
  CHECK(ioctl(c->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);
  snprintf(path, sizeof path, "/dev/vfio/%s", basename(link));
  c->group = open(path, O_RDWR | O_CLOEXEC);
  if (c->group < 0) FAIL("open(%s): %s", path, strerror(errno));
  struct vfio_group_status status = {.argsz = sizeof status};
  CHECK_OK(ioctl(c->group, VFIO_GROUP_GET_STATUS, &status));
  if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) FAIL("group %s is not viable", path);
  CHECK_OK(ioctl(c->group, VFIO_GROUP_SET_CONTAINER, &c->container));
  CHECK_OK(ioctl(c->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
  c->device = ioctl(c->group, VFIO_GROUP_GET_DEVICE_FD, c->bdf);
  if (c->device < 0) FAIL("VFIO_GROUP_GET_DEVICE_FD %s: %s", c->bdf, strerror(errno));
}

static void map_arena(struct nvme_ctrl *c) {
  c->arena = mmap(NULL, c->arena_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(c->arena != MAP_FAILED);
  c->arena_iova = IOVA_BASE;
  if (c->path == NVME_CDEV) {
    uint64_t iova = IOVA_BASE;
    CHECK_OK(t_map(c->iommufd, c->ioas, c->arena, c->arena_size, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  } else {
    struct vfio_iommu_type1_dma_map map = {.argsz = sizeof map,
                                           .flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
                                           .vaddr = (uintptr_t)c->arena,
                                           .iova = IOVA_BASE,
                                           .size = c->arena_size};
    CHECK_OK(ioctl(c->container, VFIO_IOMMU_MAP_DMA, &map));
  }
}

static uint64_t region_offset(int device, uint32_t index) {
  struct vfio_region_info info = {.argsz = sizeof info, .index = index};
  CHECK_OK(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info));
  return info.offset;
}

void nvme_open(struct nvme_ctrl *c, enum nvme_path path, size_t dma_bytes) {
  t_name = "nvme";
  *c = (struct nvme_ctrl){.path = path, .device = -1, .iommufd = -1, .container = -1, .group = -1};
  c->arena_size = (dma_bytes + PAGE - 1) & ~(size_t)(PAGE - 1);
  find_nvme(c->bdf, sizeof c->bdf);
  if (path == NVME_CDEV)
    open_cdev(c);
  else
    open_group(c);
  map_arena(c);

  c->bar0 = region_offset(c->device, VFIO_PCI_BAR0_REGION_INDEX);
  c->config = region_offset(c->device, VFIO_PCI_CONFIG_REGION_INDEX);
  uint16_t command;
  CHECK(pread(c->device, &command, 2, (off_t)c->config + PCI_COMMAND) == 2);
  command |= PCI_COMMAND_MEMORY_AND_MASTER;
  CHECK(pwrite(c->device, &command, 2, (off_t)c->config + PCI_COMMAND) == 2);
  /* Registers and doorbells only: the MSI-X table behind them belongs to vfio-pci. */
  void *regs = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, c->device, (off_t)c->bar0);
  if (regs == MAP_FAILED) FAIL("mmap of BAR0: %s", strerror(errno));
  c->regs = regs;
  c->cap = nvme_read32(c, NVME_REG_CAP) | (uint64_t)nvme_read32(c, NVME_REG_CAP + 4) << 32;
  c->ready_timeout_ms = (uint32_t)((c->cap >> 24) & 0xff) * 500;
  for (int i = 0; i < NVME_MAX_VECTORS; i++) c->irq[i] = -1;
}

void nvme_close(struct nvme_ctrl *c) {
  for (int i = 0; i < c->vectors; i++) close(c->irq[i]);
  munmap((void *)c->regs, 2 * PAGE);
  close(c->device);
  if (c->path == NVME_CDEV) {
    close(c->iommufd);
  } else {
    close(c->group);
    close(c->container);
  }
  munmap(c->arena, c->arena_size);
}

void *nvme_alloc(struct nvme_ctrl *c, size_t size, uint64_t *iova) {
  size = (size + PAGE - 1) & ~(size_t)(PAGE - 1);
  if (size > c->arena_size - c->arena_used)
    FAIL("DMA arena exhausted: %zu bytes wanted, %zu left", size, c->arena_size - c->arena_used);
  uint8_t *p = c->arena + c->arena_used;
  c->arena_used += size;
  memset(p, 0, size);
  if (iova) *iova = nvme_iova(c, p);
  return p;
}

uint64_t nvme_iova(const struct nvme_ctrl *c, const void *va) {
  return c->arena_iova + (uint64_t)((const uint8_t *)va - c->arena);
}

uint32_t nvme_read32(const struct nvme_ctrl *c, uint32_t reg) { return c->regs[reg / 4]; }

void nvme_write32(struct nvme_ctrl *c, uint32_t reg, uint32_t value) { c->regs[reg / 4] = value; }

uint32_t nvme_pread32(const struct nvme_ctrl *c, uint32_t reg) {
  uint32_t v;
  CHECK(pread(c->device, &v, 4, (off_t)(c->bar0 + reg)) == 4);
  return v;
}

void nvme_pwrite32(const struct nvme_ctrl *c, uint32_t reg, uint32_t value) {
  CHECK(pwrite(c->device, &value, 4, (off_t)(c->bar0 + reg)) == 4);
}

static void write64(struct nvme_ctrl *c, uint32_t reg, uint64_t value) {
  nvme_write32(c, reg, (uint32_t)value);
  nvme_write32(c, reg + 4, (uint32_t)(value >> 32));
}

/* Waits up to CAP.TO for CSTS & mask == want; false on timeout or a fatal status. */
static bool wait_csts(struct nvme_ctrl *c, uint32_t mask, uint32_t want) {
  uint64_t deadline = now_ms() + c->ready_timeout_ms;
  for (;;) {
    uint32_t csts = nvme_read32(c, NVME_REG_CSTS);
    if (csts & NVME_CSTS_CFS) return false;
    if ((csts & mask) == want) return true;
    if (now_ms() > deadline) return false;
    usleep(1000);
  }
}

bool nvme_disable(struct nvme_ctrl *c) {
  nvme_write32(c, NVME_REG_CC, nvme_read32(c, NVME_REG_CC) & ~NVME_CC_EN);
  uint64_t deadline = now_ms() + c->ready_timeout_ms;
  while (nvme_read32(c, NVME_REG_CSTS) & NVME_CSTS_RDY) { /* CFS does not matter here */
    if (now_ms() > deadline) return false;
    usleep(1000);
  }
  return true;
}

/* The doorbell registers of a queue pair: SQ y tail at 0x1000 + 2y * stride, CQ y head after it. */
static void place_doorbells(struct nvme_ctrl *c, struct nvme_queue *q) {
  uint32_t stride = 4u << ((c->cap >> 32) & 0xf);
  q->sq_doorbell = &c->regs[(NVME_DOORBELLS + 2 * q->id * stride) / 4];
  q->cq_doorbell = &c->regs[(NVME_DOORBELLS + (2 * q->id + 1) * stride) / 4];
}

static void init_queue(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t id, uint16_t depth, int vector) {
  *q = (struct nvme_queue){.id = id, .depth = depth, .phase = true, .vector = vector};
  q->sq = nvme_alloc(c, depth * sizeof(struct nvme_cmd), &q->sq_iova);
  q->cq = nvme_alloc(c, depth * sizeof(struct nvme_cqe), &q->cq_iova);
  place_doorbells(c, q);
}

bool nvme_enable(struct nvme_ctrl *c, uint16_t depth) {
  if (!nvme_disable(c)) return false;
  if (c->admin.sq == NULL || c->admin.depth != depth) {
    init_queue(c, &c->admin, 0, depth, 0);
  } else { /* the same memory again, without the entries of before */
    memset(c->admin.sq, 0, depth * sizeof(struct nvme_cmd));
    memset((void *)c->admin.cq, 0, depth * sizeof(struct nvme_cqe));
    c->admin.sq_tail = c->admin.cq_head = c->admin.sq_head = 0;
    c->admin.phase = true;
  }
  nvme_write32(c, NVME_REG_AQA, (uint32_t)(depth - 1) << 16 | (uint32_t)(depth - 1));
  write64(c, NVME_REG_ASQ, c->admin.sq_iova);
  write64(c, NVME_REG_ACQ, c->admin.cq_iova);
  nvme_write32(c, NVME_REG_CC, NVME_CC_IOCQES_16 | NVME_CC_IOSQES_64 | NVME_CC_EN); /* MPS 4 KiB, NVM */
  return wait_csts(c, NVME_CSTS_RDY, NVME_CSTS_RDY);
}

bool nvme_shutdown(struct nvme_ctrl *c) {
  nvme_write32(c, NVME_REG_CC, nvme_read32(c, NVME_REG_CC) | NVME_CC_SHN_NORMAL);
  return wait_csts(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE);
}

void nvme_submit(struct nvme_queue *q, const struct nvme_cmd *cmd) {
  q->sq[q->sq_tail] = *cmd;
  q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->depth);
}

void nvme_ring(struct nvme_queue *q) {
  __atomic_thread_fence(__ATOMIC_RELEASE); /* the entries before the tail that publishes them */
  *q->sq_doorbell = q->sq_tail;
}

bool nvme_reap(struct nvme_queue *q, struct nvme_cqe *out) {
  volatile struct nvme_cqe *e = &q->cq[q->cq_head];
  if ((e->status & 1) != q->phase) return false;
  __atomic_thread_fence(__ATOMIC_ACQUIRE); /* the phase bit before the rest of the entry */
  out->dw0 = e->dw0;
  out->dw1 = e->dw1;
  out->sq_head = e->sq_head;
  out->sq_id = e->sq_id;
  out->cid = e->cid;
  out->status = e->status;
  q->sq_head = out->sq_head;
  if (++q->cq_head == q->depth) {
    q->cq_head = 0;
    q->phase = !q->phase;
  }
  return true;
}

void nvme_release(struct nvme_queue *q) { *q->cq_doorbell = q->cq_head; }

int nvme_admin(struct nvme_ctrl *c, struct nvme_cmd *cmd, uint32_t *dw0) {
  cmd->cid = c->next_cid++;
  nvme_submit(&c->admin, cmd);
  nvme_ring(&c->admin);
  struct nvme_cqe e;
  uint64_t deadline = now_ms() + COMMAND_TIMEOUT_MS;
  while (!nvme_reap(&c->admin, &e)) {
    if (now_ms() > deadline) FAIL("admin opcode 0x%02x: no completion in %d ms", cmd->opcode, COMMAND_TIMEOUT_MS);
    sched_yield();
  }
  nvme_release(&c->admin);
  if (e.cid != cmd->cid) FAIL("admin completion for cid %u, expected %u", e.cid, cmd->cid);
  if (dw0) *dw0 = e.dw0;
  return nvme_status(&e);
}

void nvme_enable_msix(struct nvme_ctrl *c, int n) {
  CHECK(n > 0 && n <= NVME_MAX_VECTORS);
  union {
    struct vfio_irq_set set;
    uint8_t bytes[sizeof(struct vfio_irq_set) + NVME_MAX_VECTORS * sizeof(int32_t)];
  } u = {.set = {.argsz = (uint32_t)(sizeof u.set + n * sizeof(int32_t)),
                 .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
                 .index = VFIO_PCI_MSIX_IRQ_INDEX,
                 .count = (uint32_t)n}};
  int32_t fds[NVME_MAX_VECTORS];
  for (int i = 0; i < n; i++) {
    c->irq[i] = fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    CHECK(fds[i] >= 0);
  }
  memcpy(u.set.data, fds, n * sizeof(int32_t));
  CHECK_OK(ioctl(c->device, VFIO_DEVICE_SET_IRQS, &u));
  c->vectors = n;
}

uint64_t nvme_wait_irq(const struct nvme_ctrl *c, int vector, int timeout_ms) {
  struct pollfd p = {.fd = c->irq[vector], .events = POLLIN};
  if (poll(&p, 1, timeout_ms) != 1) return 0;
  uint64_t count = 0;
  return read(c->irq[vector], &count, sizeof count) == sizeof count ? count : 0;
}

int nvme_create_queue(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t qid, uint16_t depth, int vector) {
  init_queue(c, q, qid, depth, vector);
  uint32_t size_and_id = (uint32_t)(depth - 1) << 16 | qid;
  struct nvme_cmd cq = {.opcode = NVME_ADMIN_CREATE_CQ,
                        .prp1 = q->cq_iova,
                        .cdw10 = size_and_id,
                        /* physically contiguous, interrupts enabled if it has a vector */
                        .cdw11 = (vector >= 0 ? (uint32_t)vector << 16 | 2 : 0) | 1};
  int status = nvme_admin(c, &cq, NULL);
  if (status != NVME_SUCCESS) return status;
  struct nvme_cmd sq = {
      .opcode = NVME_ADMIN_CREATE_SQ, .prp1 = q->sq_iova, .cdw10 = size_and_id, .cdw11 = (uint32_t)qid << 16 | 1};
  return nvme_admin(c, &sq, NULL);
}

int nvme_delete_queue(struct nvme_ctrl *c, struct nvme_queue *q) {
  struct nvme_cmd sq = {.opcode = NVME_ADMIN_DELETE_SQ, .cdw10 = q->id};
  struct nvme_cmd cq = {.opcode = NVME_ADMIN_DELETE_CQ, .cdw10 = q->id};
  int status = nvme_admin(c, &sq, NULL);
  int cq_status = nvme_admin(c, &cq, NULL);
  return status != NVME_SUCCESS ? status : cq_status;
}

void nvme_set_prps(const struct nvme_ctrl *c, struct nvme_cmd *cmd, const void *buf, size_t len, uint64_t *list) {
  uint64_t iova = nvme_iova(c, buf);
  size_t first = PAGE - (iova & (PAGE - 1));
  cmd->prp1 = iova;
  cmd->prp2 = 0;
  if (len <= first) return;
  if (len <= first + PAGE) {
    cmd->prp2 = iova + first;
    return;
  }
  size_t pages = (len - first + PAGE - 1) / PAGE;
  CHECK(pages <= PAGE / sizeof(uint64_t));
  for (size_t i = 0; i < pages; i++) list[i] = iova + first + i * PAGE;
  cmd->prp2 = nvme_iova(c, list);
}

const char *nvme_status_name(int status) {
  switch (status) {
    case NVME_SUCCESS:
      return "Successful Completion";
    case NVME_INVALID_OPCODE:
      return "Invalid Command Opcode";
    case NVME_INVALID_FIELD:
      return "Invalid Field in Command";
    case NVME_INVALID_NAMESPACE:
      return "Invalid Namespace or Format";
    case NVME_PRP_OFFSET_INVALID:
      return "PRP Offset Invalid";
    case NVME_INVALID_SGL_SEGMENT:
      return "Invalid SGL Segment Descriptor";
    case NVME_DATA_SGL_LENGTH_INVALID:
      return "Data SGL Length Invalid";
    case NVME_SGL_TYPE_INVALID:
      return "SGL Descriptor Type Invalid";
    case NVME_LBA_OUT_OF_RANGE:
      return "LBA Out of Range";
    case NVME_INVALID_CQ:
      return "Completion Queue Invalid";
    case NVME_INVALID_QUEUE_ID:
      return "Invalid Queue Identifier";
    case NVME_INVALID_QUEUE_SIZE:
      return "Invalid Queue Size";
    case NVME_INVALID_VECTOR:
      return "Invalid Interrupt Vector";
    case NVME_INVALID_QUEUE_DELETION:
      return "Invalid Queue Deletion";
    case NVME_FEATURE_NOT_SAVEABLE:
      return "Feature Identifier Not Saveable";
    default:
      return "(another status)";
  }
}
