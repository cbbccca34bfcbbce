/*
 * The IOAS commands with real buffers of this process: ALLOC, IOVA_RANGES, MAP (automatic and
 * fixed), UNMAP, ALLOW_IOVAS, OPTION, DESTROY, then a mock domain that pins the pages
 * (MD_CHECK_MAP, MD_CHECK_REFS), and a fresh context after close with every pin released.
 */
#include "t.h"

int main(void) {
  t_name = "t_basic";
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  CHECK(ioas == 1); /* a new context's first id: proves the emulator answered */

  struct iommu_iova_range ranges[4];
  struct iommu_ioas_iova_ranges r = {
      .size = sizeof r, .ioas_id = ioas, .num_iovas = 4, .allowed_iovas = (uintptr_t)ranges};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r));
  CHECK(r.num_iovas == 1 && ranges[0].start == 0 && ranges[0].last == UINT64_MAX);
  /* no domain yet (io_pagetable.c: iopt_calculate_iova_alignment()) */
  CHECK(r.out_iova_alignment == 1);
  r.num_iovas = 0;
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r), EMSGSIZE);
  CHECK(r.num_iovas == 1);

  size_t len = 64 * 4096;
  char *buf = t_buffer(len);
  uint64_t iova = 0;
  CHECK_OK(t_map(fd, ioas, buf, len, &iova, 0));
  uint64_t fixed = 0x40000000;
  CHECK_OK(t_map(fd, ioas, buf, 4096, &fixed, IOMMU_IOAS_MAP_FIXED_IOVA));
  CHECK(fixed == 0x40000000);
  CHECK_ERRNO(t_map(fd, ioas, buf, 4096, &fixed, IOMMU_IOAS_MAP_FIXED_IOVA), EEXIST);
  CHECK(t_unmap(fd, ioas, fixed, 4096) == 4096);
  CHECK(t_unmap(fd, ioas, iova, len) == (long long)len);
  CHECK_ERRNO(t_unmap(fd, ioas, iova, len), ENOENT);

  struct iommu_iova_range allowed = {.start = 0x100000, .last = 0x1fffff};
  struct iommu_ioas_allow_iovas a = {
      .size = sizeof a, .ioas_id = ioas, .num_iovas = 1, .allowed_iovas = (uintptr_t)&allowed};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a));
  iova = 0;
  CHECK_OK(t_map(fd, ioas, buf, 4096, &iova, 0));
  CHECK(iova == 0x100000);
  CHECK(t_unmap(fd, ioas, 0, UINT64_MAX) == 4096);
  a.num_iovas = 0; /* no restriction again: a mock domain's aperture must fit */
  CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a));

  struct iommu_option o = {
      .size = sizeof o, .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_GET, .val64 = 77};
  CHECK_OK(ioctl(fd, IOMMU_OPTION, &o));
  CHECK(o.val64 == 0);

  uint32_t second = t_ioas_alloc(fd);
  CHECK(second == 2);
  CHECK_OK(t_destroy(fd, second));
  CHECK_ERRNO(t_destroy(fd, second), ENOENT);

  /* A mock domain: MAP now pins this process's pages. */
  uint32_t hwpt = t_mock_domain(fd, ioas);
  if (hwpt != 0) {
    iova = MOCK_APERTURE_START;
    CHECK_OK(t_map(fd, ioas, buf, len, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
    CHECK_OK(t_check_refs(fd, buf, len, 1));
    struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_MD_CHECK_MAP, .id = hwpt};
    c.check_map.iova = iova;
    c.check_map.length = len;
    c.check_map.uptr = (uintptr_t)buf;
    CHECK_OK(ioctl(fd, IOMMU_TEST_CMD, &c));
    CHECK_OK(close(fd)); /* pages stay pinned until the context goes: close does that */

    fd = t_open();
    CHECK_OK(t_check_refs(fd, buf, len, 0));
    CHECK(t_ioas_alloc(fd) == 1);
  } else {
    CHECK(errno == ENOTTY); /* only without the test ABI */
  }
  CHECK_OK(close(fd));
  printf("t_basic: ok\n");
  return 0;
}
