/*
 * A stand-in for the kernel's /dev/iommu, preloaded after the shim in the tests of
 * `exec --record --kernel` on machines without one: open("/dev/iommu") gives a memfd named
 * fake-iommu, whose iommufd ioctls (on any of its descriptors) this answers as Linux 6.12 does
 * for the calls of t_kernel.c
 * (one context; IOAS_ALLOC, IOVA_RANGES, ALLOW_IOVAS, FIXED MAP, UNMAP, DESTROY). Everything
 * else goes to libc. FAKE_KERNEL_LIE=unmap makes UNMAP report half the length, a kernel
 * answer the emulator does not give, for the replay to find.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define MAX_IDS 16
#define MAX_AREAS 16

struct area {
  uint64_t iova, length;
};
static struct {
  int live[MAX_IDS];
  struct area areas[MAX_IDS][MAX_AREAS];
} k;

static int fake_open(const char *path) {
  if (!path || strcmp(path, "/dev/iommu") != 0) return -2;
  return memfd_create("fake-iommu", MFD_CLOEXEC);
}

static int is_fake(int fd) {
  char link[64], target[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  return n > 0 && (target[n] = 0, strncmp(target, "/memfd:fake-iommu", 17) == 0);
}

#define OPEN_WRAPPER(name, ...) \
  EXPORT int name(__VA_ARGS__) { \
    int r = fake_open(path); \
    if (r != -2) return r; \
    va_list ap; \
    va_start(ap, flags); \
    int mode = va_arg(ap, int); \
    va_end(ap); \
    int (*next)(const char *, int, ...) = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name); \
    return next(path, flags, mode); \
  }
OPEN_WRAPPER(open, const char *path, int flags, ...)
OPEN_WRAPPER(open64, const char *path, int flags, ...)

static int fail(int e) {
  errno = e;
  return -1;
}

static int ioas_ok(uint32_t id) { return id >= 1 && id < MAX_IDS && k.live[id]; }

/* Writes to the caller's memory the way copy_to_user does: EFAULT instead of a crash. */
static int put_user(uint64_t to, const void *from, size_t n) {
  struct iovec local = {(void *)from, n}, remote = {(void *)(uintptr_t)to, n};
  return process_vm_writev(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)n ? 0 : -1;
}

static int iommufd(unsigned long request, unsigned char *arg) {
  uint32_t id;
  switch (request & 0xff) {
    case 0x80: /* DESTROY */
      memcpy(&id, arg + 4, 4);
      if (!ioas_ok(id)) return fail(ENOENT);
      k.live[id] = 0;
      memset(k.areas[id], 0, sizeof k.areas[id]);
      return 0;
    case 0x81: /* IOAS_ALLOC */
      for (id = 1; id < MAX_IDS && k.live[id]; id++) {
      }
      if (id == MAX_IDS) return fail(ENOMEM);
      k.live[id] = 1;
      memcpy(arg + 8, &id, 4);
      return 0;
    case 0x82: /* ALLOW_IOVAS: this stand-in does not restrict MAP by them */
      memcpy(&id, arg + 4, 4);
      return ioas_ok(id) ? 0 : fail(ENOENT);
    case 0x84: { /* IOVA_RANGES: a fresh IOAS has one range and alignment 1 */
      uint32_t capacity, one = 1;
      uint64_t array, alignment = 1;
      uint64_t range[2] = {0, UINT64_MAX};
      memcpy(&id, arg + 4, 4);
      memcpy(&capacity, arg + 8, 4);
      memcpy(&array, arg + 16, 8);
      if (!ioas_ok(id)) return fail(ENOENT);
      if (capacity >= 1 && put_user(array, range, sizeof range) != 0) return fail(EFAULT);
      memcpy(arg + 8, &one, 4);
      memcpy(arg + 24, &alignment, 8);
      return capacity >= 1 ? 0 : fail(EMSGSIZE);
    }
    case 0x85: { /* IOAS_MAP, FIXED_IOVA only */
      uint64_t iova, length;
      memcpy(&id, arg + 8, 4);
      memcpy(&length, arg + 24, 8);
      memcpy(&iova, arg + 32, 8);
      if (!ioas_ok(id)) return fail(ENOENT);
      struct area *free_slot = NULL;
      for (int i = 0; i < MAX_AREAS; i++) {
        struct area *a = &k.areas[id][i];
        if (a->length == 0) {
          if (!free_slot) free_slot = a;
        } else if (iova < a->iova + a->length && a->iova < iova + length) {
          return fail(EEXIST);
        }
      }
      if (!free_slot) return fail(ENOMEM);
      *free_slot = (struct area){iova, length};
      return 0;
    }
    case 0x86: { /* IOAS_UNMAP of exactly one area */
      uint64_t iova, length;
      memcpy(&id, arg + 4, 4);
      memcpy(&iova, arg + 8, 8);
      memcpy(&length, arg + 16, 8);
      if (!ioas_ok(id)) return fail(ENOENT);
      for (int i = 0; i < MAX_AREAS; i++) {
        struct area *a = &k.areas[id][i];
        if (a->length != 0 && a->iova == iova && a->length == length) {
          a->length = 0;
          const char *lie = getenv("FAKE_KERNEL_LIE");
          if (lie && strcmp(lie, "unmap") == 0) length /= 2;
          memcpy(arg + 16, &length, 8);
          return 0;
        }
      }
      return fail(ENOENT);
    }
    default:
      return fail(ENOTTY);
  }
}

EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (((request >> 8) & 0xff) == ';' && is_fake(fd)) return iommufd(request, arg);
  int (*next)(int, unsigned long, ...) = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
  return next(fd, request, arg);
}
