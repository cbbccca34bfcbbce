/*
 * A small user-space NVMe driver over VFIO (issue 14), for the emulated controller of
 * `--device nvme` and for any NVMe 1.4 controller bound to vfio-pci: discovery through sysfs, the
 * device opened through its cdev and iommufd or through its group and a type-1 container, BAR0's
 * registers and doorbells through an mmap (whose loads and stores the shim traps) or pread/pwrite,
 * DMA memory from one arena mapped at a fixed IOVA, the admin queue, I/O queue pairs polled or
 * with an MSI-X vector each, PRPs. Written from the NVMe 1.4 specification and Linux's uapi.
 *
 * Submission and doorbells are separate so that a caller can batch, as the specification allows:
 * nvme_submit() fills SQ slots, one nvme_ring() publishes them all with a single SQ tail write;
 * nvme_reap() consumes completions and one nvme_release() returns them with a single CQ head
 * write.
 */
#ifndef IOMMUFD4J_NVME_H
#define IOMMUFD4J_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Controller registers (NVMe 1.4, 3.1) and the fields of them the driver uses. */
enum {
  NVME_REG_CAP = 0x00,
  NVME_REG_VS = 0x08,
  NVME_REG_INTMS = 0x0c,
  NVME_REG_INTMC = 0x10,
  NVME_REG_CC = 0x14,
  NVME_REG_CSTS = 0x1c,
  NVME_REG_AQA = 0x24,
  NVME_REG_ASQ = 0x28,
  NVME_REG_ACQ = 0x30,
  NVME_DOORBELLS = 0x1000,
};
#define NVME_CC_EN 1u
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_IOSQES_64 (6u << 16)
#define NVME_CC_IOCQES_16 (4u << 20)
#define NVME_CSTS_RDY 1u
#define NVME_CSTS_CFS 2u
#define NVME_CSTS_SHST_MASK (3u << 2)
#define NVME_CSTS_SHST_COMPLETE (2u << 2)

/* Admin and NVM command set opcodes. */
enum {
  NVME_ADMIN_DELETE_SQ = 0x00,
  NVME_ADMIN_CREATE_SQ = 0x01,
  NVME_ADMIN_GET_LOG_PAGE = 0x02,
  NVME_ADMIN_DELETE_CQ = 0x04,
  NVME_ADMIN_CREATE_CQ = 0x05,
  NVME_ADMIN_IDENTIFY = 0x06,
  NVME_ADMIN_SET_FEATURES = 0x09,
  NVME_ADMIN_GET_FEATURES = 0x0a,
  NVME_CMD_FLUSH = 0x00,
  NVME_CMD_WRITE = 0x01,
  NVME_CMD_READ = 0x02,
  NVME_CMD_WRITE_ZEROES = 0x08,
  NVME_CMD_DSM = 0x09,
};
enum { NVME_FEAT_NUMBER_OF_QUEUES = 0x07, NVME_FEAT_INTERRUPT_COALESCING = 0x08 };

/* Completion status as the 15-bit Status Field: type in bits 10:8, code in 7:0, DNR bit 14. */
#define NVME_DNR 0x4000
#define NVME_PSDT_SGL (1u << 6) /* in the command's flags byte: the data pointer is SGL1 */
enum {
  NVME_SUCCESS = 0,
  NVME_INVALID_OPCODE = 0x01 | NVME_DNR,
  NVME_INVALID_FIELD = 0x02 | NVME_DNR,
  NVME_INVALID_NAMESPACE = 0x0b | NVME_DNR,
  NVME_INVALID_SGL_SEGMENT = 0x0d | NVME_DNR,
  NVME_DATA_SGL_LENGTH_INVALID = 0x0f | NVME_DNR,
  NVME_SGL_TYPE_INVALID = 0x11 | NVME_DNR,
  NVME_PRP_OFFSET_INVALID = 0x13 | NVME_DNR,
  NVME_LBA_OUT_OF_RANGE = 0x80 | NVME_DNR,
  NVME_INVALID_CQ = 0x100 | NVME_DNR,
  NVME_INVALID_QUEUE_ID = 0x101 | NVME_DNR,
  NVME_INVALID_QUEUE_SIZE = 0x102 | NVME_DNR,
  NVME_INVALID_VECTOR = 0x108 | NVME_DNR,
  NVME_INVALID_QUEUE_DELETION = 0x10c | NVME_DNR,
  NVME_FEATURE_NOT_SAVEABLE = 0x10d | NVME_DNR,
};

struct nvme_cmd {
  uint8_t opcode, flags;
  uint16_t cid;
  uint32_t nsid;
  uint64_t reserved, mptr, prp1, prp2;
  uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_cmd) == 64, "a submission queue entry is 64 bytes");

struct nvme_cqe {
  uint32_t dw0, dw1;
  uint16_t sq_head, sq_id, cid, status; /* status: phase in bit 0, the Status Field above it */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "a completion queue entry is 16 bytes");

enum nvme_path { NVME_CDEV, NVME_GROUP };

struct nvme_queue {
  uint16_t id, depth;
  uint16_t sq_tail, cq_head, sq_head; /* sq_head: as the last completion reported it */
  bool phase;
  int vector; /* MSI-X vector, -1 for a polled queue */
  struct nvme_cmd *sq;
  volatile struct nvme_cqe *cq;
  uint64_t sq_iova, cq_iova;
  volatile uint32_t *sq_doorbell, *cq_doorbell;
};

#define NVME_MAX_VECTORS 8

struct nvme_ctrl {
  enum nvme_path path;
  char bdf[32];
  int device, iommufd, container, group; /* -1 where the path has none */
  uint32_t ioas;
  uint64_t bar0, config; /* region offsets in the device file */
  volatile uint32_t *regs;
  uint64_t cap;
  uint32_t ready_timeout_ms; /* CAP.TO */
  uint8_t *arena;            /* DMA memory: one mapping at arena_iova */
  uint64_t arena_iova;
  size_t arena_size, arena_used;
  int irq[NVME_MAX_VECTORS]; /* eventfds of MSI-X vectors 0..vectors-1 */
  int vectors;
  struct nvme_queue admin;
  uint16_t next_cid;
};

/* Opens the first NVMe function bound to vfio-pci in sysfs through `path`, maps BAR0 and an arena
 * of `dma_bytes` for DMA, turns on memory decoding and bus mastering. Exits on failure. */
void nvme_open(struct nvme_ctrl *c, enum nvme_path path, size_t dma_bytes);
void nvme_close(struct nvme_ctrl *c);

/* Page-aligned DMA memory from the arena (zeroed): its address here, its IOVA in *iova. */
void *nvme_alloc(struct nvme_ctrl *c, size_t size, uint64_t *iova);
uint64_t nvme_iova(const struct nvme_ctrl *c, const void *va);

uint32_t nvme_read32(const struct nvme_ctrl *c, uint32_t reg);
void nvme_write32(struct nvme_ctrl *c, uint32_t reg, uint32_t value);
/* The same registers through pread/pwrite of the device file's BAR0 region. */
uint32_t nvme_pread32(const struct nvme_ctrl *c, uint32_t reg);
void nvme_pwrite32(const struct nvme_ctrl *c, uint32_t reg, uint32_t value);

/* Disables the controller (waiting for CSTS.RDY to clear, CAP.TO at most), sets up the admin
 * queue pair with `depth` entries and enables it. Returns false if CSTS.RDY never came or the
 * controller reported a fatal status. */
bool nvme_enable(struct nvme_ctrl *c, uint16_t depth);
bool nvme_disable(struct nvme_ctrl *c);
/* Normal shutdown notification; true once CSTS.SHST says complete. */
bool nvme_shutdown(struct nvme_ctrl *c);

/* An admin command, synchronously (polled): the Status Field, dw0 of the completion in *dw0. */
int nvme_admin(struct nvme_ctrl *c, struct nvme_cmd *cmd, uint32_t *dw0);

/* MSI-X vectors 0..n-1, each signalling an eventfd, through VFIO_DEVICE_SET_IRQS. */
void nvme_enable_msix(struct nvme_ctrl *c, int n);
/* Waits up to timeout_ms for vector's eventfd; the count of signals consumed, 0 on timeout. */
uint64_t nvme_wait_irq(const struct nvme_ctrl *c, int vector, int timeout_ms);

/* Create I/O CQ then SQ `qid` with `depth` entries; vector -1 for a polled queue pair. */
int nvme_create_queue(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t qid, uint16_t depth, int vector);
/* Delete I/O SQ then CQ: the first status that is not success, else success. */
int nvme_delete_queue(struct nvme_ctrl *c, struct nvme_queue *q);

/* Puts a command into the next SQ slot (the caller keeps fewer than depth - 1 in flight). */
void nvme_submit(struct nvme_queue *q, const struct nvme_cmd *cmd);
/* One SQ tail doorbell write for everything submitted since the last. */
void nvme_ring(struct nvme_queue *q);
/* Takes the next completion if the controller has posted it (no doorbell). */
bool nvme_reap(struct nvme_queue *q, struct nvme_cqe *out);
/* One CQ head doorbell write for everything reaped since the last. */
void nvme_release(struct nvme_queue *q);

static inline int nvme_status(const struct nvme_cqe *e) { return e->status >> 1; }

/* An SGL descriptor (NVMe 1.4, 4.4); `id` is the type in bits 7:4 and subtype in 3:0. */
struct nvme_sgl {
  uint64_t address;
  uint32_t length;
  uint8_t reserved[3], id;
};
_Static_assert(sizeof(struct nvme_sgl) == 16, "an SGL descriptor is 16 bytes");
enum { NVME_SGL_DATA_BLOCK = 0x00, NVME_SGL_BIT_BUCKET = 0x10, NVME_SGL_SEGMENT = 0x20, NVME_SGL_LAST_SEGMENT = 0x30 };

/* PRP1/PRP2 for `len` bytes at `buf` (arena memory, dword aligned); `list` is a page of arena
 * memory for the PRP list when the transfer spans more than two pages (one list page: 512 KiB). */
void nvme_set_prps(const struct nvme_ctrl *c, struct nvme_cmd *cmd, const void *buf, size_t len, uint64_t *list);

/* The spec's name of a status (for messages). */
const char *nvme_status_name(int status);

#endif
