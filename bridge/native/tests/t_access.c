/*
 * Emulated files the engine hands out (the selftest access fd, selftest.c:
 * iommufd_test_create_access()): a real descriptor in this process at the lowest free number,
 * close-on-exec, usable through dup and after fork, EBADFD for anything else, and gone when its
 * last descriptor is closed. Skipped (77) when the engine has no CREATE_ACCESS yet.
 */
#include "t.h"

static int access_rw(int fd, int access_fd, uint64_t iova, void *buf, uint64_t length, int write) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_ACCESS_RW, .id = (uint32_t)access_fd};
  c.access_rw.iova = iova;
  c.access_rw.length = length;
  c.access_rw.uptr = (uintptr_t)buf;
  c.access_rw.flags = write ? 1 : 0;
  return ioctl(fd, IOMMU_TEST_CMD, &c);
}

int main(void) {
  t_name = "t_access";
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_CREATE_ACCESS, .id = ioas};
  if (ioctl(fd, IOMMU_TEST_CMD, &c) != 0) {
    if (errno == EOPNOTSUPP || errno == ENOTTY) {
      printf("t_access: skipped (no CREATE_ACCESS in this engine)\n");
      return 77;
    }
    FAIL("CREATE_ACCESS: %s", strerror(errno));
  }
  int afd = (int)c.create_access.out_access_fd;
  CHECK(fcntl(afd, F_GETFD) == FD_CLOEXEC);
  int probe = dup(0);
  CHECK(probe > afd || probe < afd); /* a real descriptor: the kernel would not give it twice */
  close(probe);
  char byte;
  CHECK_ERRNO(read(afd, &byte, 1), EINVAL);

  char *buf = t_buffer(4096);
  strcpy(buf, "through the access");
  uint64_t iova = 0x600000;
  CHECK_OK(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  char out[32] = {0};
  CHECK_OK(access_rw(fd, afd, iova, out, 19, 0));
  CHECK(strcmp(out, "through the access") == 0);
  int again = dup(afd);
  CHECK_OK(access_rw(fd, again, iova, "THROUGH", 7, 1));
  CHECK(memcmp(buf, "THROUGH", 7) == 0);
  CHECK_ERRNO(access_rw(fd, fd, iova, out, 4, 0), EBADFD);
  CHECK_ERRNO(access_rw(fd, 0, iova, out, 4, 0), EBADFD);

  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    char mine[8] = {0};
    CHECK_OK(access_rw(fd, afd, iova, mine, 7, 0));
    CHECK(memcmp(mine, "THROUGH", 7) == 0);
    _exit(0);
  }
  t_wait_ok(pid);
  CHECK_OK(close(afd));
  CHECK_OK(access_rw(fd, again, iova, out, 4, 0));
  CHECK_OK(close(again));
  CHECK_ERRNO(access_rw(fd, again, iova, out, 4, 0), EBADFD);
  CHECK(t_unmap(fd, ioas, iova, 4096) == 4096);
  CHECK_OK(close(fd));
  printf("t_access: ok\n");
  return 0;
}
