/*
 * Pinned pages are the pages themselves, as with the kernel's page references: after a pin, an
 * access reads the pinned pages even once the program unmapped or replaced them, and after the
 * program that pinned them was killed with SIGKILL; a thread writing while its pages are made
 * shared loses no write; a fork child gets its own copy of pinned pages. With IOMMUFD4J_SHARE=0
 * (pages read where they are mapped now) only what holds on that path is checked.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "t.h"

enum { TEST_OP_DESTROY_ACCESS_PAGES = 6, TEST_OP_ACCESS_PAGES = 7 };
#define MOCK_ACCESS_RW_SLOW_PATH (1u << 2)
#define MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES (1u << 0)
#define PAGE 4096

struct access_pages {
  uint32_t flags, out_access_pages_id;
  uint64_t iova, length, uptr;
};

static int sharing;

/* ACCESS_PAGES: pins [iova, iova + length) for the access; its pages id, or -1 (errno). */
static long pin(int fd, uint32_t access_fd, uint64_t iova, uint64_t length) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_ACCESS_PAGES, .id = access_fd};
  struct access_pages *p = (struct access_pages *)c.bytes;
  p->iova = iova;
  p->length = length;
  if (ioctl(fd, IOMMU_TEST_CMD, &c) != 0) return -1;
  return p->out_access_pages_id;
}

static int unpin(int fd, uint32_t access_fd, uint32_t pages_id) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_DESTROY_ACCESS_PAGES, .id = access_fd};
  memcpy(c.bytes, &pages_id, sizeof pages_id);
  return ioctl(fd, IOMMU_TEST_CMD, &c);
}

/* ACCESS_RW read on the slow path, which the kernel serves from the pinned pages. */
static int access_read(int fd, uint32_t access_fd, uint64_t iova, void *buf, uint64_t length) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_ACCESS_RW, .id = access_fd};
  c.access_rw.iova = iova;
  c.access_rw.length = length;
  c.access_rw.uptr = (uintptr_t)buf;
  c.access_rw.flags = MOCK_ACCESS_RW_SLOW_PATH;
  return ioctl(fd, IOMMU_TEST_CMD, &c);
}

static uint32_t new_access(int fd, uint32_t ioas) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_CREATE_ACCESS, .id = ioas};
  c.create_access.flags = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;
  CHECK_OK(ioctl(fd, IOMMU_TEST_CMD, &c));
  return c.create_access.out_access_fd;
}

/* A child maps its own buffer through the inherited descriptor, pins it through an access and is
   killed with SIGKILL: the access still reads the pages as they were at its death; once unpinned,
   nothing of the child can be pinned again. */
static void killed_child(int fd) {
  uint32_t ioas = t_ioas_alloc(fd);
  uint32_t access = new_access(fd, ioas);
  int to_parent[2];
  CHECK_OK(pipe(to_parent));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    t_name = "t_share killed child";
    char *mine = t_buffer(4 * PAGE);
    uint64_t iova = MOCK_APERTURE_START;
    CHECK_OK(t_map(fd, ioas, mine, 4 * PAGE, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
    long id = pin(fd, access, iova, 4 * PAGE);
    CHECK(id >= 0);
    for (int i = 0; i < 4 * PAGE; i++) mine[i] = (char)(i * 7 + 1); /* after the pin */
    uint32_t sent = (uint32_t)id;
    CHECK(write(to_parent[1], &sent, sizeof sent) == sizeof sent);
    for (;;) pause();
  }
  CHECK_OK(close(to_parent[1]));
  uint32_t pages_id;
  CHECK(read(to_parent[0], &pages_id, sizeof pages_id) == sizeof pages_id); /* else it failed */
  CHECK_OK(kill(pid, SIGKILL));
  int status;
  CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
  char got[4 * PAGE];
  if (sharing) {
    CHECK_OK(access_read(fd, access, MOCK_APERTURE_START, got, sizeof got));
    for (int i = 0; i < 4 * PAGE; i++)
      if (got[i] != (char)(i * 7 + 1)) FAIL("byte %d of the killed child's pinned pages is %d", i, got[i]);
  }
  CHECK_OK(unpin(fd, access, pages_id));
  CHECK(pin(fd, access, MOCK_APERTURE_START, 4 * PAGE) == -1 && errno == EFAULT);
  CHECK(t_unmap(fd, ioas, MOCK_APERTURE_START, 4 * PAGE) == 4 * PAGE);
  CHECK_OK(close((int)access));
  CHECK_OK(close(to_parent[0]));
}

/* munmap, and a new mapping at the same address, leave the pinned pages what the device sees. */
static void unmapped_while_pinned(int fd) {
  uint32_t ioas = t_ioas_alloc(fd);
  uint32_t access = new_access(fd, ioas);
  char *buf = t_buffer(2 * PAGE);
  uint64_t iova = MOCK_APERTURE_START;
  CHECK_OK(t_map(fd, ioas, buf, 2 * PAGE, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  long id = pin(fd, access, iova, 2 * PAGE);
  CHECK(id >= 0);
  strcpy(buf + PAGE - 3, "pinned");
  CHECK_OK(munmap(buf, 2 * PAGE));
  char got[7] = {0};
  if (sharing) {
    CHECK_OK(access_read(fd, access, iova + PAGE - 3, got, 7));
    CHECK(strcmp(got, "pinned") == 0);
  } else {
    CHECK_ERRNO(access_read(fd, access, iova + PAGE - 3, got, 7), EFAULT);
  }
  char *again = mmap(buf, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  CHECK(again == buf);
  strcpy(again + PAGE - 3, "remapped");
  CHECK_OK(access_read(fd, access, iova + PAGE - 3, got, 7));
  CHECK(strncmp(got, sharing ? "pinned" : "remapp", 6) == 0);
  CHECK_OK(unpin(fd, access, (uint32_t)id)); /* nothing pins the old pages: the address counts */
  CHECK_OK(access_read(fd, access, iova + PAGE - 3, got, 7));
  CHECK(strncmp(got, "remapp", 6) == 0);
  CHECK(t_unmap(fd, ioas, iova, 2 * PAGE) == 2 * PAGE);
  CHECK_OK(close((int)access));
  CHECK_OK(munmap(again, 2 * PAGE));
}

/* A program's own MAP_SHARED mapping of a memfd, pinned: the pins hold the file's pages, so they
   see what the program writes there, through the mapping or the file, even once it unmapped it. */
static void program_memfd_pinned(int fd) {
  uint32_t ioas = t_ioas_alloc(fd);
  uint32_t access = new_access(fd, ioas);
  int file = memfd_create("t_share program memfd", MFD_CLOEXEC);
  CHECK(file >= 0);
  CHECK_OK(ftruncate(file, 4 * PAGE));
  char *buf = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file, PAGE); /* at an offset */
  CHECK(buf != MAP_FAILED);
  uint64_t iova = MOCK_APERTURE_START;
  CHECK_OK(t_map(fd, ioas, buf, 3 * PAGE, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  long id = pin(fd, access, iova, 3 * PAGE);
  CHECK(id >= 0);
  strcpy(buf + 2 * PAGE - 3, "mapped"); /* after the pin, across a page boundary */
  char got[9] = {0};
  CHECK_OK(access_read(fd, access, iova + 2 * PAGE - 3, got, 7));
  CHECK(strcmp(got, "mapped") == 0);
  CHECK_OK(munmap(buf, 3 * PAGE));
  CHECK(pwrite(file, "file", 5, 3 * PAGE - 3) == 5); /* the pinned range's 2 * PAGE - 3 */
  if (sharing) {
    CHECK_OK(access_read(fd, access, iova + 2 * PAGE - 3, got, 5));
    CHECK(strcmp(got, "file") == 0);
  } else {
    CHECK_ERRNO(access_read(fd, access, iova + 2 * PAGE - 3, got, 5), EFAULT);
  }
  /* The file shrinks under the pins: the kernel's pins keep the cut pages, the server's mapping of
     the file faults there; either way the access answers, and the server lives on. */
  CHECK_OK(ftruncate(file, PAGE));
  int r = access_read(fd, access, iova + 2 * PAGE - 3, got, 5);
  CHECK(r == 0 || errno == EFAULT);
  CHECK_OK(ftruncate(file, 4 * PAGE));
  CHECK_OK(unpin(fd, access, (uint32_t)id));
  CHECK(t_unmap(fd, ioas, iova, 3 * PAGE) == 3 * PAGE);
  CHECK_OK(close((int)access));
  CHECK_OK(close(file));
}

struct writer {
  volatile uint64_t *slots;
  size_t count;
  uint64_t *last; /* what was written last into each slot, kept outside the buffer */
  atomic_int stop;
  atomic_ulong writes;
};

static void *write_all_the_time(void *arg) {
  struct writer *w = arg;
  for (uint64_t v = 1; !atomic_load(&w->stop); v++) {
    size_t s = (size_t)(v * 2654435761u) % w->count;
    w->slots[s] = v;
    w->last[s] = v;
    atomic_fetch_add(&w->writes, 1);
  }
  return NULL;
}

/* Threads that write all over a buffer while a MAP under a domain pins it (and the shim makes it
   shared, in steps of 64 MiB): every write lands, and the pinned pages are the buffer's. */
static void writers_during_the_pin(int fd) {
  uint32_t ioas = t_ioas_alloc(fd);
  if (t_mock_domain(fd, ioas) == 0) FAIL("no mock domain");
  uint32_t access = new_access(fd, ioas);
  size_t length = (72UL << 20) + 3 * PAGE;
  struct rlimit unlimited = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_MEMLOCK, &unlimited); /* where allowed; else a smaller buffer below */
  for (int attempt = 0; attempt < 2; attempt++, length = 1UL << 20) {
    char *buf = t_buffer(length);
    enum { WRITERS = 3 };
    struct writer w[WRITERS];
    pthread_t threads[WRITERS];
    size_t part = length / WRITERS / sizeof(uint64_t);
    for (int k = 0; k < WRITERS; k++) {
      w[k].slots = (volatile uint64_t *)buf + k * part;
      w[k].count = part;
      w[k].last = calloc(part, sizeof(uint64_t));
      CHECK(w[k].last != NULL);
      for (size_t s = 0; s < part; s++) w[k].last[s] = 0xa5a5a5a5a5a5a5a5ULL; /* t_buffer's bytes */
      atomic_init(&w[k].stop, 0);
      atomic_init(&w[k].writes, 0);
      CHECK(pthread_create(&threads[k], NULL, write_all_the_time, &w[k]) == 0);
    }
    while (atomic_load(&w[WRITERS - 1].writes) < 1000) sched_yield();
    uint64_t iova = MOCK_APERTURE_START;
    int mapped = t_map(fd, ioas, buf, length, &iova, IOMMU_IOAS_MAP_FIXED_IOVA);
    int err = errno;
    unsigned long before = atomic_load(&w[0].writes);
    while (mapped == 0 && atomic_load(&w[0].writes) < before + 1000) sched_yield();
    for (int k = 0; k < WRITERS; k++) {
      atomic_store(&w[k].stop, 1);
      CHECK(pthread_join(threads[k], NULL) == 0);
    }
    if (mapped != 0 && err == ENOMEM && attempt == 0) { /* RLIMIT_MEMLOCK: try a smaller one */
      for (int k = 0; k < WRITERS; k++) free(w[k].last);
      CHECK_OK(munmap(buf, length));
      continue;
    }
    errno = err;
    CHECK(mapped == 0);
    for (int k = 0; k < WRITERS; k++) {
      for (size_t s = 0; s < part; s++)
        if (w[k].slots[s] != w[k].last[s])
          FAIL("writer %d: slot %zu holds %llu, the last write was %llu", k, s, (unsigned long long)w[k].slots[s],
               (unsigned long long)w[k].last[s]);
      uint64_t seen[8];
      size_t s = part / 2 & ~(size_t)7;
      CHECK_OK(access_read(fd, access, iova + (uint64_t)((char *)&w[k].slots[s] - buf), seen, sizeof seen));
      CHECK(memcmp(seen, (const void *)&w[k].slots[s], sizeof seen) == 0);
      free(w[k].last);
    }
    CHECK(t_unmap(fd, ioas, iova, length) == (long long)length);
    CHECK_OK(munmap(buf, length));
    break;
  }
  CHECK_OK(close((int)access));
}

/* A fork child's pinned pages are its own copy, as the kernel copies pinned anonymous pages for
   the child: neither side sees the other's writes, and the pinned pages stay the parent's. */
static void forked_while_pinned(int fd) {
  uint32_t ioas = t_ioas_alloc(fd);
  if (t_mock_domain(fd, ioas) == 0) FAIL("no mock domain");
  uint32_t access = new_access(fd, ioas);
  char *buf = t_buffer(3 * PAGE);
  uint64_t iova = MOCK_APERTURE_START;
  CHECK_OK(t_map(fd, ioas, buf, 3 * PAGE, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  strcpy(buf + PAGE, "before the fork");
  int go[2], done[2];
  CHECK_OK(pipe(go));
  CHECK_OK(pipe(done));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    t_name = "t_share fork child";
    char c;
    CHECK(strcmp(buf + PAGE, "before the fork") == 0);
    strcpy(buf + PAGE, "the child's");
    CHECK(write(done[1], "x", 1) == 1);
    CHECK(read(go[0], &c, 1) == 1); /* the parent has written its own */
    CHECK(strcmp(buf + PAGE, "the child's") == 0);
    _exit(0);
  }
  char c;
  CHECK(read(done[0], &c, 1) == 1); /* the child has written */
  CHECK(strcmp(buf + PAGE, "before the fork") == 0);
  strcpy(buf + PAGE, "the parent's");
  CHECK(write(go[1], "x", 1) == 1);
  t_wait_ok(pid);
  char got[16] = {0};
  CHECK_OK(access_read(fd, access, iova + PAGE, got, 13));
  CHECK(strcmp(got, "the parent's") == 0);
  CHECK(t_unmap(fd, ioas, iova, 3 * PAGE) == 3 * PAGE);
  CHECK_OK(close((int)access));
  for (int i = 0; i < 2; i++) {
    close(go[i]);
    close(done[i]);
  }
}

/* --hold LENGTH: a buffer of LENGTH bytes mapped under a mock domain (so pinned, and shared unless
   IOMMUFD4J_SHARE=0); prints its address, then answers each line on stdin with the sum of its
   bytes, until end of input. DmaIntoPinnedPagesIT writes it from the server. */
static int hold(size_t length) {
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  if (t_mock_domain(fd, ioas) == 0) FAIL("no mock domain");
  unsigned char *buf = t_buffer(length);
  uint64_t iova = MOCK_APERTURE_START;
  CHECK_OK(t_map(fd, ioas, buf, length, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  printf("%p\n", (void *)buf);
  fflush(stdout);
  char line[16];
  while (fgets(line, sizeof line, stdin)) {
    unsigned long long sum = 0;
    for (size_t i = 0; i < length; i++) sum += buf[i];
    printf("%llu\n", sum);
    fflush(stdout);
  }
  CHECK(t_unmap(fd, ioas, iova, length) == (long long)length);
  CHECK_OK(close(fd));
  return 0;
}

int main(int argc, char **argv) {
  t_name = "t_share";
  if (argc == 3 && strcmp(argv[1], "--hold") == 0) return hold(strtoul(argv[2], NULL, 0));
  const char *share = getenv("IOMMUFD4J_SHARE");
  sharing = !(share && strcmp(share, "0") == 0);
  int fd = t_open();
  struct iommu_test_cmd probe = {.size = sizeof probe, .op = TEST_OP_MOCK_DOMAIN, .id = t_ioas_alloc(fd)};
  if (ioctl(fd, IOMMU_TEST_CMD, &probe) != 0) {
    printf("t_share: skipped: no test ABI\n");
    return 77;
  }
  killed_child(fd);
  unmapped_while_pinned(fd);
  program_memfd_pinned(fd);
  writers_during_the_pin(fd);
  forked_while_pinned(fd);
  CHECK_OK(close(fd));
  printf("t_share: ok\n");
  return 0;
}
