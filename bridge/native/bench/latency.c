/*
 * Round-trip latency through the shim, next to the baselines that bound it:
 *
 *   getppid            a bare system call
 *   socket ping-pong   64 bytes to a forked echo process over a socketpair and back (what one
 *                      request/reply exchange of the protocol costs at least)
 *   trivial ioctl      IOMMU_OPTION GET RLIMIT_MODE (24-byte struct in, 8 bytes written back)
 *   map+unmap 4 KiB    IOMMU_IOAS_MAP at a fixed IOVA, then IOMMU_IOAS_UNMAP (no domain)
 *
 * Run it as `./run.sh exec -- bridge/target/native/bench/latency [iterations]`, and under
 * `taskset -c 0` for the one-core numbers (the server inherits the affinity from exec).
 * Prints, in microseconds, the median and 99th percentile of single calls, their mean, and the
 * median over batches of 200 consecutive calls of the batch's mean (issue 17's "mean cost per call
 * in a tight loop"): a tail of rare slow calls shows in the means, not in the median.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include "../tests/t.h"
#include "clock.h"

#define BATCH 200

static void report(const char *what, double *t, int n) {
  int batches = n / BATCH;
  double sum = 0, *batch_mean = malloc(sizeof(double) * (size_t)(batches > 0 ? batches : 1));
  CHECK(batch_mean != NULL);
  for (int k = 0; k < batches; k++) {
    double b = 0;
    for (int i = 0; i < BATCH; i++) b += t[k * BATCH + i];
    batch_mean[k] = b / BATCH;
  }
  for (int i = 0; i < n; i++) sum += t[i];
  qsort(t, (size_t)n, sizeof *t, cmp_double);
  qsort(batch_mean, (size_t)batches, sizeof *batch_mean, cmp_double);
  printf("%-22s median %8.2f us   p99 %8.2f us   mean %8.2f us   batch-mean median %8.2f us\n", what, t[n / 2],
         t[(int)(n * 0.99)], sum / n, batches > 0 ? batch_mean[batches / 2] : 0.0);
  free(batch_mean);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20000;
  int warm = n / 10;
  double *t = malloc(sizeof(double) * (size_t)n);
  CHECK(t != NULL);

  for (int i = -warm; i < n; i++) {
    double a = clock_us(CLOCK_MONOTONIC);
    syscall(SYS_getppid);
    if (i >= 0) t[i] = clock_us(CLOCK_MONOTONIC) - a;
  }
  report("getppid", t, n);

  int sv[2];
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  pid_t echo = fork();
  CHECK(echo >= 0);
  if (echo == 0) {
    char buf[64];
    close(sv[0]);
    while (read(sv[1], buf, sizeof buf) == sizeof buf)
      if (write(sv[1], buf, sizeof buf) != sizeof buf) break;
    _exit(0);
  }
  close(sv[1]);
  char msg[64] = {0};
  for (int i = -warm; i < n; i++) {
    double a = clock_us(CLOCK_MONOTONIC);
    CHECK(write(sv[0], msg, sizeof msg) == sizeof msg);
    CHECK(read(sv[0], msg, sizeof msg) == sizeof msg);
    if (i >= 0) t[i] = clock_us(CLOCK_MONOTONIC) - a;
  }
  close(sv[0]);
  waitpid(echo, NULL, 0);
  report("socket ping-pong 64 B", t, n);

  int fd = open("/dev/iommu", O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "open(/dev/iommu): %s (run it through ./run.sh exec)\n", strerror(errno));
    return 1;
  }
  uint32_t ioas = t_ioas_alloc(fd);
  struct iommu_option o = {.size = sizeof o, .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET};
  for (int round = 0; round < 2; round++) {
    for (int i = -warm; i < n; i++) {
      double a = clock_us(CLOCK_MONOTONIC);
      CHECK_OK(ioctl(fd, IOMMU_OPTION, &o));
      if (i >= 0) t[i] = clock_us(CLOCK_MONOTONIC) - a;
    }
    report(round == 0 ? "trivial ioctl (first)" : "trivial ioctl", t, n);
  }

  char *buf = t_buffer(4096);
  for (int i = -warm; i < n; i++) {
    uint64_t iova = 0x100000;
    double a = clock_us(CLOCK_MONOTONIC);
    CHECK_OK(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
    CHECK(t_unmap(fd, ioas, iova, 4096) == 4096);
    if (i >= 0) t[i] = clock_us(CLOCK_MONOTONIC) - a;
  }
  report("map+unmap 4 KiB", t, n);
  close(fd);
  return 0;
}
