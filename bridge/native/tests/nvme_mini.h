/*
 * A minimal NVMe driver over VFIO, for the tests and the device benchmark: the device cdev bound to
 * an iommufd, 64 KiB of this process's memory mapped at IOVA NVME_IOVA, BAR0 mmap'ed, and the admin
 * queue pair (16 entries) in that memory. Registers (CC, CSTS, AQA, ...) are loads and stores the
 * shim traps; the doorbells are plain stores into the shared doorbell page, or pwrite(2)s to compare
 * (NVMe 1.4; written from the specification).
 */
#ifndef IOMMUFD4J_NVME_MINI_H
#define IOMMUFD4J_NVME_MINI_H

#include <sched.h>
#include <stdbool.h>
#include <time.h>

#include "t.h"
#include "vfio_cdev.h"

enum { NVME_VS = 0x08, NVME_CC = 0x14, NVME_CSTS = 0x1c, NVME_AQA = 0x24, NVME_ASQ = 0x28, NVME_ACQ = 0x30 };
#define NVME_BAR0_SIZE 0x4000
#define NVME_DOORBELLS 0x1000
#define NVME_IOVA 0x100000ULL
#define NVME_MEMORY 0x10000
#define NVME_ADMIN_ENTRIES 16
/* where things lie in the driver's memory (offsets from NVME_IOVA) */
#define NVME_ASQ_AT 0x0000
#define NVME_ACQ_AT 0x1000
#define NVME_DATA_AT 0x2000

struct nvme {
  int fd, iommufd;
  uint64_t bar0, config; /* region offsets in the device file */
  volatile uint32_t *bar;
  uint8_t *mem;
  uint16_t sq_tail, cq_head, cid;
  int phase;
  uint32_t dw0;          /* of the last completion reaped */
  bool pwrite_doorbells; /* ring with pwrite(2) on the device fd instead (for comparison) */
};

/* The vfio cdev of the first NVMe controller (class 0x0108) in sysfs: 0, or -1 if there is none. */
static inline int nvme_find(char *cdev, size_t size) { return t_vfio_cdev_find("class", "0x0108", cdev, size); }

/* Waits up to 10 s for (CSTS & mask) == want. */
static inline void nvme_wait_csts(struct nvme *n, uint32_t mask, uint32_t want) {
  struct timespec pause = {0, 100000};
  for (int i = 0; i < 100000 && (n->bar[NVME_CSTS / 4] & mask) != want; i++) nanosleep(&pause, NULL);
  if ((n->bar[NVME_CSTS / 4] & mask) != want) FAIL("CSTS 0x%x, waited for 0x%x", n->bar[NVME_CSTS / 4], want);
}

/* Opens, binds and attaches the controller at cdev, maps its BAR0 and the driver's memory. */
static inline void nvme_open(struct nvme *n, const char *cdev) {
  memset(n, 0, sizeof *n);
  n->fd = open(cdev, O_RDWR | O_CLOEXEC);
  CHECK(n->fd >= 0);
  n->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
  CHECK(n->iommufd >= 0);
  uint32_t ioas = t_vfio_cdev_attach(n->fd, n->iommufd);
  n->mem = t_buffer(NVME_MEMORY);
  memset(n->mem, 0, NVME_MEMORY);
  uint64_t iova = NVME_IOVA;
  CHECK_OK(t_map(n->iommufd, ioas, n->mem, NVME_MEMORY, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));

  n->bar0 = t_vfio_region(n->fd, VFIO_PCI_BAR0_REGION_INDEX);
  n->config = t_vfio_region(n->fd, VFIO_PCI_CONFIG_REGION_INDEX);
  t_vfio_enable_memory_and_dma(n->fd, n->config);
  void *bar = mmap(NULL, NVME_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, n->fd, (off_t)n->bar0);
  CHECK(bar != MAP_FAILED);
  n->bar = bar;
}

/* Enables the controller with the admin queue pair in the driver's memory. */
static inline void nvme_enable(struct nvme *n) {
  n->bar[NVME_CC / 4] = 0;
  nvme_wait_csts(n, 1, 0);
  n->bar[NVME_AQA / 4] = (NVME_ADMIN_ENTRIES - 1) << 16 | (NVME_ADMIN_ENTRIES - 1);
  n->bar[NVME_ASQ / 4] = (uint32_t)(NVME_IOVA + NVME_ASQ_AT);
  n->bar[NVME_ASQ / 4 + 1] = (uint32_t)((NVME_IOVA + NVME_ASQ_AT) >> 32);
  n->bar[NVME_ACQ / 4] = (uint32_t)(NVME_IOVA + NVME_ACQ_AT);
  n->bar[NVME_ACQ / 4 + 1] = (uint32_t)((NVME_IOVA + NVME_ACQ_AT) >> 32);
  n->bar[NVME_CC / 4] = 4 << 20 | 6 << 16 | 1; /* IOCQES 16 bytes, IOSQES 64 bytes, EN */
  nvme_wait_csts(n, 1, 1);
  n->sq_tail = n->cq_head = 0;
  n->phase = 1;
}

/* Stores value into doorbell `index` (SQ y tail: 2y, CQ y head: 2y + 1): a plain store into the
   shared doorbell page, or a pwrite. */
static inline void nvme_ring(struct nvme *n, unsigned index, uint32_t value) {
  if (n->pwrite_doorbells)
    CHECK(pwrite(n->fd, &value, 4, (off_t)(n->bar0 + NVME_DOORBELLS + 4 * index)) == 4);
  else
    n->bar[NVME_DOORBELLS / 4 + index] = value;
}

/* Rings the admin SQ tail. */
static inline void nvme_admin_submit(struct nvme *n, uint8_t opcode, uint32_t nsid, uint64_t prp1, uint32_t cdw10) {
  uint32_t *sqe = (uint32_t *)(n->mem + NVME_ASQ_AT + 64 * n->sq_tail);
  memset(sqe, 0, 64);
  sqe[0] = opcode | (uint32_t)++n->cid << 16;
  sqe[1] = nsid;
  sqe[6] = (uint32_t)prp1;
  sqe[7] = (uint32_t)(prp1 >> 32);
  sqe[10] = cdw10;
  n->sq_tail = (n->sq_tail + 1) % NVME_ADMIN_ENTRIES;
  __atomic_thread_fence(__ATOMIC_RELEASE);
  nvme_ring(n, 0, n->sq_tail);
}

/* Spins until the next admin completion is posted (at most 10 s), rings the CQ head: its status. */
static inline uint32_t nvme_admin_reap(struct nvme *n) {
  volatile uint32_t *cqe = (volatile uint32_t *)(n->mem + NVME_ACQ_AT + 16 * n->cq_head);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (unsigned spins = 0; ((cqe[3] >> 16) & 1) != (uint32_t)n->phase; spins++) {
    sched_yield(); /* a spin that leaves the CPU to the emulator's threads when they need it */
    if ((spins & 0xff) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec > 10) FAIL("no admin completion in 10 s (CSTS 0x%x)", n->bar[NVME_CSTS / 4]);
    }
  }
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  uint32_t status = cqe[3] >> 17;
  n->dw0 = cqe[0];
  n->cq_head = (n->cq_head + 1) % NVME_ADMIN_ENTRIES;
  if (n->cq_head == 0) n->phase ^= 1;
  nvme_ring(n, 1, n->cq_head);
  return status;
}

#endif
