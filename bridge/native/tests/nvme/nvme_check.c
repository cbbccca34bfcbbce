/*
 * Drives an NVMe controller end to end through nvme.h and checks every answer against NVMe 1.4:
 * bring-up (CAP, VS, reset and enable with CSTS.RDY within CAP.TO, registers through the mmap and
 * through pread/pwrite), Identify (controller, namespace, active namespace list, descriptors),
 * Set Features Number of Queues, each bad argument of Create/Delete I/O CQ and SQ, a polled queue
 * pair and one with an MSI-X vector, seeded writes read back and verified at queue depths 1, 8
 * and 32 with PRP1/PRP2, PRP lists, a chained PRP list and a PRP1 offset, an SGL write and the
 * statuses of unsupported SGLs, Flush, Write Zeroes,
 * Dataset Management (deallocate), the error statuses of I/O commands, queue deletion and a
 * normal shutdown.
 *
 * Usage: nvme_check cdev|group [seed]   under ./run.sh exec --device nvme[,...] (the group path
 * needs the container, which --device turns on). Prints one `ok` line per check and a summary;
 * exits 1 with a FAIL line at the first wrong answer. The last block written holds
 * "iommufd4j nvme_check <path> <seed>" at LBA 1000 (a test can look for it in a backing file).
 */
#include "nvme.h"

#include <sched.h>

#include "../t.h"

#define PAGE 4096u
#define BLOCK 512u
#define MAX_DEPTH 32
#define MAX_TRANSFER (128 * 1024) /* per command in the depth tests */
#define SIGNATURE_LBA 1000

static int checks;
static uint64_t rng;

static uint64_t next_random(void) { /* xorshift64*, seeded from the command line */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 0x2545f4914f6cdd1dull;
}

#define PASS(...) \
  do { \
    checks++; \
    printf("ok "); \
    printf(__VA_ARGS__); \
    printf("\n"); \
  } while (0)

#define EXPECT_STATUS(got, want, what) \
  do { \
    int got_ = (got), want_ = (want); \
    if (got_ != want_) \
      FAIL("%s: status 0x%03x (%s), expected 0x%03x (%s)", what, got_, nvme_status_name(got_), want_, \
           nvme_status_name(want_)); \
    PASS("%s: 0x%03x %s", what, got_, nvme_status_name(got_)); \
  } while (0)

#define EXPECT_EQ(got, want, what) \
  do { \
    unsigned long long got_ = (got), want_ = (want); \
    if (got_ != want_) FAIL("%s: 0x%llx, expected 0x%llx", what, got_, want_); \
    PASS("%s: 0x%llx", what, got_); \
  } while (0)

struct ns {
  uint64_t blocks;
};

static void bring_up(struct nvme_ctrl *c) {
  uint64_t cap = c->cap;
  EXPECT_EQ(nvme_pread32(c, NVME_REG_CAP), (uint32_t)cap, "CAP low through pread equals the mmap's");
  EXPECT_EQ(cap & 0xffff, 0x7ff, "CAP.MQES");
  EXPECT_EQ(cap >> 16 & 1, 1, "CAP.CQR (contiguous queues required)");
  EXPECT_EQ(cap >> 37 & 1, 1, "CAP.CSS NVM command set");
  EXPECT_EQ(cap >> 48 & 0xf, 0, "CAP.MPSMIN (4 KiB)");
  if (c->ready_timeout_ms == 0) FAIL("CAP.TO is 0");
  PASS("CAP.TO: %u ms", c->ready_timeout_ms);
  EXPECT_EQ(nvme_read32(c, NVME_REG_VS), 0x10400, "VS 1.4.0");
  EXPECT_EQ(nvme_pread32(c, NVME_REG_VS), 0x10400, "VS through pread");
  /* Interrupt masks: written with pwrite, read through the mapping (before MSI-X, which they
   * must not be used with). */
  nvme_pwrite32(c, NVME_REG_INTMS, 0x5);
  EXPECT_EQ(nvme_read32(c, NVME_REG_INTMS), 0x5, "INTMS set by pwrite, read by mmap");
  nvme_write32(c, NVME_REG_INTMC, 0x5);
  EXPECT_EQ(nvme_pread32(c, NVME_REG_INTMC), 0, "INTMC clears by mmap, read by pread");

  if (!nvme_enable(c, 32)) FAIL("CSTS.RDY did not come within CAP.TO (CSTS 0x%x)", nvme_read32(c, NVME_REG_CSTS));
  PASS("enable: CSTS.RDY within CAP.TO");
  /* A reset in the middle: disable (RDY clears), enable again with the same admin queue. */
  if (!nvme_disable(c)) FAIL("CSTS.RDY did not clear within CAP.TO");
  EXPECT_EQ(nvme_read32(c, NVME_REG_CSTS) & NVME_CSTS_RDY, 0, "disable: CSTS.RDY clear");
  if (!nvme_enable(c, 32)) FAIL("enable after reset failed (CSTS 0x%x)", nvme_read32(c, NVME_REG_CSTS));
  PASS("re-enable: CSTS.RDY");
}

static void ascii_field(const uint8_t *id, int offset, int length, char *out) {
  memcpy(out, id + offset, length);
  out[length] = 0;
  for (int i = length - 1; i >= 0 && out[i] == ' '; i--) out[i] = 0;
}

static int identify(struct nvme_ctrl *c, uint8_t cns, uint32_t nsid, void *buf) {
  struct nvme_cmd cmd = {.opcode = NVME_ADMIN_IDENTIFY, .nsid = nsid, .cdw10 = cns};
  nvme_set_prps(c, &cmd, buf, PAGE, NULL);
  return nvme_admin(c, &cmd, NULL);
}

static struct ns identify_all(struct nvme_ctrl *c) {
  uint64_t iova;
  uint8_t *id = nvme_alloc(c, PAGE, &iova);
  EXPECT_STATUS(identify(c, 1, 0, id), NVME_SUCCESS, "Identify controller");
  char text[41];
  EXPECT_EQ(id[0] | id[1] << 8, 0x1b36, "Identify controller VID");
  ascii_field(id, 24, 40, text);
  PASS("Identify controller MN: '%s'", text);
  ascii_field(id, 4, 20, text);
  PASS("Identify controller SN: '%s'", text);
  EXPECT_EQ(id[77], 7, "Identify controller MDTS (512 KiB)");
  EXPECT_EQ(id[512], 0x66, "Identify controller SQES");
  EXPECT_EQ(id[513], 0x44, "Identify controller CQES");
  EXPECT_EQ(id[516], 1, "Identify controller NN");
  EXPECT_EQ((id[520] | id[521] << 8) & 0xc, 0xc, "Identify controller ONCS: DSM and Write Zeroes");
  EXPECT_EQ(id[536] & 3, 1, "Identify controller SGLS: SGLs without alignment");

  EXPECT_STATUS(identify(c, 0, 1, id), NVME_SUCCESS, "Identify namespace 1");
  struct ns ns;
  memcpy(&ns.blocks, id, 8);
  uint64_t ncap, nuse;
  memcpy(&ncap, id + 8, 8);
  memcpy(&nuse, id + 16, 8);
  if (ns.blocks == 0 || ncap != ns.blocks || nuse != ns.blocks)
    FAIL("NSZE %llu NCAP %llu NUSE %llu", (unsigned long long)ns.blocks, (unsigned long long)ncap,
         (unsigned long long)nuse);
  PASS("Identify namespace NSZE = NCAP = NUSE: %llu blocks", (unsigned long long)ns.blocks);
  EXPECT_EQ(id[26] & 0xf, 0, "Identify namespace FLBAS: format 0");
  EXPECT_EQ(id[128 + 2], 9, "Identify namespace LBAF0.LBADS (512-byte blocks)");

  memset(id, 0xff, PAGE);
  EXPECT_STATUS(identify(c, 2, 0, id), NVME_SUCCESS, "Identify active namespace list");
  uint32_t list[2];
  memcpy(list, id, sizeof list);
  EXPECT_EQ(list[0], 1, "active namespace list: NSID 1");
  EXPECT_EQ(list[1], 0, "active namespace list: then 0");
  EXPECT_STATUS(identify(c, 3, 1, id), NVME_SUCCESS, "Identify namespace identification descriptors");
  EXPECT_EQ(id[0], 3, "descriptor NIDT UUID");
  EXPECT_EQ(id[1], 16, "descriptor NIDL 16");

  EXPECT_STATUS(identify(c, 0, 2, id), NVME_INVALID_NAMESPACE, "Identify namespace 2 (none)");
  EXPECT_STATUS(identify(c, 0x55, 0, id), NVME_INVALID_FIELD, "Identify CNS 0x55");
  return ns;
}

static int set_features(struct nvme_ctrl *c, uint32_t fid, uint32_t value, uint32_t *dw0) {
  struct nvme_cmd cmd = {.opcode = NVME_ADMIN_SET_FEATURES, .cdw10 = fid, .cdw11 = value};
  return nvme_admin(c, &cmd, dw0);
}

static void features(struct nvme_ctrl *c) {
  uint32_t dw0 = 0;
  EXPECT_STATUS(set_features(c, NVME_FEAT_NUMBER_OF_QUEUES, 3 << 16 | 3, &dw0), NVME_SUCCESS,
                "Set Features Number of Queues 4/4");
  EXPECT_EQ(dw0, 63 << 16 | 63, "Number of Queues allocated: 64 SQs, 64 CQs");
  EXPECT_STATUS(set_features(c, NVME_FEAT_NUMBER_OF_QUEUES | 1u << 31, 0, NULL), NVME_FEATURE_NOT_SAVEABLE,
                "Set Features with SV on a feature that cannot be saved");
  EXPECT_STATUS(set_features(c, 0x7e, 0, NULL), NVME_INVALID_FIELD, "Set Features of an unknown feature");
  struct nvme_cmd reserved = {.opcode = 0x03};
  EXPECT_STATUS(nvme_admin(c, &reserved, NULL), NVME_INVALID_OPCODE, "reserved admin opcode 0x03");
}

static int create_cq(struct nvme_ctrl *c, uint16_t qid, uint16_t entries, uint64_t base, uint32_t flags,
                     uint16_t vector) {
  struct nvme_cmd cmd = {.opcode = NVME_ADMIN_CREATE_CQ,
                         .prp1 = base,
                         .cdw10 = (uint32_t)(entries - 1) << 16 | qid,
                         .cdw11 = (uint32_t)vector << 16 | flags};
  return nvme_admin(c, &cmd, NULL);
}

static int create_sq(struct nvme_ctrl *c, uint16_t qid, uint16_t entries, uint64_t base, uint16_t cqid) {
  struct nvme_cmd cmd = {.opcode = NVME_ADMIN_CREATE_SQ,
                         .prp1 = base,
                         .cdw10 = (uint32_t)(entries - 1) << 16 | qid,
                         .cdw11 = (uint32_t)cqid << 16 | 1};
  return nvme_admin(c, &cmd, NULL);
}

static int delete_queue(struct nvme_ctrl *c, uint8_t opcode, uint16_t qid) {
  struct nvme_cmd cmd = {.opcode = opcode, .cdw10 = qid};
  return nvme_admin(c, &cmd, NULL);
}

/* Every bad argument of queue creation and deletion, on the spare queue ids 5 and 6. */
static void queue_errors(struct nvme_ctrl *c) {
  uint64_t base;
  nvme_alloc(c, PAGE, &base);
  EXPECT_STATUS(create_cq(c, 0, 8, base, 1, 0), NVME_INVALID_QUEUE_ID, "Create I/O CQ id 0");
  EXPECT_STATUS(create_cq(c, 65, 8, base, 1, 0), NVME_INVALID_QUEUE_ID, "Create I/O CQ id 65 (64 allocated)");
  EXPECT_STATUS(create_cq(c, 5, 1, base, 1, 0), NVME_INVALID_QUEUE_SIZE, "Create I/O CQ of 1 entry");
  EXPECT_STATUS(create_cq(c, 5, 0x802, base, 1, 0), NVME_INVALID_QUEUE_SIZE, "Create I/O CQ above CAP.MQES");
  EXPECT_STATUS(create_cq(c, 5, 8, base + 0x100, 1, 0), NVME_PRP_OFFSET_INVALID, "Create I/O CQ not page aligned");
  EXPECT_STATUS(create_cq(c, 5, 8, base, 0, 0), NVME_INVALID_FIELD, "Create I/O CQ not contiguous (CAP.CQR)");
  EXPECT_STATUS(create_cq(c, 5, 8, base, 3, 65), NVME_INVALID_VECTOR, "Create I/O CQ with vector 65 (65 in MSI-X)");
  EXPECT_STATUS(create_sq(c, 5, 8, base, 6), NVME_INVALID_CQ, "Create I/O SQ on a CQ that does not exist");
  EXPECT_STATUS(create_sq(c, 5, 8, base, 0), NVME_INVALID_CQ, "Create I/O SQ on the admin CQ");
  EXPECT_STATUS(create_cq(c, 5, 8, base, 1, 0), NVME_SUCCESS, "Create I/O CQ 5 (polled)");
  EXPECT_STATUS(create_cq(c, 5, 8, base, 1, 0), NVME_INVALID_QUEUE_ID, "Create I/O CQ 5 again");
  uint64_t sq;
  nvme_alloc(c, PAGE, &sq);
  EXPECT_STATUS(create_sq(c, 0, 8, sq, 5), NVME_INVALID_QUEUE_ID, "Create I/O SQ id 0");
  EXPECT_STATUS(create_sq(c, 5, 1, sq, 5), NVME_INVALID_QUEUE_SIZE, "Create I/O SQ of 1 entry");
  EXPECT_STATUS(create_sq(c, 5, 8, sq + 64, 5), NVME_PRP_OFFSET_INVALID, "Create I/O SQ not page aligned");
  EXPECT_STATUS(create_sq(c, 5, 8, sq, 5), NVME_SUCCESS, "Create I/O SQ 5 on CQ 5");
  EXPECT_STATUS(delete_queue(c, NVME_ADMIN_DELETE_CQ, 5), NVME_INVALID_QUEUE_DELETION,
                "Delete I/O CQ 5 while SQ 5 uses it");
  EXPECT_STATUS(delete_queue(c, NVME_ADMIN_DELETE_SQ, 0), NVME_INVALID_QUEUE_ID, "Delete I/O SQ 0 (admin)");
  EXPECT_STATUS(delete_queue(c, NVME_ADMIN_DELETE_SQ, 6), NVME_INVALID_QUEUE_ID, "Delete I/O SQ 6 (none)");
  EXPECT_STATUS(delete_queue(c, NVME_ADMIN_DELETE_SQ, 5), NVME_SUCCESS, "Delete I/O SQ 5");
  EXPECT_STATUS(delete_queue(c, NVME_ADMIN_DELETE_CQ, 5), NVME_SUCCESS, "Delete I/O CQ 5");
  EXPECT_STATUS(delete_queue(c, NVME_ADMIN_DELETE_CQ, 5), NVME_INVALID_QUEUE_ID, "Delete I/O CQ 5 again");
}

/* The bytes of block `lba` as the seeded pattern writes them: a function of (seed, lba). */
static void pattern(uint64_t seed, uint64_t lba, uint8_t *out) {
  uint64_t x = seed ^ (lba + 1) * 0x9e3779b97f4a7c15ull;
  for (unsigned i = 0; i < BLOCK; i += 8) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 29;
    memcpy(out + i, &x, 8);
  }
}

/* One in-flight command's memory: its data and a page for its PRP list. */
struct slot {
  uint8_t *data;
  uint64_t *prp_list;
};

struct io {
  struct nvme_ctrl *c;
  struct nvme_queue *q;
  struct slot slots[MAX_DEPTH];
  uint64_t seed;
  uint64_t interrupts; /* signals read from the eventfd of an interrupt queue's vector */
};

static struct nvme_cmd rw(struct io *io, int slot, uint8_t opcode, uint64_t lba, uint32_t blocks) {
  struct nvme_cmd cmd = {.opcode = opcode,
                         .cid = (uint16_t)slot,
                         .nsid = 1,
                         .cdw10 = (uint32_t)lba,
                         .cdw11 = (uint32_t)(lba >> 32),
                         .cdw12 = blocks - 1};
  nvme_set_prps(io->c, &cmd, io->slots[slot].data, (size_t)blocks * BLOCK, io->slots[slot].prp_list);
  return cmd;
}

/* Waits for one completion of q: a polled queue is polled; an interrupt queue is read only after
 * its vector's eventfd fired, as an interrupt-driven driver does (every posted batch is followed
 * by its interrupt, so this cannot wait for one that already came and went). */
static void reap_one(struct io *io, struct nvme_cqe *e) {
  if (io->q->vector >= 0) {
    do {
      uint64_t signals = nvme_wait_irq(io->c, io->q->vector, 20000);
      if (signals == 0) FAIL("queue %u: no interrupt on vector %d in 20 s", io->q->id, io->q->vector);
      io->interrupts += signals;
    } while (!nvme_reap(io->q, e));
    return;
  }
  for (long polls = 0; !nvme_reap(io->q, e); polls++) {
    if (polls > 20000000) FAIL("queue %u: no completion after 20,000,000 polls", io->q->id);
    sched_yield();
  }
}

/* Runs n commands built by make(i, slot) keeping `depth` in flight: submissions are batched into
 * one SQ doorbell per refill, completions into one CQ doorbell per drain. Each must succeed. */
static void run_depth(struct io *io, int depth, int n, struct nvme_cmd (*make)(struct io *, int, int, void *),
                      void (*done)(struct io *, int, int, void *), void *arg) {
  int next = 0, completed = 0;
  int which[MAX_DEPTH]; /* the command index each slot holds */
  bool busy[MAX_DEPTH] = {0};
  while (completed < n) {
    int submitted = 0;
    for (int s = 0; s < depth && next < n; s++)
      if (!busy[s]) {
        struct nvme_cmd cmd = make(io, next, s, arg);
        busy[s] = true;
        which[s] = next++;
        nvme_submit(io->q, &cmd);
        submitted++;
      }
    if (submitted) nvme_ring(io->q);
    struct nvme_cqe e;
    reap_one(io, &e);
    do {
      if (e.cid >= depth || !busy[e.cid]) FAIL("completion for cid %u, which is not in flight", e.cid);
      if (nvme_status(&e) != NVME_SUCCESS)
        FAIL("command %d: status 0x%03x %s", which[e.cid], nvme_status(&e), nvme_status_name(nvme_status(&e)));
      busy[e.cid] = false;
      completed++;
      if (done) done(io, which[e.cid], e.cid, arg);
    } while (nvme_reap(io->q, &e));
    nvme_release(io->q);
  }
}

/* The depth test's commands: command i covers blocks [lba[i], lba[i] + blocks[i]). */
struct plan {
  int n;
  uint64_t lba[256];
  uint32_t blocks[256];
  uint8_t opcode;
};

static struct nvme_cmd plan_command(struct io *io, int i, int slot, void *arg) {
  struct plan *p = arg;
  if (p->opcode == NVME_CMD_WRITE)
    for (uint32_t b = 0; b < p->blocks[i]; b++) pattern(io->seed, p->lba[i] + b, io->slots[slot].data + b * BLOCK);
  else
    memset(io->slots[slot].data, 0, (size_t)p->blocks[i] * BLOCK);
  return rw(io, slot, p->opcode, p->lba[i], p->blocks[i]);
}

static void verify_read(struct io *io, int i, int slot, void *arg) {
  struct plan *p = arg;
  uint8_t want[BLOCK];
  for (uint32_t b = 0; b < p->blocks[i]; b++) {
    pattern(io->seed, p->lba[i] + b, want);
    if (memcmp(io->slots[slot].data + b * BLOCK, want, BLOCK) != 0)
      FAIL("read of LBA %llu (command %d) does not hold what was written", (unsigned long long)(p->lba[i] + b), i);
  }
}

/* Writes n seeded extents of 1 to 256 blocks (PRP1 only, PRP1+PRP2, PRP lists) in disjoint
 * regions of the namespace at `depth`, then reads them back at the same depth and compares. */
static void depth_test(struct io *io, const struct ns *ns, int depth, int n, uint64_t region) {
  static const uint32_t sizes[] = {1, 8, 9, 16, 17, 64, 128, 255, 256};
  struct plan p = {.n = n};
  uint64_t stride = MAX_TRANSFER / BLOCK;
  if (region + (uint64_t)n * stride > ns->blocks)
    FAIL("namespace too small: %llu blocks", (unsigned long long)ns->blocks);
  for (int i = 0; i < n; i++) {
    p.blocks[i] = sizes[next_random() % (sizeof sizes / sizeof sizes[0])];
    p.lba[i] = region + (uint64_t)i * stride + next_random() % (stride - p.blocks[i] + 1);
  }
  p.opcode = NVME_CMD_WRITE;
  run_depth(io, depth, n, plan_command, NULL, &p);
  p.opcode = NVME_CMD_READ;
  run_depth(io, depth, n, plan_command, verify_read, &p);
  PASS("queue %u (%s): %d writes and reads at depth %d verified", io->q->id, io->q->vector >= 0 ? "MSI-X" : "polled", n,
       depth);
}

/* One command on the queue, waited for: its status. */
static int io_one(struct io *io, struct nvme_cmd *cmd) {
  nvme_submit(io->q, cmd);
  nvme_ring(io->q);
  struct nvme_cqe e;
  reap_one(io, &e);
  nvme_release(io->q);
  if (e.cid != cmd->cid) FAIL("completion for cid %u, expected %u", e.cid, cmd->cid);
  return nvme_status(&e);
}

static bool all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

static void prp_shapes(struct io *io) {
  struct nvme_ctrl *c = io->c;
  uint8_t *buf = io->slots[0].data, want[BLOCK];
  /* PRP1 with a dword offset inside its page: 3 blocks from buf + 0xe04 span two pages. */
  uint64_t lba = 64 * 1024;
  for (int b = 0; b < 3; b++) pattern(io->seed, lba + b, buf + 0xe04 + b * BLOCK);
  struct nvme_cmd cmd = {.opcode = NVME_CMD_WRITE, .cid = 1, .nsid = 1, .cdw10 = (uint32_t)lba, .cdw12 = 2};
  nvme_set_prps(c, &cmd, buf + 0xe04, 3 * BLOCK, NULL);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Write with PRP1 at page offset 0xe04 and PRP2");
  memset(buf, 0, 3 * BLOCK);
  cmd.opcode = NVME_CMD_READ;
  nvme_set_prps(c, &cmd, buf, 3 * BLOCK, NULL);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Read it back page aligned");
  for (int b = 0; b < 3; b++) {
    pattern(io->seed, lba + b, want);
    if (memcmp(buf + b * BLOCK, want, BLOCK)) FAIL("PRP1 offset write: block %d differs", b);
  }
  PASS("data written from a PRP1 offset reads back");

  /* A chained PRP list: 16 pages whose list starts 4 entries before the end of its page, so its
   * last entry points to a second list page (NVMe 1.4, 4.3). */
  uint64_t *lists = nvme_alloc(c, 2 * PAGE, NULL), *second = lists + PAGE / 8;
  uint64_t *first = second - 4;
  uint8_t *data = io->slots[1].data; /* 128 KiB, page aligned */
  uint64_t data_iova = nvme_iova(c, data);
  for (int b = 0; b < 128; b++) pattern(io->seed, lba + 16 + b, data + b * BLOCK);
  for (int i = 0; i < 3; i++) first[i] = data_iova + (uint64_t)(i + 1) * PAGE;
  first[3] = nvme_iova(c, second);
  for (int i = 0; i < 12; i++) second[i] = data_iova + (uint64_t)(i + 4) * PAGE;
  cmd = (struct nvme_cmd){.opcode = NVME_CMD_WRITE,
                          .cid = 2,
                          .nsid = 1,
                          .prp1 = data_iova,
                          .prp2 = nvme_iova(c, first),
                          .cdw10 = (uint32_t)lba + 16,
                          .cdw12 = 127};
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Write of 64 KiB through a chained PRP list");
  memset(io->slots[0].data, 0, 128 * BLOCK);
  cmd = rw(io, 0, NVME_CMD_READ, lba + 16, 128);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Read it back through a plain PRP list");
  if (memcmp(io->slots[0].data, data, 128 * BLOCK)) FAIL("chained PRP list write differs");
  PASS("data written through a chained PRP list reads back");

  cmd = rw(io, 0, NVME_CMD_READ, lba, 1);
  cmd.prp1 += 2;
  EXPECT_STATUS(io_one(io, &cmd), NVME_PRP_OFFSET_INVALID, "Read with PRP1 not dword aligned");
  cmd = rw(io, 0, NVME_CMD_READ, lba, 16);
  cmd.prp2 += 0x200;
  EXPECT_STATUS(io_one(io, &cmd), NVME_PRP_OFFSET_INVALID, "Read of two pages with PRP2 not page aligned");
  cmd = rw(io, 0, NVME_CMD_READ, lba, 64);
  io->slots[0].prp_list[3] += 8;
  EXPECT_STATUS(io_one(io, &cmd), NVME_PRP_OFFSET_INVALID, "Read with a PRP list entry not page aligned");
  cmd = rw(io, 0, NVME_CMD_READ, lba, 64);
  cmd.prp2 += 4;
  EXPECT_STATUS(io_one(io, &cmd), NVME_PRP_OFFSET_INVALID, "Read with a PRP list pointer not qword aligned");
}

/* A write gathered by an SGL from two unaligned pieces through a Last Segment list, read back by
 * PRPs, and the statuses of SGLs the controller does not take. */
static void sgls(struct io *io) {
  struct nvme_ctrl *c = io->c;
  uint64_t lba = 66 * 1024;
  uint8_t *a = io->slots[0].data + 3, *b = io->slots[1].data + 0x801, all[4 * BLOCK];
  struct nvme_sgl *list = (struct nvme_sgl *)io->slots[2].prp_list;
  for (int blk = 0; blk < 4; blk++) pattern(io->seed, lba + blk, all + blk * BLOCK);
  memcpy(a, all, 700); /* 700 bytes from a, the other 1348 from b */
  memcpy(b, all + 700, sizeof all - 700);
  list[0] = (struct nvme_sgl){.address = nvme_iova(c, a), .length = 700, .id = NVME_SGL_DATA_BLOCK};
  list[1] = (struct nvme_sgl){.address = nvme_iova(c, b), .length = 4 * BLOCK - 700, .id = NVME_SGL_DATA_BLOCK};
  struct nvme_sgl last = {.address = nvme_iova(c, list), .length = 2 * sizeof *list, .id = NVME_SGL_LAST_SEGMENT};
  struct nvme_cmd cmd = {
      .opcode = NVME_CMD_WRITE, .flags = NVME_PSDT_SGL, .cid = 6, .nsid = 1, .cdw10 = (uint32_t)lba, .cdw12 = 3};
  memcpy(&cmd.prp1, &last, sizeof last);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Write gathered by an SGL (Last Segment, two data blocks)");
  cmd = rw(io, 3, NVME_CMD_READ, lba, 4);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Read it back by PRPs");
  if (memcmp(io->slots[3].data, all, sizeof all)) FAIL("the blocks written through the SGL differ");
  PASS("data gathered by an SGL reads back");

  struct nvme_sgl bucket = {.address = 0, .length = BLOCK, .id = NVME_SGL_BIT_BUCKET};
  memcpy(&cmd.prp1, &bucket, sizeof bucket);
  cmd.flags = NVME_PSDT_SGL;
  cmd.cdw12 = 0;
  EXPECT_STATUS(io_one(io, &cmd), NVME_SGL_TYPE_INVALID, "Read into a Bit Bucket (not supported)");
  struct nvme_sgl short_block = {.address = nvme_iova(c, b), .length = BLOCK / 2, .id = NVME_SGL_DATA_BLOCK};
  memcpy(&cmd.prp1, &short_block, sizeof short_block);
  EXPECT_STATUS(io_one(io, &cmd), NVME_DATA_SGL_LENGTH_INVALID, "Read of a block into an SGL of half a block");
  last.length = 24;
  memcpy(&cmd.prp1, &last, sizeof last);
  EXPECT_STATUS(io_one(io, &cmd), NVME_INVALID_SGL_SEGMENT, "Read with a segment of 24 bytes");
  uint64_t iova;
  nvme_alloc(c, PAGE, &iova);
  struct nvme_cmd identify = {.opcode = NVME_ADMIN_IDENTIFY, .flags = NVME_PSDT_SGL, .cdw10 = 1};
  struct nvme_sgl block = {.address = iova, .length = PAGE, .id = NVME_SGL_DATA_BLOCK};
  memcpy(&identify.prp1, &block, sizeof block);
  EXPECT_STATUS(nvme_admin(c, &identify, NULL), NVME_INVALID_FIELD, "Identify with an SGL (admin takes PRPs)");
}

static void data_commands(struct io *io, const struct ns *ns) {
  uint8_t *buf = io->slots[0].data;
  uint64_t lba = 65 * 1024;
  struct nvme_cmd cmd = rw(io, 0, NVME_CMD_WRITE, lba, 16);
  for (int b = 0; b < 16; b++) pattern(io->seed, lba + b, buf + b * BLOCK);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Write 16 blocks");
  struct nvme_cmd flush = {.opcode = NVME_CMD_FLUSH, .cid = 3, .nsid = 1};
  EXPECT_STATUS(io_one(io, &flush), NVME_SUCCESS, "Flush namespace 1");
  flush.nsid = 0xffffffff;
  EXPECT_STATUS(io_one(io, &flush), NVME_SUCCESS, "Flush all namespaces (NSID FFFFFFFFh)");

  struct nvme_cmd zeroes = {
      .opcode = NVME_CMD_WRITE_ZEROES, .cid = 4, .nsid = 1, .cdw10 = (uint32_t)lba + 2, .cdw12 = 3};
  EXPECT_STATUS(io_one(io, &zeroes), NVME_SUCCESS, "Write Zeroes of blocks 2-5");
  /* Dataset Management, deallocate blocks 8-11 (one range: context attributes, length, LBA). */
  uint32_t *range = (uint32_t *)io->slots[1].data;
  memset(range, 0, 16);
  range[1] = 4;
  uint64_t start = lba + 8;
  memcpy(&range[2], &start, 8);
  struct nvme_cmd dsm = {.opcode = NVME_CMD_DSM, .cid = 5, .nsid = 1, .cdw10 = 0, .cdw11 = 1 << 2};
  nvme_set_prps(io->c, &dsm, range, 16, NULL);
  EXPECT_STATUS(io_one(io, &dsm), NVME_SUCCESS, "Dataset Management: deallocate blocks 8-11");
  memset(buf, 0xee, 16 * BLOCK);
  cmd = rw(io, 0, NVME_CMD_READ, lba, 16);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Read the 16 blocks back");
  uint8_t want[BLOCK];
  for (int b = 0; b < 16; b++) {
    bool zero = (b >= 2 && b <= 5) || (b >= 8 && b <= 11);
    pattern(io->seed, lba + b, want);
    if (zero ? !all_zero(buf + b * BLOCK, BLOCK) : memcmp(buf + b * BLOCK, want, BLOCK) != 0)
      FAIL("block %d after Write Zeroes and deallocate: expected %s", b, zero ? "zeroes" : "the pattern");
  }
  PASS("Write Zeroes and deallocated blocks read as zeroes, the others kept the pattern");

  start = ns->blocks - 2;
  memcpy(&range[2], &start, 8);
  EXPECT_STATUS(io_one(io, &dsm), NVME_LBA_OUT_OF_RANGE, "Dataset Management range past the end");
  cmd = rw(io, 0, NVME_CMD_READ, ns->blocks, 1);
  EXPECT_STATUS(io_one(io, &cmd), NVME_LBA_OUT_OF_RANGE, "Read at LBA NSZE");
  cmd = rw(io, 0, NVME_CMD_WRITE, ns->blocks - 1, 2);
  EXPECT_STATUS(io_one(io, &cmd), NVME_LBA_OUT_OF_RANGE, "Write of 2 blocks at LBA NSZE-1");
  zeroes.cdw10 = (uint32_t)ns->blocks;
  zeroes.cdw11 = (uint32_t)(ns->blocks >> 32);
  EXPECT_STATUS(io_one(io, &zeroes), NVME_LBA_OUT_OF_RANGE, "Write Zeroes at LBA NSZE");
  cmd = rw(io, 0, NVME_CMD_READ, 0, 1);
  cmd.nsid = 2;
  EXPECT_STATUS(io_one(io, &cmd), NVME_INVALID_NAMESPACE, "Read of namespace 2 (none)");
  cmd.nsid = 0;
  EXPECT_STATUS(io_one(io, &cmd), NVME_INVALID_NAMESPACE, "Read of namespace 0");
  cmd = rw(io, 0, NVME_CMD_READ, 0, 1);
  cmd.opcode = 0x7c;
  EXPECT_STATUS(io_one(io, &cmd), NVME_INVALID_OPCODE, "reserved I/O opcode 0x7c");
  cmd = rw(io, 0, NVME_CMD_READ, 0, 256);
  cmd.cdw12 = 1024; /* NLB is 0's based: 1025 blocks, above MDTS's 512 KiB */
  EXPECT_STATUS(io_one(io, &cmd), NVME_INVALID_FIELD, "Read of 1025 blocks, above MDTS");
}

/* Leaves "iommufd4j nvme_check <path> <seed>" at SIGNATURE_LBA, flushed. */
static void sign(struct io *io, const char *path) {
  struct nvme_cmd cmd = rw(io, 0, NVME_CMD_WRITE, SIGNATURE_LBA, 1);
  memset(io->slots[0].data, 0, BLOCK);
  snprintf((char *)io->slots[0].data, BLOCK, "iommufd4j nvme_check %s %llu", path, (unsigned long long)io->seed);
  EXPECT_STATUS(io_one(io, &cmd), NVME_SUCCESS, "Write the signature block");
  struct nvme_cmd flush = {.opcode = NVME_CMD_FLUSH, .cid = 1, .nsid = 1};
  EXPECT_STATUS(io_one(io, &flush), NVME_SUCCESS, "Flush");
}

int main(int argc, char **argv) {
  t_name = "nvme_check";
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || (strcmp(argv[1], "cdev") && strcmp(argv[1], "group"))) {
    fprintf(stderr, "usage: nvme_check cdev|group [seed]   (under ./run.sh exec --device nvme)\n");
    return 2;
  }
  enum nvme_path path = strcmp(argv[1], "cdev") == 0 ? NVME_CDEV : NVME_GROUP;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1234;
  rng = seed * 0x9e3779b97f4a7c15ull + 1;
  printf("nvme_check %s seed %llu\n", argv[1], (unsigned long long)seed);

  struct nvme_ctrl c;
  nvme_open(&c, path, 6 << 20);
  PASS("opened %s through the %s", c.bdf, path == NVME_CDEV ? "cdev and iommufd" : "group and container");
  bring_up(&c);
  struct ns ns = identify_all(&c);
  features(&c);
  queue_errors(&c);

  nvme_enable_msix(&c, 3);
  PASS("MSI-X vectors 0-2 on eventfds");
  struct nvme_queue polled, irq;
  EXPECT_STATUS(nvme_create_queue(&c, &polled, 1, 64, -1), NVME_SUCCESS, "Create I/O queue pair 1 (polled)");
  EXPECT_STATUS(nvme_create_queue(&c, &irq, 2, 64, 1), NVME_SUCCESS, "Create I/O queue pair 2 (MSI-X vector 1)");

  struct io io = {.c = &c, .q = &polled, .seed = seed};
  for (int s = 0; s < MAX_DEPTH; s++) {
    io.slots[s].data = nvme_alloc(&c, MAX_TRANSFER, NULL);
    io.slots[s].prp_list = nvme_alloc(&c, PAGE, NULL);
  }
  depth_test(&io, &ns, 1, 16, 0);
  depth_test(&io, &ns, 8, 64, 16 * 256);
  depth_test(&io, &ns, 32, 128, 80 * 256);
  io.q = &irq;
  depth_test(&io, &ns, 8, 32, 208 * 256);
  if (io.interrupts == 0) FAIL("queue 2 completed without an interrupt on vector 1");
  PASS("vector 1's eventfd signalled queue 2's completions");
  if (nvme_wait_irq(&c, 2, 0) != 0) FAIL("vector 2, which no queue uses, was signalled");
  PASS("vector 2, which no queue uses, stayed quiet");
  io.q = &polled;
  prp_shapes(&io);
  sgls(&io);
  data_commands(&io, &ns);
  sign(&io, argv[1]);

  EXPECT_STATUS(nvme_delete_queue(&c, &irq), NVME_SUCCESS, "Delete I/O queue pair 2");
  EXPECT_STATUS(nvme_delete_queue(&c, &polled), NVME_SUCCESS, "Delete I/O queue pair 1");
  if (!nvme_shutdown(&c)) FAIL("CSTS.SHST did not report complete (CSTS 0x%x)", nvme_read32(&c, NVME_REG_CSTS));
  PASS("shutdown: CSTS.SHST complete");
  if (!nvme_disable(&c)) FAIL("disable after shutdown");
  nvme_close(&c);
  printf("nvme_check %s: %d checks passed\n", argv[1], checks);
  return 0;
}
