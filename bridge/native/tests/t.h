/*
 * What the bridge's C tests share: the iommufd uapi they use (written from
 * include/uapi/linux/iommufd.h and iommufd_test.h, not copied from them) and small assertion
 * helpers. A test exits 0 when it passes, 77 when it is skipped, 1 with a message on stderr when it
 * fails.
 */
#ifndef IOMMUFD4J_T_H
#define IOMMUFD4J_T_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define IOMMUFD_TYPE ';'
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, 0x80)
#define IOMMU_IOAS_ALLOC _IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_IOAS_ALLOW_IOVAS _IO(IOMMUFD_TYPE, 0x82)
#define IOMMU_IOAS_COPY _IO(IOMMUFD_TYPE, 0x83)
#define IOMMU_IOAS_IOVA_RANGES _IO(IOMMUFD_TYPE, 0x84)
#define IOMMU_IOAS_MAP _IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP _IO(IOMMUFD_TYPE, 0x86)
#define IOMMU_OPTION _IO(IOMMUFD_TYPE, 0x87)
#define IOMMU_TEST_CMD _IO(IOMMUFD_TYPE, 0xa0)

struct iommu_destroy {
  uint32_t size, id;
};
struct iommu_ioas_alloc {
  uint32_t size, flags, out_ioas_id;
};
struct iommu_iova_range {
  uint64_t start, last;
};
struct iommu_ioas_iova_ranges {
  uint32_t size, ioas_id, num_iovas, reserved;
  uint64_t allowed_iovas, out_iova_alignment;
};
struct iommu_ioas_allow_iovas {
  uint32_t size, ioas_id, num_iovas, reserved;
  uint64_t allowed_iovas;
};
#define IOMMU_IOAS_MAP_FIXED_IOVA (1 << 0)
#define IOMMU_IOAS_MAP_WRITEABLE (1 << 1)
#define IOMMU_IOAS_MAP_READABLE (1 << 2)
struct iommu_ioas_map {
  uint32_t size, flags, ioas_id, reserved;
  uint64_t user_va, length, iova;
};
struct iommu_ioas_unmap {
  uint32_t size, ioas_id;
  uint64_t iova, length;
};
struct iommu_option {
  uint32_t size, option_id;
  uint16_t op, reserved;
  uint32_t object_id;
  uint64_t val64;
};
#define IOMMU_OPTION_RLIMIT_MODE 0
#define IOMMU_OPTION_OP_GET 1

/* Linux 6.6's VFIO device cdev ioctls (vfio.h), which the 6.1 uapi headers these machines have
 * lack: VFIO_DEVICE_BIND_IOMMUFD and VFIO_DEVICE_ATTACH_IOMMUFD_PT (';' is VFIO_TYPE). */
struct bind_iommufd {
  uint32_t argsz, flags;
  int32_t iommufd;
  uint32_t out_devid;
};
struct attach_pt {
  uint32_t argsz, flags, pt_id;
};
#define DEVICE_BIND_IOMMUFD _IO(';', 100 + 18)
#define DEVICE_ATTACH_IOMMUFD_PT _IO(';', 100 + 19)

/* struct iommu_test_cmd (iommufd_test.h): 72 bytes. */
enum {
  TEST_OP_MOCK_DOMAIN = 2,
  TEST_OP_MD_CHECK_MAP = 3,
  TEST_OP_MD_CHECK_REFS = 4,
  TEST_OP_CREATE_ACCESS = 5,
  TEST_OP_ACCESS_RW = 8,
};
struct iommu_test_cmd {
  uint32_t size, op, id, reserved;
  union {
    struct {
      uint32_t out_stdev_id, out_hwpt_id, out_idev_id;
    } mock_domain;
    struct {
      uint64_t iova, length, uptr;
    } check_map;
    struct {
      uint64_t length, uptr;
      uint32_t refs;
    } check_refs;
    struct {
      uint32_t out_access_fd, flags;
    } create_access;
    struct {
      uint64_t iova, length, uptr;
      uint32_t flags;
    } access_rw;
    unsigned char bytes[48];
  };
  uint32_t last;
  uint32_t pad;
};
_Static_assert(sizeof(struct iommu_test_cmd) == 72, "iommu_test_cmd is 72 bytes");
#define MOCK_APERTURE_START (1ULL << 24)

static const char *t_name = "test";

#define FAIL(...) \
  do { \
    fprintf(stderr, "%s:%d: FAIL: ", t_name, __LINE__); \
    fprintf(stderr, __VA_ARGS__); \
    fprintf(stderr, "\n"); \
    exit(1); \
  } while (0)

#define CHECK(cond) \
  do { \
    if (!(cond)) FAIL("%s (errno %d %s)", #cond, errno, strerror(errno)); \
  } while (0)

/* expr must be -1 with errno e. */
#define CHECK_ERRNO(expr, e) \
  do { \
    errno = 0; \
    long r_ = (long)(expr); \
    int err_ = errno; \
    if (r_ != -1 || err_ != (e)) \
      FAIL("%s returned %ld errno %d (%s), expected errno %d (%s)", #expr, r_, err_, strerror(err_), (e), \
           strerror(e)); \
  } while (0)

#define CHECK_OK(expr) \
  do { \
    errno = 0; \
    long r_ = (long)(expr); \
    if (r_ < 0) FAIL("%s returned %ld errno %d (%s)", #expr, r_, errno, strerror(errno)); \
  } while (0)

/* Opens /dev/iommu through the shim; fails the test if the shim did not take effect. */
static inline int t_open(void) {
  int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
  if (fd < 0) FAIL("open(/dev/iommu): %s: is the shim preloaded and IOMMUFD4J_SOCKET set?", strerror(errno));
  return fd;
}

static inline uint32_t t_ioas_alloc(int fd) {
  struct iommu_ioas_alloc a = {.size = sizeof a};
  CHECK_OK(ioctl(fd, IOMMU_IOAS_ALLOC, &a));
  CHECK(a.out_ioas_id != 0);
  return a.out_ioas_id;
}

static inline int t_destroy(int fd, uint32_t id) {
  struct iommu_destroy d = {.size = sizeof d, .id = id};
  return ioctl(fd, IOMMU_DESTROY, &d);
}

static inline int t_map(int fd, uint32_t ioas, void *buf, uint64_t length, uint64_t *iova, uint32_t flags) {
  struct iommu_ioas_map m = {.size = sizeof m,
                             .flags = flags | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
                             .ioas_id = ioas,
                             .user_va = (uintptr_t)buf,
                             .length = length,
                             .iova = *iova};
  int r = ioctl(fd, IOMMU_IOAS_MAP, &m);
  if (r == 0) *iova = m.iova;
  return r;
}

/* UNMAP; returns the unmapped length or -1. */
static inline long long t_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t length) {
  struct iommu_ioas_unmap u = {.size = sizeof u, .ioas_id = ioas, .iova = iova, .length = length};
  if (ioctl(fd, IOMMU_IOAS_UNMAP, &u) != 0) return -1;
  return (long long)u.length;
}

/* A mock domain on ioas (selftest ABI): returns the HWPT id, or 0 if the test ABI is off. */
static inline uint32_t t_mock_domain(int fd, uint32_t ioas) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_MOCK_DOMAIN, .id = ioas};
  if (ioctl(fd, IOMMU_TEST_CMD, &c) != 0) return 0;
  return c.mock_domain.out_hwpt_id;
}

/* MD_CHECK_REFS: 0 when every page of [buf, buf+length) has `refs` pins, else -1 (errno). */
static inline int t_check_refs(int fd, void *buf, uint64_t length, uint32_t refs) {
  struct iommu_test_cmd c = {.size = sizeof c, .op = TEST_OP_MD_CHECK_REFS};
  c.check_refs.length = length;
  c.check_refs.uptr = (uintptr_t)buf;
  c.check_refs.refs = refs;
  return ioctl(fd, IOMMU_TEST_CMD, &c);
}

static inline void *t_buffer(size_t length) {
  void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  memset(p, 0xa5, length);
  return p;
}

/* Waits for pid; fails unless it exited with status 0. */
static inline void t_wait_ok(pid_t pid) {
  int status;
  CHECK(waitpid(pid, &status, 0) == pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) FAIL("child %d ended with status 0x%x", pid, status);
}

#endif
