/*
 * Without a server (IOMMUFD4J_SOCKET unset) the shim must change nothing: /dev/iommu is whatever
 * the machine has (ENOENT here), and other files, descriptors and ioctls behave as without it.
 * With IOMMUFD4J_EXPECT_SHIM=1 the test also asserts the shim really is loaded.
 */
#include <sys/stat.h>

#include "t.h"

static int shim_loaded(void) {
  FILE *maps = fopen("/proc/self/maps", "r");
  CHECK(maps != NULL);
  char line[4096];
  int found = 0;
  while (fgets(line, sizeof line, maps))
    if (strstr(line, "libiommufd4j-shim.so")) found = 1;
  fclose(maps);
  return found;
}

int main(void) {
  t_name = "t_passthrough";
  const char *expect = getenv("IOMMUFD4J_EXPECT_SHIM");
  if (expect && strcmp(expect, "1") == 0 && !shim_loaded()) FAIL("the shim is not loaded (bad LD_PRELOAD path?)");
  if (getenv("IOMMUFD4J_SOCKET")) FAIL("run this test without IOMMUFD4J_SOCKET");

  struct stat st;
  if (stat("/dev/iommu", &st) != 0) {
    CHECK_ERRNO(open("/dev/iommu", O_RDWR), ENOENT);
    CHECK_ERRNO(access("/dev/iommu", F_OK), ENOENT);
  }

  /* A regular file: open, write, read back, ioctl untouched. */
  char path[] = "/tmp/iommufd4j-passthrough-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, "hello", 5) == 5);
  CHECK(lseek(fd, 0, SEEK_SET) == 0);
  char buf[8] = {0};
  CHECK(read(fd, buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
  int avail = -1;
  CHECK_OK(ioctl(fd, FIONREAD, &avail));
  CHECK(avail == 0);
  struct iommu_ioas_alloc a = {.size = sizeof a};
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &a), ENOTTY);
  int d = dup(fd);
  CHECK(d >= 0);
  CHECK_OK(close(fd));
  CHECK(fstat(d, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 5);
  CHECK_OK(close(d));
  CHECK_ERRNO(close(d), EBADF);
  unlink(path);

  /* A pipe: FIONREAD works as usual. */
  int p[2];
  CHECK_OK(pipe(p));
  CHECK(write(p[1], "abc", 3) == 3);
  CHECK_OK(ioctl(p[0], FIONREAD, &avail));
  CHECK(avail == 3);
  CHECK(dup2(p[0], 100) == 100);
  CHECK(read(100, buf, 3) == 3);
  CHECK_OK(close(100));
  CHECK_OK(close(p[0]));
  CHECK_OK(close(p[1]));

  /* /dev/null: a character device, and iommufd ioctls on it are ENOTTY. */
  fd = open("/dev/null", O_RDWR);
  CHECK(fd >= 0);
  CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode));
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, &a), ENOTTY);
  CHECK(fcntl(fd, F_DUPFD_CLOEXEC, 50) >= 50);
  CHECK_OK(close(fd));
  printf("t_passthrough: ok%s\n", expect ? " (with the shim)" : "");
  return 0;
}
