/*
 * Programs killed in the middle of ioctls (SIGKILL while they map and unmap pinned memory in a
 * loop) harm nobody: the server lives, this program's own context keeps working, and every pin
 * the dead ones held is released (NativeBridgeIT checks the server afterwards too).
 */
#include <signal.h>

#include "t.h"

#define BIG (8u << 20)

int main(void) {
  t_name = "t_kill";
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  uint64_t iova = 0x500000;
  char *mine = t_buffer(4096);
  CHECK_OK(t_map(fd, ioas, mine, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  for (int round = 0; round < 6; round++) {
    int ready[2];
    CHECK_OK(pipe(ready));
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      int victim = t_open();
      uint32_t id = t_ioas_alloc(victim);
      int domain = t_mock_domain(victim, id) != 0;
      char *buf = t_buffer(BIG);
      char c = 'r';
      CHECK(write(ready[1], &c, 1) == 1);
      for (;;) {
        uint64_t at = domain ? MOCK_APERTURE_START : 0;
        t_map(victim, id, buf, BIG, &at, IOMMU_IOAS_MAP_FIXED_IOVA);
        t_unmap(victim, id, 0, UINT64_MAX);
        t_check_refs(victim, buf, 4096, 0);
      }
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    /* a different moment of the loop each round: spin a little longer every time */
    for (volatile long spin = 0; spin < 200000L * round; spin++) {
    }
    CHECK_OK(kill(pid, SIGKILL));
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status));
    close(ready[0]);
    close(ready[1]);
    CHECK(t_unmap(fd, ioas, 0x500000, 4096) == 4096);
    CHECK_OK(t_map(fd, ioas, mine, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  }
  int fresh = t_open();
  CHECK(t_ioas_alloc(fresh) == 1);
  CHECK_OK(close(fresh));
  CHECK_OK(close(fd));
  printf("t_kill: ok\n");
  return 0;
}
