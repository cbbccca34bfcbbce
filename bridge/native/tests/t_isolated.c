/*
 * Two programs at once: each has its own contexts (ids from 1), sees only its own areas, and
 * cannot reach the other's objects.
 */
#include "t.h"

static void program(int me, int ready_w, int go_r) {
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  CHECK(ioas == 1);
  char *buf = t_buffer(4096);
  uint64_t mine = 0x100000ULL * (me + 1), theirs = 0x100000ULL * (2 - me);
  CHECK_OK(t_map(fd, ioas, buf, 4096, &mine, IOMMU_IOAS_MAP_FIXED_IOVA));
  char c = 'r';
  CHECK(write(ready_w, &c, 1) == 1);
  CHECK(read(go_r, &c, 1) == 1); /* both contexts exist now */
  CHECK_ERRNO(t_unmap(fd, ioas, theirs, 4096), ENOENT);
  CHECK_ERRNO(t_destroy(fd, 2), ENOENT);
  CHECK(t_unmap(fd, ioas, mine, 4096) == 4096);
  CHECK_OK(close(fd));
}

int main(void) {
  t_name = "t_isolated";
  int ready[2], go[2];
  CHECK_OK(pipe(ready));
  CHECK_OK(pipe(go));
  pid_t kids[2];
  for (int k = 0; k < 2; k++) {
    kids[k] = fork();
    CHECK(kids[k] >= 0);
    if (kids[k] == 0) {
      program(k, ready[1], go[0]);
      _exit(0);
    }
  }
  char c;
  for (int k = 0; k < 2; k++) CHECK(read(ready[0], &c, 1) == 1);
  CHECK(write(go[1], "gg", 2) == 2);
  for (int k = 0; k < 2; k++) t_wait_ok(kids[k]);
  printf("t_isolated: ok\n");
  return 0;
}
