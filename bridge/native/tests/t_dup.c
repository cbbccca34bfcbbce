/*
 * dup, dup2, dup3 and F_DUPFD_CLOEXEC share the context; closing the original leaves it alive;
 * dup2 of another file over a duplicate makes that number an ordinary file; closing the last
 * duplicate tears the context down before close() returns (its pins are released at once).
 */
#include "t.h"

int main(void) {
  t_name = "t_dup";
  int a = t_open();
  uint32_t ioas = t_ioas_alloc(a);
  int b = dup(a);
  CHECK(b >= 0);
  CHECK_OK(close(a));
  CHECK(t_ioas_alloc(b) == ioas + 1); /* the same context */
  int c = dup2(b, 50);
  CHECK(c == 50);
  int d = dup3(b, 51, O_CLOEXEC);
  CHECK(d == 51 && fcntl(d, F_GETFD) == FD_CLOEXEC);
  int e = fcntl(b, F_DUPFD_CLOEXEC, 60);
  CHECK(e >= 60);
  CHECK_OK(close(b));
  int n;
  CHECK_ERRNO(ioctl(e, FIONREAD, &n), ENOTTY);
  CHECK(t_ioas_alloc(c) == ioas + 2);
  CHECK(t_ioas_alloc(d) == ioas + 3);
  CHECK(t_ioas_alloc(e) == ioas + 4);

  /* dup2 of /dev/null over c: c is now /dev/null, the context lives on in d and e */
  int null = open("/dev/null", O_RDWR);
  CHECK(null >= 0);
  CHECK(dup2(null, c) == c);
  struct iommu_ioas_alloc al = {.size = sizeof al};
  CHECK_ERRNO(ioctl(c, IOMMU_IOAS_ALLOC, &al), ENOTTY);
  CHECK(write(c, "x", 1) == 1);
  close(c);
  close(null);

  size_t len = 16 * 4096;
  char *buf = t_buffer(len);
  if (t_mock_domain(d, ioas) != 0) {
    uint64_t iova = MOCK_APERTURE_START;
    CHECK_OK(t_map(d, ioas, buf, len, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
    int f = t_open();
    CHECK_OK(t_check_refs(f, buf, len, 1));
    CHECK_OK(close(d));
    CHECK_OK(t_check_refs(f, buf, len, 1)); /* e still holds the context */
    CHECK(dup2(f, e) == e);                 /* closes the last duplicate */
    CHECK_OK(t_check_refs(f, buf, len, 0));
    CHECK_OK(t_check_refs(e, buf, len, 0));
    CHECK(t_ioas_alloc(e) == 1); /* e is f's context now */
    CHECK_OK(close(f));
    CHECK_OK(close(e));
  } else {
    CHECK_OK(close(d));
    CHECK_OK(close(e));
  }
  printf("t_dup: ok\n");
  return 0;
}
