/*
 * The fault fd (fault.c: iommufd_fault_fops_poll(), iommufd_fault_fops_read()) through the shim: a
 * device on a nested HWPT that routes its I/O page faults to a fault queue; TRIGGER_IOPF reports
 * one; the fd polls readable exactly while a group is pending; read delivers the record, write
 * answers it.
 */
#include <poll.h>

#include "t.h"

#define IOMMU_HWPT_ALLOC _IO(IOMMUFD_TYPE, 0x89)
#define IOMMU_FAULT_QUEUE_ALLOC _IO(IOMMUFD_TYPE, 0x8e)
#define HWPT_ALLOC_NEST_PARENT 1u
#define HWPT_FAULT_ID_VALID (1u << 2)
#define HWPT_DATA_SELFTEST 0xdeadu
#define TEST_IOTLB_DEFAULT 0x0badbeefu
#define TEST_OP_MOCK_DOMAIN_REPLACE 10
#define TEST_OP_TRIGGER_IOPF 15

struct iommu_hwpt_alloc {
  uint32_t size, flags, dev_id, pt_id, out_hwpt_id, reserved, data_type, data_len;
  uint64_t data_uptr;
  uint32_t fault_id, reserved2;
};
struct iommu_fault_alloc {
  uint32_t size, flags, out_fault_id, out_fault_fd;
};
struct iommu_hwpt_pgfault {
  uint32_t flags, dev_id, pasid, grpid, perm, reserved;
  uint64_t addr;
  uint32_t length, cookie;
};
struct iommu_hwpt_page_response {
  uint32_t cookie, code;
};

static uint32_t hwpt_alloc(int fd, uint32_t dev, uint32_t pt, uint32_t flags, uint32_t fault_id) {
  uint32_t iotlb = TEST_IOTLB_DEFAULT;
  struct iommu_hwpt_alloc a = {.size = sizeof a, .flags = flags, .dev_id = dev, .pt_id = pt};
  if (flags & HWPT_FAULT_ID_VALID) {
    a.data_type = HWPT_DATA_SELFTEST;
    a.data_len = sizeof iotlb;
    a.data_uptr = (uintptr_t)&iotlb;
    a.fault_id = fault_id;
  }
  CHECK_OK(ioctl(fd, IOMMU_HWPT_ALLOC, &a));
  return a.out_hwpt_id;
}

static int readable(int ffd) {
  struct pollfd p = {.fd = ffd, .events = POLLIN};
  int n = poll(&p, 1, 0);
  CHECK(n >= 0);
  return n == 1 && (p.revents & POLLIN);
}

int main(void) {
  t_name = "t_fault";
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  struct iommu_test_cmd md = {.size = sizeof md, .op = TEST_OP_MOCK_DOMAIN, .id = ioas};
  if (ioctl(fd, IOMMU_TEST_CMD, &md) != 0) {
    printf("t_fault: skipped (no test ABI)\n");
    return 77;
  }
  uint32_t stdev = md.mock_domain.out_stdev_id, idev = md.mock_domain.out_idev_id;
  uint32_t parent = hwpt_alloc(fd, idev, ioas, HWPT_ALLOC_NEST_PARENT, 0);
  struct iommu_fault_alloc fa = {.size = sizeof fa};
  CHECK_OK(ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &fa));
  int ffd = (int)fa.out_fault_fd;
  uint32_t nested = hwpt_alloc(fd, idev, parent, HWPT_FAULT_ID_VALID, fa.out_fault_id);
  struct iommu_test_cmd rep = {.size = sizeof rep, .op = TEST_OP_MOCK_DOMAIN_REPLACE, .id = stdev};
  memcpy(rep.bytes, &nested, 4);
  CHECK_OK(ioctl(fd, IOMMU_TEST_CMD, &rep));

  CHECK(!readable(ffd));
  struct iommu_hwpt_pgfault rec[2];
  CHECK(read(ffd, rec, sizeof rec) == 0); /* nothing pending: 0 at once */

  for (uint32_t grp = 1; grp <= 2; grp++) {
    struct iommu_test_cmd iopf = {.size = sizeof iopf, .op = TEST_OP_TRIGGER_IOPF};
    uint32_t f[4] = {idev, 0, grp, 1 /* READ */};
    uint64_t addr = 0x1000ull * grp;
    memcpy(iopf.bytes, f, sizeof f);
    memcpy(iopf.bytes + 16, &addr, 8);
    CHECK_OK(ioctl(fd, IOMMU_TEST_CMD, &iopf));
    CHECK(readable(ffd));
  }
  /* one record at a time: readable while the second group waits, then not */
  CHECK(read(ffd, rec, sizeof rec[0]) == (ssize_t)sizeof rec[0]);
  CHECK(rec[0].grpid == 1 && rec[0].dev_id == idev && rec[0].addr == 0x1000 && rec[0].cookie == 1);
  CHECK(readable(ffd));
  CHECK(read(ffd, rec, sizeof rec) == (ssize_t)sizeof rec[0]);
  CHECK(rec[0].grpid == 2 && rec[0].cookie == 2);
  CHECK(!readable(ffd));

  struct iommu_hwpt_page_response resp[2] = {{1, 0}, {2, 0}};
  CHECK(write(ffd, resp, sizeof resp) == (ssize_t)sizeof resp);
  struct pollfd w = {.fd = ffd, .events = POLLOUT};
  CHECK(poll(&w, 1, 0) == 1 && (w.revents & POLLOUT)); /* always writable */
  CHECK_OK(close(ffd));
  CHECK_OK(close(fd));
  printf("t_fault: ok\n");
  return 0;
}
