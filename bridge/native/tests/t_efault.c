/*
 * Bad pointers are EFAULT, never a crash, in the caller's address space: a NULL or unmapped
 * argument, an unreadable nested array, an unwritable array to fill, a read-only struct whose
 * respond faults (the IOAS is then not created), and unpinnable memory under a domain.
 */
#include "t.h"

int main(void) {
  t_name = "t_efault";
  int fd = t_open();
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, NULL), EFAULT);
  char *page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(page != MAP_FAILED);
  CHECK_OK(munmap(page + 4096, 4096)); /* a hole */
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, page + 4096), EFAULT);

  /* A struct whose size word is readable but whose tail runs into the hole. */
  struct iommu_ioas_alloc *edge = (struct iommu_ioas_alloc *)(page + 4096 - 4);
  edge->size = sizeof *edge;
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, edge), EFAULT);

  /* Read-only: the kernel reads it, then faults writing out_ioas_id and undoes the IOAS. */
  struct iommu_ioas_alloc *ro = (struct iommu_ioas_alloc *)(page + 2 * 4096);
  ro->size = sizeof *ro;
  ro->flags = 0;
  CHECK_OK(mprotect(page + 2 * 4096, 4096, PROT_READ));
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, ro), EFAULT);

  uint32_t ioas = t_ioas_alloc(fd);
  CHECK(ioas == 1); /* nothing leaked from the failed ALLOCs */

  struct iommu_ioas_allow_iovas a = {
      .size = sizeof a, .ioas_id = ioas, .num_iovas = 1, .allowed_iovas = (uintptr_t)(page + 4096)};
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), EFAULT);
  struct iommu_ioas_iova_ranges r = {
      .size = sizeof r, .ioas_id = ioas, .num_iovas = 1, .allowed_iovas = (uintptr_t)(page + 2 * 4096)};
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r), EFAULT);
  r.allowed_iovas = 8; /* near NULL */
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r), EFAULT);

  if (t_mock_domain(fd, ioas) != 0) {
    uint64_t iova = MOCK_APERTURE_START;
    CHECK_ERRNO(t_map(fd, ioas, page + 4096, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA), EFAULT);
    /* writable mapping of read-only memory cannot be pinned for writing */
    CHECK_ERRNO(t_map(fd, ioas, page + 2 * 4096, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA), EFAULT);
    CHECK_OK(t_map(fd, ioas, page, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
    CHECK(t_unmap(fd, ioas, iova, 4096) == 4096);
  }

  /* MAP and UNMAP with their struct in a read-only page: the call is done, its reply faults. In a
     PROT_NONE page: not even read. */
  CHECK_OK(mprotect(page + 2 * 4096, 4096, PROT_READ | PROT_WRITE));
  struct iommu_ioas_map *m = (struct iommu_ioas_map *)(page + 2 * 4096);
  *m = (struct iommu_ioas_map){
      .size = sizeof *m, .flags = IOMMU_IOAS_MAP_READABLE, .ioas_id = ioas, .user_va = (uintptr_t)page, .length = 4096};
  CHECK_OK(mprotect(page + 2 * 4096, 4096, PROT_READ));
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_MAP, m), EFAULT);
  struct iommu_ioas_unmap all = {.size = sizeof all, .ioas_id = ioas, .length = UINT64_MAX};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_UNMAP, &all));
  CHECK(all.length == 4096); /* the faulted MAP's area was there */
  CHECK_OK(mprotect(page + 2 * 4096, 4096, PROT_NONE));
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_MAP, m), EFAULT);
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_UNMAP, m), EFAULT);
  CHECK_OK(close(fd));
  printf("t_efault: ok\n");
  return 0;
}
