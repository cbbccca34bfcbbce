/*
 * Built with -O2 -D_FORTIFY_SOURCE=2: open() with flags the compiler cannot see becomes
 * __open_2(), which the shim must intercept too (the Makefile checks the binary imports it).
 */
#include "t.h"

int main(int argc, char **argv) {
  t_name = "t_fortify";
  int flags = argc > 5 ? O_RDONLY : atoi("2"); /* O_RDWR, unknown at compile time */
  int fd = open("/dev/iommu", flags);
  if (fd < 0) FAIL("open(/dev/iommu) through __open_2: %s", strerror(errno));
  struct iommu_ioas_alloc a = {.size = sizeof a};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOC, &a));
  CHECK(a.out_ioas_id == 1);
  CHECK_OK(close(fd));
  printf("t_fortify: ok\n");
  (void)argv;
  return 0;
}
