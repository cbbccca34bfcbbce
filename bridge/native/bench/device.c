/*
 * Latency of an emulated VFIO device's paths through the shim (issue 13), next to the baselines
 * that bound them, all in one run:
 *
 *   getppid              a bare system call
 *   trivial ioctl        IOMMU_OPTION GET RLIMIT_MODE on /dev/iommu (one request/reply exchange)
 *   pread id             4 bytes of edu's id register (BAR0 0x00) through the device fd
 *   mmio load id         a 4-byte load of the same register through the mmap'd BAR0 (trapped)
 *   mmio store liveness  a 4-byte store to the liveness register (0x04) through the BAR0 mapping
 *   irq raise->read      a store to edu's raise-irq register (0x60) until read(eventfd) returns
 *                        (MSI vector 0 on that eventfd; the ack at 0x64 follows, outside the
 *                        wall-clock timing but inside the CPU column)
 *   irq loopback->read   VFIO_DEVICE_SET_IRQS MSI TRIGGER DATA_NONE until read(eventfd) returns
 *   irq factorial->read  a store of n to edu's factorial register (0x08), with the interrupt on
 *                        completion enabled, until read(eventfd) returns: the model raises it
 *                        from its clock's thread, not from the store's call (ack not timed)
 *   nvme doorbell->cqe   with an NVMe controller too: an admin Get Features rung with a plain
 *                        store into BAR0's doorbell page (shared memory, no trap) until its
 *                        completion is in memory: the store seen by the model's poller, the
 *                        clock thread's fetch by DMA, the completion written by DMA (a command
 *                        round trip; the CQ head store after it is not timed)
 *   nvme pwrite->cqe     the same with both doorbells rung by pwrite(2) on the device fd, the
 *                        path a trapped store takes (for comparison, side by side)
 *
 * Run it as `./run.sh exec --device edu [--device nvme] -- bridge/target/native/bench/device
 * [iterations]`. Each
 * operation runs in batches of 100 after a warm-up; it prints the mean, median and 99th
 * percentile of the per-operation time of the batches in microseconds, and the process's CPU time
 * per operation (the program's own share: the server's is not in it), which a loaded machine
 * disturbs less than the wall clock.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>

#include "../tests/nvme_mini.h"
#include "../tests/t.h"
#include "clock.h"

enum {
  EDU_ID = 0x00,
  EDU_LIVENESS = 0x04,
  EDU_FACTORIAL = 0x08,
  EDU_STATUS = 0x20,
  EDU_IRQ_STATUS = 0x24,
  EDU_IRQ_RAISE = 0x60,
  EDU_IRQ_ACK = 0x64
};
#define EDU_ID_VALUE_MASK 0xffff
#define EDU_ID_VALUE 0x00ed
#define EDU_STATUS_IRQ_FACTORIAL 0x80
#define EDU_IRQ_FACTORIAL_VALUE 0x1
#define BATCH 100

/* One operation; after, when set, runs after each one outside the timing (run_single only). */
struct bench {
  const char *name;
  void (*op)(void *arg);
  void *arg;
  void (*after)(void *arg);
};

static void run(const struct bench *b, int n) {
  int batches = n / BATCH > 0 ? n / BATCH : 1;
  double *per_op = malloc(sizeof(double) * (size_t)batches);
  CHECK(per_op != NULL);
  for (int i = 0; i < n / 10; i++) b->op(b->arg);
  double cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID), sum = 0;
  for (int k = 0; k < batches; k++) {
    double a = clock_us(CLOCK_MONOTONIC);
    for (int i = 0; i < BATCH; i++) b->op(b->arg);
    per_op[k] = (clock_us(CLOCK_MONOTONIC) - a) / BATCH;
    sum += per_op[k];
  }
  cpu = (clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu) / ((double)batches * BATCH);
  qsort(per_op, (size_t)batches, sizeof *per_op, cmp_double);
  printf("%-20s mean %8.2f  median %8.2f  p99 %8.2f  cpu %7.2f us/op\n", b->name, sum / batches, per_op[batches / 2],
         per_op[(int)(batches * 0.99)], cpu);
  free(per_op);
}

/* Single operations need their own distribution: the interrupt paths are timed one by one. */
static void run_single(const struct bench *b, int n) {
  double *t = malloc(sizeof(double) * (size_t)n);
  CHECK(t != NULL);
  for (int i = 0; i < n / 10; i++) {
    b->op(b->arg);
    if (b->after) b->after(b->arg);
  }
  double cpu = clock_us(CLOCK_PROCESS_CPUTIME_ID), sum = 0;
  for (int i = 0; i < n; i++) {
    double a = clock_us(CLOCK_MONOTONIC);
    b->op(b->arg);
    t[i] = clock_us(CLOCK_MONOTONIC) - a;
    sum += t[i];
    if (b->after) b->after(b->arg);
  }
  cpu = (clock_us(CLOCK_PROCESS_CPUTIME_ID) - cpu) / n;
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  printf("%-20s mean %8.2f  median %8.2f  p99 %8.2f  cpu %7.2f us/op\n", b->name, sum / n, t[n / 2], t[(int)(n * 0.99)],
         cpu);
  free(t);
}

struct device {
  int fd;
  int iommufd;
  uint64_t bar0, config;
  volatile uint32_t *bar;
  int efd;
  struct iommu_option option;
};

static void getppid_op(void *arg) { syscall(SYS_getppid); }

static void nvme_command_op(void *arg) {
  struct nvme *n = arg;
  nvme_admin_submit(n, 0x0a, 0, 0, 0x07); /* Get Features, Number of Queues */
  if (nvme_admin_reap(n) != 0) FAIL("Get Features failed");
}

static void option_op(void *arg) {
  struct device *d = arg;
  CHECK_OK(ioctl(d->iommufd, IOMMU_OPTION, &d->option));
}

static void pread_op(void *arg) {
  struct device *d = arg;
  uint32_t v;
  CHECK(pread(d->fd, &v, 4, (off_t)d->bar0 + EDU_ID) == 4);
  CHECK((v & EDU_ID_VALUE_MASK) == EDU_ID_VALUE);
}

static void load_op(void *arg) {
  struct device *d = arg;
  CHECK((d->bar[EDU_ID / 4] & EDU_ID_VALUE_MASK) == EDU_ID_VALUE);
}

static void store_op(void *arg) {
  struct device *d = arg;
  d->bar[EDU_LIVENESS / 4] = 0x12345678;
}

static void wait_irq(struct device *d) {
  uint64_t count;
  CHECK(read(d->efd, &count, sizeof count) == sizeof count);
}

static void raise_op(void *arg) {
  struct device *d = arg;
  d->bar[EDU_IRQ_RAISE / 4] = 1;
  wait_irq(d);
}

static void ack_op(void *arg) {
  struct device *d = arg;
  d->bar[EDU_IRQ_ACK / 4] = 1;
}

static void factorial_op(void *arg) {
  struct device *d = arg;
  d->bar[EDU_FACTORIAL / 4] = 10;
  wait_irq(d);
}

static void ack_factorial_op(void *arg) {
  struct device *d = arg;
  d->bar[EDU_IRQ_ACK / 4] = EDU_IRQ_FACTORIAL_VALUE;
}

static long set_irqs(int fd, uint32_t flags, uint32_t count, const void *data, size_t size) {
  union {
    struct vfio_irq_set set;
    uint8_t bytes[sizeof(struct vfio_irq_set) + 8];
  } u = {.set = {.argsz = sizeof u.set + size, .flags = flags, .index = VFIO_PCI_MSI_IRQ_INDEX, .count = count}};
  if (size) memcpy(u.set.data, data, size);
  return ioctl(fd, VFIO_DEVICE_SET_IRQS, &u);
}

static void loopback_op(void *arg) {
  struct device *d = arg;
  CHECK_OK(set_irqs(d->fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, 1, NULL, 0));
  wait_irq(d);
}

/* The vfio cdev of the edu (1234:11e8) in sysfs, or exits. */
static void find_edu(char *cdev, size_t size) {
  if (t_vfio_cdev_find("device", "0x11e8", cdev, size) == 0) return;
  fprintf(stderr, "no edu device with a vfio-dev entry (run it under ./run.sh exec --device edu)\n");
  exit(1);
}

static void open_device(struct device *d) {
  char cdev[600];
  find_edu(cdev, sizeof cdev);
  d->fd = open(cdev, O_RDWR | O_CLOEXEC);
  CHECK(d->fd >= 0);
  d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
  CHECK(d->iommufd >= 0);
  t_vfio_cdev_attach(d->fd, d->iommufd);

  d->bar0 = t_vfio_region(d->fd, VFIO_PCI_BAR0_REGION_INDEX);
  d->config = t_vfio_region(d->fd, VFIO_PCI_CONFIG_REGION_INDEX);
  t_vfio_enable_memory_and_dma(d->fd, d->config);
  void *bar = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)d->bar0);
  CHECK(bar != MAP_FAILED);
  d->bar = bar;

  d->efd = eventfd(0, EFD_CLOEXEC);
  CHECK(d->efd >= 0);
  CHECK_OK(set_irqs(d->fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 1, &d->efd, sizeof d->efd));
  d->option =
      (struct iommu_option){.size = sizeof d->option, .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET};
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  CHECK(n >= 100);
  struct device d;
  open_device(&d);

  const struct bench batched[] = {
      {.name = "getppid", .op = getppid_op},
      {.name = "trivial ioctl", .op = option_op, .arg = &d},
      {.name = "pread id", .op = pread_op, .arg = &d},
      {.name = "mmio load id", .op = load_op, .arg = &d},
      {.name = "mmio store liveness", .op = store_op, .arg = &d},
  };
  for (size_t i = 0; i < sizeof batched / sizeof batched[0]; i++) run(&batched[i], n);

  /* Interrupts one at a time, each read (and the device's acknowledged) before the next. */
  int irqs = n / 10 > 100 ? n / 10 : 100;
  struct bench raise = {.name = "irq raise->read", .op = raise_op, .arg = &d, .after = ack_op};
  run_single(&raise, irqs);
  CHECK((d.bar[EDU_IRQ_STATUS / 4] & 1) == 0);
  struct bench loopback = {.name = "irq loopback->read", .op = loopback_op, .arg = &d};
  run_single(&loopback, irqs);
  d.bar[EDU_STATUS / 4] = EDU_STATUS_IRQ_FACTORIAL;
  struct bench factorial = {.name = "irq factorial->read", .op = factorial_op, .arg = &d, .after = ack_factorial_op};
  run_single(&factorial, irqs);

  char cdev[600];
  if (nvme_find(cdev, sizeof cdev) == 0) {
    struct nvme nvme;
    nvme_open(&nvme, cdev);
    nvme_enable(&nvme);
    struct bench doorbell = {.name = "nvme doorbell->cqe", .op = nvme_command_op, .arg = &nvme};
    run_single(&doorbell, irqs);
    nvme.pwrite_doorbells = true;
    struct bench pwritten = {.name = "nvme pwrite->cqe", .op = nvme_command_op, .arg = &nvme};
    run_single(&pwritten, irqs);
  }
  return 0;
}
