/*
 * fork: the child shares the parent's context (one open file description), maps its own copy of
 * a buffer into it, and its exit does not end the context; a context the child opens is its own.
 */
#include <signal.h>

#include "t.h"

int main(void) {
  t_name = "t_fork";
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  char *buf = t_buffer(8 * 4096);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    t_name = "t_fork child";
    uint64_t iova = 0x200000;
    memset(buf, 0x5a, 8 * 4096); /* the child's pages now differ from the parent's */
    CHECK_OK(t_map(fd, ioas, buf, 8 * 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
    int own = t_open();
    CHECK(t_ioas_alloc(own) == 1);
    CHECK(t_ioas_alloc(fd) == ioas + 1);
    CHECK_OK(close(own));
    _exit(0);
  }
  t_wait_ok(pid);
  CHECK(t_unmap(fd, ioas, 0x200000, 8 * 4096) == 8 * 4096); /* the child's area */
  CHECK_OK(t_destroy(fd, ioas + 1));
  /* A child that issues ioctls while its parent does too. */
  pid_t kids[3];
  for (int k = 0; k < 3; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0);
    if (kids[k] == 0) {
      for (int i = 0; i < 200; i++) {
        uint64_t iova = 0x1000000ULL * (k + 1);
        CHECK_OK(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
        CHECK(t_unmap(fd, ioas, iova, 4096) == 4096);
      }
      _exit(0);
    }
  }
  for (int i = 0; i < 200; i++) {
    uint64_t iova = 0;
    CHECK_OK(t_map(fd, ioas, buf, 4096, &iova, 0));
    CHECK(t_unmap(fd, ioas, iova, 4096) == 4096);
  }
  for (int k = 0; k < 3; k++) t_wait_ok(kids[k]);
  CHECK(t_ioas_alloc(fd) == ioas + 1);

  /* Pinned pages outlive the process that pinned them: a child maps shared memory under a
     domain and exits; an access still reads the pages, and sees what the parent writes. */
  uint32_t gone = t_ioas_alloc(fd);
  char *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(shared != MAP_FAILED);
  struct iommu_test_cmd access = {.size = sizeof access, .op = TEST_OP_CREATE_ACCESS, .id = gone};
  if (t_mock_domain(fd, gone) != 0 && ioctl(fd, IOMMU_TEST_CMD, &access) == 0) {
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      uint64_t iova = MOCK_APERTURE_START;
      CHECK_OK(t_map(fd, gone, shared, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
      exit(0); /* exit(), not _exit(): the shim hands the pinned pages over */
    }
    t_wait_ok(pid);
    strcpy(shared, "written after the child is gone");
    char got[32] = {0};
    struct iommu_test_cmd rw = {.size = sizeof rw, .op = TEST_OP_ACCESS_RW, .id = access.create_access.out_access_fd};
    rw.access_rw.iova = MOCK_APERTURE_START;
    rw.access_rw.length = 31;
    rw.access_rw.uptr = (uintptr_t)got;
    CHECK_OK(ioctl(fd, IOMMU_TEST_CMD, &rw));
    CHECK(strcmp(got, "written after the child is gone") == 0);
    CHECK_OK(close((int)access.create_access.out_access_fd));
  }

  /* Only pinned pages outlive the process, and only while something pins them: a child maps a
     private buffer under a domain and calls exit(); an access reads the pages, but once the last
     domain is gone nothing holds them, so reading them again, or a new domain (which must pin
     them), is EFAULT, as the kernel cannot reach a gone process's memory. */
  uint32_t lone = t_ioas_alloc(fd);
  struct iommu_test_cmd md = {.size = sizeof md, .op = TEST_OP_MOCK_DOMAIN, .id = lone};
  struct iommu_test_cmd acc = {.size = sizeof acc, .op = TEST_OP_CREATE_ACCESS, .id = lone};
  if (ioctl(fd, IOMMU_TEST_CMD, &md) == 0 && ioctl(fd, IOMMU_TEST_CMD, &acc) == 0) {
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      char *mine = t_buffer(4096);
      memset(mine, 0x3c, 4096);
      uint64_t iova = MOCK_APERTURE_START;
      CHECK_OK(t_map(fd, lone, mine, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
      exit(0);
    }
    t_wait_ok(pid);
    char got[16] = {0};
    struct iommu_test_cmd rw = {.size = sizeof rw, .op = TEST_OP_ACCESS_RW, .id = acc.create_access.out_access_fd};
    rw.access_rw.iova = MOCK_APERTURE_START;
    rw.access_rw.length = sizeof got;
    rw.access_rw.uptr = (uintptr_t)got;
    CHECK_OK(ioctl(fd, IOMMU_TEST_CMD, &rw));
    CHECK(got[0] == 0x3c && got[15] == 0x3c);
    CHECK_OK(t_destroy(fd, md.mock_domain.out_stdev_id)); /* the pages' last pin goes */
    CHECK_ERRNO(ioctl(fd, IOMMU_TEST_CMD, &rw), EFAULT);
    CHECK(t_mock_domain(fd, lone) == 0 && errno == EFAULT);
    CHECK(t_unmap(fd, lone, MOCK_APERTURE_START, 4096) == 4096);
    CHECK_OK(close((int)acc.create_access.out_access_fd));

    /* A process killed with SIGKILL is gone as well: what it mapped while nothing pinned it
       cannot be pinned any more. */
    uint32_t unpinned = t_ioas_alloc(fd);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      char *mine = t_buffer(4096);
      uint64_t iova = MOCK_APERTURE_START;
      CHECK_OK(t_map(fd, unpinned, mine, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
      raise(SIGKILL);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    CHECK(t_mock_domain(fd, unpinned) == 0 && errno == EFAULT);
  }
  CHECK_OK(close(fd));
  printf("t_fork: ok\n");
  return 0;
}
