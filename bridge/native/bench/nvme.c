/*
 * Throughput and latency of an emulated NVMe controller (issue 14) from a C driver polling its
 * completions (tests/nvme/nvme.h), through the shim:
 *
 *   fill 128K seq write   sequential 128 KiB writes over the test area (which the reads then find
 *                         written: a file-backed namespace is not read as holes)
 *   4K rand read QD1      one 4 KiB read at a time at random 4 KiB-aligned offsets
 *   4K rand read QD32     the same with 32 in flight
 *   128K seq read QD32    sequential 128 KiB reads, 32 in flight
 *
 * Each line gives IOPS, MB/s, the mean and 99th percentile of a command's latency (submission to
 * its completion being seen), the CPU time per command of this process and of the server (when it
 * is this program's parent, as under `exec`; -1 otherwise), which a loaded machine disturbs less
 * than the wall clock, and doorbell writes per command. Submissions are batched as NVMe allows:
 * every free slot is filled, then one SQ tail doorbell write; every posted completion is taken, and
 * the CQ head doorbell written only when the CQ could otherwise fill. The driver polls the completion queue (yielding
 * the CPU between empty polls, as the server needs it). Every read is checked: each 4 KiB block of the area holds its
 * own block number, written by the fill.
 *
 * Then the costs that bound it, measured alone: a doorbell write (a store into the mmap'd BAR0,
 * trapped by the shim and sent to the server) and a register load; the server's CPU per command
 * split into a fixed part and a part per 4 KiB page (from the two QD32 read lines); and the
 * server's CPU while the controller sits enabled with no I/O for 4 s (after 2 s of settling).
 *
 * Usage: ./run.sh exec --device nvme[,backing=FILE,size=N] -- bridge/target/native/bench/nvme
 *        [seconds per test, default 3] [cdev|group, default cdev] [area MiB, default 32]
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdbool.h>

#include "../tests/nvme/nvme.h"
#include "../tests/t.h"
#include "clock.h"

#define PAGE 4096u
#define BLOCK 512u
#define DEPTH 32
#define QUEUE_ENTRIES 256 /* well above DEPTH: CQ head writes can wait (see run) */
#define MAX_SAMPLES 4000000

enum pattern { SEQUENTIAL, RANDOM };

struct job {
  const char *name;
  uint8_t opcode;
  enum pattern pattern;
  uint32_t bytes; /* per command */
  int depth;
};

struct bench {
  struct nvme_ctrl c;
  struct nvme_queue q;
  uint8_t *data[DEPTH];
  uint64_t *prp_list[DEPTH];
  uint64_t area_blocks; /* in 512-byte blocks */
  double seconds;
  double *latency; /* microseconds, one per command */
  uint64_t rng;
};

static uint64_t next_random(struct bench *b) {
  b->rng ^= b->rng >> 12;
  b->rng ^= b->rng << 25;
  b->rng ^= b->rng >> 27;
  return b->rng * 0x2545f4914f6cdd1dull;
}

/* Each 4 KiB block of the area starts with its own index, which the fill writes. */
static void stamp(uint8_t *data, uint32_t bytes, uint64_t lba) {
  for (uint32_t at = 0; at < bytes; at += PAGE) {
    uint64_t index = (lba * BLOCK + at) / PAGE;
    memcpy(data + at, &index, sizeof index);
  }
}

static void check_stamps(const uint8_t *data, uint32_t bytes, uint64_t lba) {
  for (uint32_t at = 0; at < bytes; at += PAGE) {
    uint64_t index = (lba * BLOCK + at) / PAGE, got;
    memcpy(&got, data + at, sizeof got);
    if (got != index)
      FAIL("read of 4 KiB block %llu found block %llu's data", (unsigned long long)index, (unsigned long long)got);
  }
}

/* CPU time of the server in microseconds, if this program's parent is the server (`exec` runs
 * PROGRAM as its child); -1 otherwise. From /proc/PID/stat: utime and stime, all its threads. */
static double server_cpu_us(void) {
  char path[64], comm[64] = {0}, stat[1024];
  snprintf(path, sizeof path, "/proc/%d/comm", (int)getppid());
  FILE *f = fopen(path, "r");
  bool java = f && fgets(comm, sizeof comm, f) && strncmp(comm, "java", 4) == 0;
  if (f) fclose(f);
  snprintf(path, sizeof path, "/proc/%d/stat", (int)getppid());
  if (!java || !(f = fopen(path, "r"))) return -1;
  size_t n = fread(stat, 1, sizeof stat - 1, f);
  fclose(f);
  stat[n] = 0;
  char *after_comm = strrchr(stat, ')');
  unsigned long long utime, stime;
  /* after ") ": state, then fields 4-13, then utime (14) and stime (15) */
  if (!after_comm ||
      sscanf(after_comm + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
    return -1;
  return (double)(utime + stime) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/* Runs the job for the bench's time (the fill: once over the area) and prints its line; returns the
 * server's CPU microseconds per command (-1 if unknown). */
static double run(struct bench *b, const struct job *j) {
  uint32_t blocks = j->bytes / BLOCK;
  uint64_t slots_in_area = b->area_blocks / blocks, next_seq = 0;
  bool once = j->opcode == NVME_CMD_WRITE;
  double submitted_at[DEPTH], start = clock_us(CLOCK_MONOTONIC), end = start + b->seconds * 1e6;
  double cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID), server = server_cpu_us();
  uint64_t lba_of[DEPTH], done = 0, doorbells = 0;
  int in_flight = 0, unreleased = 0;
  bool busy[DEPTH] = {0};
  for (;;) {
    double now = clock_us(CLOCK_MONOTONIC);
    bool more = once ? next_seq < slots_in_area : now < end;
    int batch = 0;
    for (int s = 0; more && s < j->depth; s++) {
      if (busy[s] || (once && next_seq >= slots_in_area)) continue;
      uint64_t slot = j->pattern == SEQUENTIAL ? next_seq++ % slots_in_area : next_random(b) % slots_in_area;
      lba_of[s] = slot * blocks;
      if (j->opcode == NVME_CMD_WRITE) stamp(b->data[s], j->bytes, lba_of[s]);
      struct nvme_cmd cmd = {.opcode = j->opcode,
                             .cid = (uint16_t)s,
                             .nsid = 1,
                             .cdw10 = (uint32_t)lba_of[s],
                             .cdw11 = (uint32_t)(lba_of[s] >> 32),
                             .cdw12 = blocks - 1};
      nvme_set_prps(&b->c, &cmd, b->data[s], j->bytes, b->prp_list[s]);
      nvme_submit(&b->q, &cmd);
      submitted_at[s] = now;
      busy[s] = true;
      in_flight++;
      batch++;
    }
    if (batch) {
      nvme_ring(&b->q);
      doorbells++;
    }
    if (in_flight == 0) break;
    struct nvme_cqe e;
    while (!nvme_reap(&b->q, &e)) sched_yield();
    double seen = clock_us(CLOCK_MONOTONIC);
    do {
      if (e.cid >= DEPTH || !busy[e.cid]) FAIL("completion for cid %u, which is not in flight", e.cid);
      if (nvme_status(&e) != NVME_SUCCESS) FAIL("%s: status 0x%03x", j->name, nvme_status(&e));
      if (j->opcode == NVME_CMD_READ) check_stamps(b->data[e.cid], j->bytes, lba_of[e.cid]);
      busy[e.cid] = false;
      in_flight--;
      if (done < MAX_SAMPLES) b->latency[done] = seen - submitted_at[e.cid];
      done++;
      unreleased++;
    } while (nvme_reap(&b->q, &e));
    /* The CQ head doorbell only when the entries not yet returned plus those that may still come
     * could fill the CQ (NVMe lets the host return entries late), or at the end. */
    if (unreleased + j->depth >= QUEUE_ENTRIES - 1 || in_flight == 0) {
      nvme_release(&b->q);
      doorbells++;
      unreleased = 0;
    }
  }
  double wall = (clock_us(CLOCK_MONOTONIC) - start) / 1e6;
  cpu = (clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu) / (double)done;
  server = server < 0 ? -1 : (server_cpu_us() - server) / (double)done;
  size_t n = done < MAX_SAMPLES ? done : MAX_SAMPLES;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += b->latency[i];
  qsort(b->latency, n, sizeof *b->latency, cmp_double);
  printf(
      "%-20s %8.0f IOPS %8.1f MB/s  mean %8.1f  p99 %8.1f us  cpu %6.1f + server %6.1f us/cmd  doorbells "
      "%.2f/cmd\n",
      j->name, done / wall, done * (double)j->bytes / wall / 1e6, sum / n, b->latency[(size_t)(n * 0.99)], cpu, server,
      (double)doorbells / done);
  return server;
}

/* Mean microseconds of n calls of op, after a tenth of them as warm-up. */
static double time_op(struct bench *b, int n, void (*op)(struct bench *)) {
  for (int i = 0; i < n / 10; i++) op(b);
  double t = clock_us(CLOCK_MONOTONIC);
  for (int i = 0; i < n; i++) op(b);
  return (clock_us(CLOCK_MONOTONIC) - t) / n;
}

/* The CQ head doorbell with the head it already has: a valid write that changes nothing. */
static void doorbell_op(struct bench *b) { nvme_release(&b->q); }

static void csts_op(struct bench *b) {
  if (!(nvme_read32(&b->c, NVME_REG_CSTS) & NVME_CSTS_RDY)) FAIL("controller not ready");
}

int main(int argc, char **argv) {
  t_name = "bench/nvme";
  setvbuf(stdout, NULL, _IOLBF, 0);
  struct bench *b = calloc(1, sizeof *b);
  CHECK(b != NULL);
  b->seconds = argc > 1 ? atof(argv[1]) : 3;
  enum nvme_path path = argc > 2 && strcmp(argv[2], "group") == 0 ? NVME_GROUP : NVME_CDEV;
  uint64_t area_mib = argc > 3 ? strtoull(argv[3], NULL, 0) : 32;
  CHECK(b->seconds > 0 && area_mib > 0);
  b->latency = malloc(sizeof(double) * MAX_SAMPLES);
  CHECK(b->latency != NULL);
  b->rng = 0x9e3779b97f4a7c15ull;

  nvme_open(&b->c, path, DEPTH * (128 * 1024 + PAGE) + 64 * PAGE);
  if (!nvme_enable(&b->c, 32)) FAIL("the controller did not become ready");
  uint64_t iova;
  uint8_t *id = nvme_alloc(&b->c, PAGE, &iova);
  struct nvme_cmd identify = {.opcode = NVME_ADMIN_IDENTIFY, .nsid = 1, .prp1 = iova};
  if (nvme_admin(&b->c, &identify, NULL) != NVME_SUCCESS) FAIL("Identify namespace failed");
  uint64_t nsze;
  memcpy(&nsze, id, sizeof nsze);
  b->area_blocks = area_mib * (1 << 20) / BLOCK;
  if (b->area_blocks > nsze) b->area_blocks = nsze;
  int status = nvme_create_queue(&b->c, &b->q, 1, QUEUE_ENTRIES, -1);
  if (status != NVME_SUCCESS) FAIL("Create I/O queue pair: status 0x%03x", status);
  for (int s = 0; s < DEPTH; s++) {
    b->data[s] = nvme_alloc(&b->c, 128 * 1024, NULL);
    b->prp_list[s] = nvme_alloc(&b->c, PAGE, NULL);
  }
  printf("nvme bench: %s through the %s, %llu MiB area of a %llu MiB namespace, %.1f s per test\n", b->c.bdf,
         path == NVME_CDEV ? "cdev" : "group", (unsigned long long)(b->area_blocks * BLOCK >> 20),
         (unsigned long long)(nsze * BLOCK >> 20), b->seconds);

  const struct job jobs[] = {
      {"fill 128K seq write", NVME_CMD_WRITE, SEQUENTIAL, 128 * 1024, DEPTH},
      {"4K rand read QD1", NVME_CMD_READ, RANDOM, 4096, 1},
      {"4K rand read QD32", NVME_CMD_READ, RANDOM, 4096, DEPTH},
      {"128K seq read QD32", NVME_CMD_READ, SEQUENTIAL, 128 * 1024, DEPTH},
  };
  double server[sizeof jobs / sizeof jobs[0]];
  for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) server[i] = run(b, &jobs[i]);

  printf("where the time goes: doorbell write %.1f us, register load %.1f us (each a trapped MMIO round trip)\n",
         time_op(b, 2000, doorbell_op), time_op(b, 2000, csts_op));
  if (server[2] >= 0 && server[3] >= 0) { /* 4K and 128K reads at QD32: 1 and 32 pages a command */
    double per_page = (server[3] - server[2]) / 31;
    printf("server CPU: %.1f us per command + %.1f us per 4 KiB page of data (from the QD32 read lines)\n",
           server[2] - per_page, per_page);
  }
  if (server_cpu_us() >= 0) { /* an idle controller, enabled with a queue pair, should cost nothing */
    sleep(2);                 /* first let the server's JIT finish what the runs gave it */
    double before = server_cpu_us();
    sleep(4);
    printf("idle: the server used %.2f %% of a CPU over 4 s (controller enabled, no I/O)\n",
           (server_cpu_us() - before) / 4e6 * 100);
  }
  if (nvme_delete_queue(&b->c, &b->q) != NVME_SUCCESS) FAIL("Delete I/O queue pair");
  if (!nvme_shutdown(&b->c)) FAIL("shutdown did not complete");
  nvme_close(&b->c);
  return 0;
}
