/*
 * An iommufd opened without O_CLOEXEC survives exec: the new image's shim finds it among the
 * inherited descriptors, and it is still the same context.
 */
#include "t.h"

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "child") == 0) {
    t_name = "t_exec after exec";
    int fd = atoi(argv[2]);
    int n;
    CHECK_ERRNO(ioctl(fd, FIONREAD, &n), ENOTTY); /* recognised without any ioctl first */
    CHECK(t_unmap(fd, 1, 0x400000, 4096) == 4096);
    CHECK_OK(close(fd));
    printf("t_exec: ok\n");
    return 0;
  }
  t_name = "t_exec";
  int fd = open("/dev/iommu", O_RDWR);
  if (fd < 0) FAIL("open(/dev/iommu): %s", strerror(errno));
  int cloexec = open("/dev/iommu", O_RDWR | O_CLOEXEC);
  CHECK(cloexec >= 0);
  CHECK(t_ioas_alloc(fd) == 1);
  char *buf = t_buffer(4096);
  uint64_t iova = 0x400000;
  CHECK_OK(t_map(fd, 1, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  char num[16];
  snprintf(num, sizeof num, "%d", fd);
  execl("/proc/self/exe", argv[0], "child", num, (char *)NULL);
  FAIL("exec: %s", strerror(errno));
}
