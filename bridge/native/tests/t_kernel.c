/*
 * The calls `exec --record --kernel` is tested with (the IOAS basics, a fault, a refusal, dup):
 * a program whose every answer is Linux 6.12's. It passes on the emulator (NativeBridgeIT) and
 * on tests/fake_kernel.c, the stand-in kernel the recording tests preload after the shim
 * (RecordReplayIT); a replay of its kernel recording must then agree with the emulator.
 */
#include <sys/uio.h>

#include "t.h"

int main(void) {
  t_name = "t_kernel";
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);

  struct iommu_iova_range ranges[4];
  memset(ranges, 0x5a, sizeof ranges);
  struct iommu_ioas_iova_ranges r = {
      .size = sizeof r, .ioas_id = ioas, .num_iovas = 4, .allowed_iovas = (uintptr_t)ranges};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r));
  CHECK(r.num_iovas == 1 && ranges[0].start == 0 && ranges[0].last == UINT64_MAX);
  CHECK(r.out_iova_alignment == 1); /* a fresh IOAS (ioas.c: iommufd_ioas_iova_ranges()) */
  r.allowed_iovas = 8;              /* unmapped: the array write faults */
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r), EFAULT);

  struct iommu_iova_range allow = {0x100000, 0x1fffff};
  struct iommu_ioas_allow_iovas a = {
      .size = sizeof a, .ioas_id = ioas, .num_iovas = 1, .allowed_iovas = (uintptr_t)&allow};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a));

  void *buf = t_buffer(8192);
  uint64_t iova = 0x100000;
  CHECK_OK(t_map(fd, ioas, buf, 8192, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  CHECK_ERRNO(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA), EEXIST);

  int fd2 = dup(fd);
  CHECK(fd2 >= 0);
  CHECK_OK(close(fd));
  long long unmapped = t_unmap(fd2, ioas, 0x100000, 8192);
  if (unmapped != 8192) FAIL("UNMAP answered %lld bytes, not 8192", unmapped);
  CHECK_ERRNO(t_destroy(fd2, 99), ENOENT);
  CHECK_OK(t_destroy(fd2, ioas));
  CHECK_OK(close(fd2));
  printf("t_kernel: ok\n");
  return 0;
}
