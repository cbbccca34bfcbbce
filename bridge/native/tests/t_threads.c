/*
 * Threads issuing ioctls at once: on one shared context and each on its own, every thread with
 * its own channel; then fork while threads are busy (the child's shim must not inherit their
 * half-used channels).
 */
#include <pthread.h>

#include "t.h"

#define THREADS 8
#define ROUNDS 150

static int shared;
static char *buffer;

static void *worker(void *arg) {
  long k = (long)arg;
  int own = t_open();
  for (int i = 0; i < ROUNDS; i++) {
    int fd = (i & 1) ? own : shared;
    struct iommu_ioas_alloc a = {.size = sizeof a};
    CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOC, &a));
    uint64_t iova = 0;
    CHECK_OK(t_map(fd, a.out_ioas_id, buffer + k * 4096, 4096, &iova, 0));
    uint64_t fixed = 0x10000000ULL + (uint64_t)k * 0x100000;
    CHECK_OK(t_map(fd, a.out_ioas_id, buffer, 8192, &fixed, IOMMU_IOAS_MAP_FIXED_IOVA));
    CHECK(t_unmap(fd, a.out_ioas_id, 0, UINT64_MAX) == 4096 + 8192);
    CHECK_OK(t_destroy(fd, a.out_ioas_id));
  }
  CHECK(t_ioas_alloc(own) == 1); /* everything this thread made on its own context is gone */
  CHECK_OK(close(own));
  return NULL;
}

int main(void) {
  t_name = "t_threads";
  shared = t_open();
  buffer = t_buffer(THREADS * 4096);
  pthread_t t[THREADS];
  for (long k = 0; k < THREADS; k++) CHECK(pthread_create(&t[k], NULL, worker, (void *)k) == 0);
  /* fork in the middle of it: the child uses the shared context through a channel of its own */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    uint32_t id = t_ioas_alloc(shared);
    CHECK_OK(t_destroy(shared, id));
    _exit(0);
  }
  for (int k = 0; k < THREADS; k++) CHECK(pthread_join(t[k], NULL) == 0);
  t_wait_ok(pid);
  CHECK(t_ioas_alloc(shared) == 1);
  CHECK_OK(close(shared));
  printf("t_threads: ok\n");
  return 0;
}
