/*
 * The functions the shim interposes. Each one decides quickly whether the call concerns an
 * emulated file (the fd table, or the path /dev/iommu) and otherwise calls the next definition
 * (libc's) unchanged, so every other file and ioctl behaves as without the shim.
 *
 * An emulated /dev/iommu is the client end of a socketpair: dup, fork, SCM_RIGHTS and
 * close-on-exec act on it as on the kernel's file. What a socket would answer differently from
 * the iommufd is answered here (main.c: iommufd_fops): read/write EINVAL, FIONREAD and FIOASYNC-on
 * ENOTTY, epoll EPERM, fstat a character device. The shim's own channel descriptors are invisible
 * to the program: close, dup and ioctl on them fail with EBADF, close_range skips them, and dup2
 * onto one moves the channel out of the way first.
 *
 * With IOMMUFD4J_TESTBED, every path-taking call under /sys and /dev is routed first (testbed.h):
 * the testbed's copy of a path, or the path itself. The testbed's VFIO nodes open as files the
 * server serves, as /dev/iommu does: a group (vfio/group.c: vfio_group_fops) answers ioctls only;
 * a device (vfio/vfio_main.c: vfio_device_fops) also read, write, pread, pwrite at region offsets,
 * and mmap, which devmap.h traps. fstat of them shows their node (a device fd a group handed out
 * is an anonymous inode), and /proc/self/fd/N names it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include "channel.h"
#include "config.h"
#include "devmap.h"
#include "fdtable.h"
#include "proto.h"
#include "record.h"
#include "share.h"
#include "sys.h"
#include "testbed.h"

#define EXPORT __attribute__((visibility("default")))

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* The emulated node: misc major 10, a minor no real misc device uses on these machines. */
#define IOMMU_MINOR 126
#define VFIO_MINOR 196 /* /dev/vfio/vfio, the misc minor the kernel reserves for it */
#define IOMMU_INO 0x10000126ULL

/* With i4j_kernel: the device numbers of the real nodes, to know their descriptors. */
static dev_t iommu_rdev, vfio_rdev;

/* ---- the next definitions --------------------------------------------------------------- */

static void *next_symbol(const char *name) {
  void *f = dlsym(RTLD_NEXT, name);
  if (!f) f = dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5"); /* compat-only symbols (__xstat, ...) */
  if (!f) f = dlvsym(RTLD_NEXT, name, "GLIBC_2.17");
  return f;
}

#define NEXT(name, ret, params) \
  typedef ret(*name##_fn) params; \
  static _Atomic(name##_fn) name##_next; \
  static name##_fn next_##name(void) { \
    name##_fn f = atomic_load_explicit(&name##_next, memory_order_relaxed); \
    if (!f) { \
      f = (name##_fn)next_symbol(#name); \
      atomic_store_explicit(&name##_next, f, memory_order_relaxed); \
    } \
    return f; \
  }

/* Calls the next definition, or fails with ENOSYS when libc has none. */
#define CALL_NEXT(name, ...) (next_##name() ? next_##name()(__VA_ARGS__) : (errno = ENOSYS, -1))

NEXT(open, int, (const char *, int, ...))
NEXT(open64, int, (const char *, int, ...))
NEXT(__open, int, (const char *, int, ...))
NEXT(__open64, int, (const char *, int, ...))
NEXT(openat, int, (int, const char *, int, ...))
NEXT(openat64, int, (int, const char *, int, ...))
NEXT(__open_2, int, (const char *, int))
NEXT(__open64_2, int, (const char *, int))
NEXT(__openat_2, int, (int, const char *, int))
NEXT(__openat64_2, int, (int, const char *, int))
NEXT(close, int, (int))
NEXT(dup, int, (int))
NEXT(dup2, int, (int, int))
NEXT(dup3, int, (int, int, int))
NEXT(fcntl, int, (int, int, ...))
NEXT(fcntl64, int, (int, int, ...))
NEXT(ioctl, int, (int, unsigned long, ...))
NEXT(read, ssize_t, (int, void *, size_t))
NEXT(write, ssize_t, (int, const void *, size_t))
NEXT(pread, ssize_t, (int, void *, size_t, off_t))
NEXT(pwrite, ssize_t, (int, const void *, size_t, off_t))
NEXT(pread64, ssize_t, (int, void *, size_t, off64_t))
NEXT(pwrite64, ssize_t, (int, const void *, size_t, off64_t))
NEXT(__read_chk, ssize_t, (int, void *, size_t, size_t))
NEXT(__pread_chk, ssize_t, (int, void *, size_t, off_t, size_t))
NEXT(__pread64_chk, ssize_t, (int, void *, size_t, off64_t, size_t))
NEXT(preadv, ssize_t, (int, const struct iovec *, int, off_t))
NEXT(pwritev, ssize_t, (int, const struct iovec *, int, off_t))
NEXT(preadv64, ssize_t, (int, const struct iovec *, int, off64_t))
NEXT(pwritev64, ssize_t, (int, const struct iovec *, int, off64_t))
NEXT(mmap, void *, (void *, size_t, int, int, int, off_t))
NEXT(mmap64, void *, (void *, size_t, int, int, int, off64_t))
NEXT(munmap, int, (void *, size_t))
NEXT(mremap, void *, (void *, size_t, size_t, int, ...))
NEXT(mprotect, int, (void *, size_t, int))
NEXT(opendir, DIR *, (const char *))
NEXT(readdir, struct dirent *, (DIR *))
NEXT(readdir64, struct dirent64 *, (DIR *))
NEXT(rewinddir, void, (DIR *))
NEXT(closedir, int, (DIR *))
NEXT(scandir, int,
     (const char *, struct dirent ***, int (*)(const struct dirent *),
      int (*)(const struct dirent **, const struct dirent **)))
NEXT(scandir64, int,
     (const char *, struct dirent64 ***, int (*)(const struct dirent64 *),
      int (*)(const struct dirent64 **, const struct dirent64 **)))
NEXT(fopen, FILE *, (const char *, const char *))
NEXT(fopen64, FILE *, (const char *, const char *))
NEXT(readlink, ssize_t, (const char *, char *, size_t))
NEXT(readlinkat, ssize_t, (int, const char *, char *, size_t))
NEXT(realpath, char *, (const char *, char *))
NEXT(__realpath_chk, char *, (const char *, char *, size_t))
NEXT(canonicalize_file_name, char *, (const char *))
NEXT(getxattr, ssize_t, (const char *, const char *, void *, size_t))
NEXT(lgetxattr, ssize_t, (const char *, const char *, void *, size_t))
NEXT(listxattr, ssize_t, (const char *, char *, size_t))
NEXT(llistxattr, ssize_t, (const char *, char *, size_t))
NEXT(recvmsg, ssize_t, (int, struct msghdr *, int))
NEXT(epoll_ctl, int, (int, int, int, struct epoll_event *))
NEXT(stat, int, (const char *, struct stat *))
NEXT(stat64, int, (const char *, struct stat64 *))
NEXT(lstat, int, (const char *, struct stat *))
NEXT(lstat64, int, (const char *, struct stat64 *))
NEXT(fstat, int, (int, struct stat *))
NEXT(fstat64, int, (int, struct stat64 *))
NEXT(fstatat, int, (int, const char *, struct stat *, int))
NEXT(fstatat64, int, (int, const char *, struct stat64 *, int))
NEXT(__xstat, int, (int, const char *, struct stat *))
NEXT(__xstat64, int, (int, const char *, struct stat64 *))
NEXT(__lxstat, int, (int, const char *, struct stat *))
NEXT(__lxstat64, int, (int, const char *, struct stat64 *))
NEXT(__fxstat, int, (int, int, struct stat *))
NEXT(__fxstat64, int, (int, int, struct stat64 *))
NEXT(__fxstatat, int, (int, int, const char *, struct stat *, int))
NEXT(__fxstatat64, int, (int, int, const char *, struct stat64 *, int))
NEXT(statx, int, (int, const char *, int, unsigned, struct statx *))
NEXT(access, int, (const char *, int))
NEXT(faccessat, int, (int, const char *, int, int))
NEXT(euidaccess, int, (const char *, int))
NEXT(eaccess, int, (const char *, int))

_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "LP64: struct stat is struct stat64");

/* ---- paths ------------------------------------------------------------------------------ */

static int ends_with(const char *s, size_t n, const char *suffix) {
  size_t m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

#define NODE_FAIL_NTH 100

/* /proc/self/task/<tid>/fail-nth, /proc/<pid>/task/<tid>/fail-nth, /proc/thread-self/fail-nth */
static int is_fail_nth(const char *path) {
  const char *p;
  if (strncmp(path, "/proc/thread-self/fail-nth", 27) == 0) return 1;
  if (strncmp(path, "/proc/", 6) != 0) return 0;
  p = path + 6;
  if (strncmp(p, "self/", 5) == 0) {
    p += 5;
  } else {
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (*p++ != '/') return 0;
  }
  if (strncmp(p, "task/", 5) != 0) return 0;
  p += 5;
  if (*p < '0' || *p > '9') return 0;
  while (*p >= '0' && *p <= '9') p++;
  return strcmp(p, "/fail-nth") == 0;
}

/* With fault injection emulated, /sys/kernel/debug/... is the directory exec prepared. */
static const char *redirect(const char *path, char *buf, size_t size) {
  static const char debugfs[] = "/sys/kernel/debug";
  if (!i4j_debugfs || !path || strncmp(path, debugfs, sizeof debugfs - 1) != 0) return path;
  char next = path[sizeof debugfs - 1];
  if (next != 0 && next != '/') return path;
  int n = snprintf(buf, size, "%s%s", i4j_debugfs, path + sizeof debugfs - 1);
  return n > 0 && (size_t)n < size ? buf : path;
}

/* The file a path-taking call reaches: debugfs's stand-in, the testbed's copy, or path itself;
 *devnode (may be NULL) is the testbed's device node it names, if any. */
static const char *route(int dirfd, const char *path, char *buf, size_t size, const struct i4j_devnode **devnode) {
  const char *r = redirect(path, buf, size);
  if (r != path) {
    if (devnode) *devnode = NULL;
    return r;
  }
  return i4j_testbed_path(dirfd, path, buf, size, devnode);
}

/* NODE_IOMMU, NODE_VFIO or NODE_FAIL_NTH when (dirfd, path) names a file the shim serves (or,
   with i4j_kernel, records), else -1. */
static int node_at(int dirfd, const char *path) {
  if (!i4j_socket_path || !path) return -1;
  size_t n = strlen(path);
  if (i4j_debugfs && ends_with(path, n, "fail-nth") && is_fail_nth(path)) return NODE_FAIL_NTH;
  if (!ends_with(path, n, "iommu") && !(i4j_vfio && ends_with(path, n, "vfio"))) return -1;
  char full[PATH_MAX * 2];
  if (path[0] == '/') {
    if (n >= sizeof full) return -1;
    memcpy(full, path, n + 1);
  } else {
    int saved = errno;
    long base;
    if (dirfd == AT_FDCWD) {
      base = syscall(SYS_getcwd, full, (size_t)PATH_MAX);
      base = base > 0 ? (long)strlen(full) : -1;
    } else {
      char link[64];
      snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
      base = syscall(SYS_readlinkat, AT_FDCWD, link, full, (size_t)PATH_MAX - 1);
    }
    errno = saved;
    if (base <= 0 || full[0] != '/' || (size_t)base + 1 + n >= sizeof full) return -1;
    full[base] = '/';
    memcpy(full + base + 1, path, n + 1);
  }
  i4j_normalize(full);
  if (strcmp(full, "/dev/iommu") == 0) return NODE_IOMMU;
  if (i4j_vfio && strcmp(full, "/dev/vfio/vfio") == 0) return NODE_VFIO;
  return -1;
}

/* node_at for stat and access: only emulated nodes are answered by the shim. */
static int node_of(int dirfd, const char *path) { return i4j_kernel ? -1 : node_at(dirfd, path); }

static int fail(int err) {
  errno = err;
  return -1;
}

/* The calling thread's fail-nth file: a socket of its own, which read and write answer. */
static int fail_nth_open(int flags) {
  int sv[2];
  int saved = errno;
  if (syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0, sv) != 0) return -1;
  i4j_sys_close(sv[1]);
  uint64_t ino;
  int sock;
  if (i4j_sys_fstat_ino(sv[0], &ino, &sock) != 0) {
    i4j_sys_close(sv[0]);
    return fail(EIO);
  }
  errno = saved;
  i4j_track_set(sv[0], KIND_FAIL_NTH, ino);
  return sv[0];
}

static ssize_t fail_nth_read(void *buf, size_t count, off_t offset) {
  long v = i4j_fail_nth(FAIL_NTH_OP_GET, 0);
  if (v < 0) return fail((int)-v);
  char text[24];
  int n = snprintf(text, sizeof text, "%ld\n", v);
  if (offset < 0) return fail(EINVAL);
  if (offset >= n) return 0;
  size_t len = (size_t)n - (size_t)offset < count ? (size_t)n - (size_t)offset : count;
  if (len && i4j_self_write((uint64_t)(uintptr_t)buf, text + offset, len) != (long)len) return fail(EFAULT);
  return (ssize_t)len;
}

static ssize_t fail_nth_write(const void *buf, size_t count) {
  char text[24] = {0};
  size_t len = count < sizeof text - 1 ? count : sizeof text - 1;
  if (len && i4j_self_read((uint64_t)(uintptr_t)buf, text, len) != (long)len) return fail(EFAULT);
  char *end;
  errno = 0;
  unsigned long v = strtoul(text, &end, 0);
  while (*end == '\n' || *end == ' ') end++;
  if (end == text || *end != 0 || errno != 0 || v > 0xffffffffUL) return fail(EINVAL);
  long r = i4j_fail_nth(FAIL_NTH_OP_SET, (uint32_t)v);
  DBG("fail-nth = %lu -> %ld", v, r);
  return r < 0 ? fail((int)-r) : (ssize_t)count;
}

static int emulated_open(int node, int flags) {
  if (node == NODE_FAIL_NTH) return fail_nth_open(flags);
  if ((flags & O_CREAT) && (flags & O_EXCL)) return fail(EEXIST);
  if (flags & O_DIRECTORY) return fail(ENOTDIR);
  int r = i4j_open((uint32_t)node, 0, flags);
  DBG("open(%s, 0x%x) -> %d", node == NODE_IOMMU ? "/dev/iommu" : "/dev/vfio/vfio", flags, r);
  return r < 0 ? fail(-r) : r;
}

/*
 * An open of a node: emulated, or (i4j_kernel) made by libc as called, then recorded. `real` is
 * the libc call, evaluated only when the kernel is to be asked.
 */
#define OPEN_EMULATED_OR_RECORDED(node, flags, real) \
  ((node) >= 0 && !i4j_kernel ? emulated_open(node, flags) : kernel_opened(node, flags, real))

static int kernel_opened(int node, int flags, int r) {
  if (r >= 0 && (node == NODE_IOMMU || node == NODE_VFIO)) i4j_kernel_open(r, (uint32_t)node, flags, 0);
  return r;
}

/* Whether open(2) with these flags takes a mode argument. */
static int needs_mode(int flags) { return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE; }

#define MODE_ARG(flags, mode) \
  mode_t mode = 0; \
  if (needs_mode(flags)) { \
    va_list ap; \
    va_start(ap, flags); \
    mode = va_arg(ap, mode_t); \
    va_end(ap); \
  }

/* ---- open ------------------------------------------------------------------------------- */

/*
 * Where an open that no emulated node took goes (route), with the flags it is made with: a write
 * to a testbed attribute replaces its value, as sysfs's store does. *devnode is set when the path
 * is a testbed device node, which the caller opens with devnode_open instead. NULL (errno
 * EACCES): the open would create a file in the testbed, which sysfs never allows.
 */
static const char *open_route(int node, int dirfd, const char *path, int *flags, char *buf, size_t size,
                              const struct i4j_devnode **devnode) {
  *devnode = NULL;
  if (node >= 0) return path;
  const char *routed = route(dirfd, path, buf, size, devnode);
  if (routed == path) return path;
  if (i4j_testbed_creates(routed, *flags)) {
    errno = EACCES;
    return NULL;
  }
  if (i4j_testbed_truncates(routed, *flags)) *flags |= O_TRUNC;
  return routed;
}

/* The number a VFIO node's path ends in after `prefix` (/dev/vfio/N, /dev/vfio/devices/vfioN): 1 with
 *n, or 0. */
static int node_number(const char *path, const char *prefix, uint32_t *n) {
  size_t m = strlen(prefix);
  if (strncmp(path, prefix, m) != 0 || path[m] < '0' || path[m] > '9') return 0;
  char *end;
  unsigned long v = strtoul(path + m, &end, 10);
  if (*end != 0 || v > 0xffffffffUL) return 0;
  *n = (uint32_t)v;
  return 1;
}

/*
 * The VFIO nodes of the testbed: a group /dev/vfio/N and a device cdev /dev/vfio/devices/vfioN are
 * the server's VFIO layer's (ENOENT when it has none, or there is no server); /dev/vfio/vfio, when
 * the container is not emulated, is visible to stat and readdir only, as on a kernel without the
 * container.
 */
static int devnode_open(const struct i4j_devnode *devnode, int flags) {
  uint32_t node, index;
  if (!i4j_socket_path) {
    DBG("open(%s, 0x%x): no server -> ENOENT", devnode->path, flags);
    return fail(ENOENT);
  }
  if (node_number(devnode->path, "/dev/vfio/devices/vfio", &index))
    node = NODE_VFIO_DEVICE;
  else if (node_number(devnode->path, "/dev/vfio/", &index))
    node = NODE_VFIO_GROUP;
  else {
    DBG("open(%s, 0x%x): the container is not emulated -> ENOENT", devnode->path, flags);
    return fail(ENOENT);
  }
  if ((flags & O_CREAT) && (flags & O_EXCL)) return fail(EEXIST);
  if (flags & O_DIRECTORY) return fail(ENOTDIR);
  int r = i4j_open(node, index, flags);
  DBG("open(%s, 0x%x) -> %d", devnode->path, flags, r);
  return r < 0 ? fail(-r) : r;
}

/* Declares `routed` (where the open goes); returns early for a testbed device node or a file the
   testbed cannot create. */
#define OPEN_ROUTE(dirfd, path, flags) \
  char route_buf[PATH_MAX]; \
  const struct i4j_devnode *devnode; \
  const char *routed = open_route(node, dirfd, path, &(flags), route_buf, sizeof route_buf, &devnode); \
  if (devnode) return devnode_open(devnode, flags); \
  if (!routed) return -1

EXPORT int open(const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  int node = node_at(AT_FDCWD, path);
  OPEN_ROUTE(AT_FDCWD, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(open, routed, flags, mode));
}

EXPORT int open64(const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  int node = node_at(AT_FDCWD, path);
  OPEN_ROUTE(AT_FDCWD, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(open64, routed, flags, mode));
}

EXPORT int __open(const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  int node = node_at(AT_FDCWD, path);
  OPEN_ROUTE(AT_FDCWD, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(__open, routed, flags, mode));
}

EXPORT int __open64(const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  int node = node_at(AT_FDCWD, path);
  OPEN_ROUTE(AT_FDCWD, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(__open64, routed, flags, mode));
}

EXPORT int openat(int dirfd, const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  int node = node_at(dirfd, path);
  OPEN_ROUTE(dirfd, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(openat, dirfd, routed, flags, mode));
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
  MODE_ARG(flags, mode);
  int node = node_at(dirfd, path);
  OPEN_ROUTE(dirfd, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(openat64, dirfd, routed, flags, mode));
}

/* _FORTIFY_SOURCE: the compiler calls these when it cannot prove the flags need no mode. A write
   to a testbed attribute adds O_TRUNC, which needs no mode. */
EXPORT int __open_2(const char *path, int flags) {
  int node = node_at(AT_FDCWD, path);
  OPEN_ROUTE(AT_FDCWD, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(__open_2, routed, flags));
}

EXPORT int __open64_2(const char *path, int flags) {
  int node = node_at(AT_FDCWD, path);
  OPEN_ROUTE(AT_FDCWD, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(__open64_2, routed, flags));
}

EXPORT int __openat_2(int dirfd, const char *path, int flags) {
  int node = node_at(dirfd, path);
  OPEN_ROUTE(dirfd, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(__openat_2, dirfd, routed, flags));
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
  int node = node_at(dirfd, path);
  OPEN_ROUTE(dirfd, path, flags);
  return OPEN_EMULATED_OR_RECORDED(node, flags, CALL_NEXT(__openat64_2, dirfd, routed, flags));
}

/* glibc's fopen opens through an internal call the shim cannot see. */
static FILE *fopen_common(FILE *(*next)(const char *, const char *), const char *path, const char *mode) {
  char buf[PATH_MAX];
  const struct i4j_devnode *devnode;
  const char *routed = route(AT_FDCWD, path, buf, sizeof buf, &devnode);
  if (devnode) {
    int flags = strchr(mode, '+') ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
    int fd = devnode_open(devnode, flags | (strchr(mode, 'e') ? O_CLOEXEC : 0));
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, mode);
    if (!f) close(fd);
    return f;
  }
  if ((mode[0] == 'w' || mode[0] == 'a') && i4j_testbed_creates(routed, O_CREAT)) {
    errno = EACCES;
    return NULL;
  }
  if (!next) {
    errno = ENOSYS;
    return NULL;
  }
  return next(routed, mode);
}

EXPORT FILE *fopen(const char *path, const char *mode) { return fopen_common(next_fopen(), path, mode); }
EXPORT FILE *fopen64(const char *path, const char *mode) {
  return fopen_common(next_fopen64() ? next_fopen64() : next_fopen(), path, mode);
}

/* ---- directories ------------------------------------------------------------------------ */

/* A directory of the testbed: its stream lists the host's entries too when it is merged. */
static DIR *opendir_routed(const char *name) {
  char buf[PATH_MAX];
  if (!next_opendir()) {
    errno = ENOSYS;
    return NULL;
  }
  const char *routed = route(AT_FDCWD, name, buf, sizeof buf, NULL);
  DIR *d = next_opendir()(routed);
  if (d && routed != name && i4j_testbed_active()) i4j_testbed_dir_opened(d);
  return d;
}

EXPORT DIR *opendir(const char *name) { return opendir_routed(name); }

static struct dirent64 *readdir_common(DIR *d, struct dirent64 *(*next)(DIR *)) {
  int handled;
  struct dirent64 *e = i4j_testbed_readdir(d, next, &handled);
  if (handled) return e;
  if (!next) {
    errno = ENOSYS;
    return NULL;
  }
  return next(d);
}

EXPORT struct dirent *readdir(DIR *d) {
  return (struct dirent *)readdir_common(d, (struct dirent64 * (*)(DIR *)) next_readdir());
}
EXPORT struct dirent64 *readdir64(DIR *d) {
  return readdir_common(d, next_readdir64() ? next_readdir64() : (struct dirent64 * (*)(DIR *)) next_readdir());
}

/* The deprecated reentrant forms, for the same streams. */
static int readdir_r_common(DIR *d, struct dirent64 *entry, struct dirent64 **result) {
  int saved = errno;
  errno = 0;
  struct dirent64 *e = readdir64(d);
  int err = errno;
  errno = saved;
  if (!e) {
    *result = NULL;
    return err;
  }
  memcpy(entry, e, e->d_reclen < sizeof *entry ? e->d_reclen : sizeof *entry);
  *result = entry;
  return 0;
}

EXPORT int readdir_r(DIR *d, struct dirent *entry, struct dirent **result) {
  return readdir_r_common(d, (struct dirent64 *)entry, (struct dirent64 **)result);
}
EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result) {
  return readdir_r_common(d, entry, result);
}

EXPORT void rewinddir(DIR *d) {
  i4j_testbed_dir_rewound(d);
  if (next_rewinddir()) next_rewinddir()(d);
}

EXPORT int closedir(DIR *d) {
  i4j_testbed_dir_closed(d);
  return CALL_NEXT(closedir, d);
}

typedef int (*scandir_filter)(const struct dirent *);
typedef int (*scandir_compare)(const struct dirent **, const struct dirent **);

/* glibc's scandir lists through internal calls: for a testbed directory it is made here. */
static int scandir_testbed(const char *path, struct dirent ***list, scandir_filter filter, scandir_compare compare) {
  DIR *d = opendir_routed(path);
  if (!d) return -1;
  struct dirent **entries = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int err = 0;
  while ((e = readdir(d))) {
    if (filter && !filter(e)) continue;
    if (n == cap) {
      struct dirent **grown = realloc(entries, (cap = cap ? cap * 2 : 16) * sizeof *entries);
      if (!grown) {
        err = ENOMEM;
        break;
      }
      entries = grown;
    }
    if (!(entries[n] = malloc(e->d_reclen))) {
      err = ENOMEM;
      break;
    }
    memcpy(entries[n++], e, e->d_reclen);
  }
  closedir(d);
  if (err) {
    while (n) free(entries[--n]);
    free(entries);
    return fail(err);
  }
  if (compare) qsort(entries, n, sizeof *entries, (int (*)(const void *, const void *))compare);
  *list = entries;
  return (int)n;
}

static int is_testbed_dir(const char *path) {
  char buf[PATH_MAX];
  return i4j_testbed_active() && i4j_testbed_path(AT_FDCWD, path, buf, sizeof buf, NULL) != path;
}

EXPORT int scandir(const char *path, struct dirent ***list, scandir_filter filter, scandir_compare compare) {
  if (is_testbed_dir(path)) return scandir_testbed(path, list, filter, compare);
  return CALL_NEXT(scandir, path, list, filter, compare);
}
EXPORT int scandir64(const char *path, struct dirent64 ***list, int (*filter)(const struct dirent64 *),
                     int (*compare)(const struct dirent64 **, const struct dirent64 **)) {
  if (is_testbed_dir(path))
    return scandir_testbed(path, (struct dirent ***)list, (scandir_filter)filter, (scandir_compare)compare);
  return CALL_NEXT(scandir64, path, list, filter, compare);
}

/* ---- links and names -------------------------------------------------------------------- */

/* The kernel names testbed files by their place in DIR; the program sees them at theirs. */
static ssize_t unmapped(ssize_t n, char *buf) {
  if (n <= 0 || !i4j_testbed_active()) return n;
  char path[PATH_MAX];
  size_t len = (size_t)n < sizeof path ? (size_t)n : sizeof path - 1;
  memcpy(path, buf, len);
  size_t out = i4j_testbed_unmap(path, len);
  if (out == len) return n;
  memcpy(buf, path, out);
  return (ssize_t)out;
}

static int emulated(int fd, struct tracked *t);

/* The descriptor /proc/self/fd/N, /proc/thread-self/fd/N or /proc/<this pid>/fd/N names, or -1. */
static int proc_fd(const char *path) {
  const char *p;
  if (!path || strncmp(path, "/proc/", 6) != 0) return -1;
  p = path + 6;
  if (strncmp(p, "self/", 5) == 0) {
    p += 5;
  } else if (strncmp(p, "thread-self/", 12) == 0) {
    p += 12;
  } else {
    char *end;
    long pid = strtol(p, &end, 10);
    if (end == p || *end != '/' || pid != (long)syscall(SYS_getpid)) return -1;
    p = end + 1;
  }
  if (strncmp(p, "fd/", 3) != 0 || p[3] < '0' || p[3] > '9') return -1;
  char *end;
  long fd = strtol(p + 3, &end, 10);
  return *end == 0 && fd <= 0x7fffffff ? (int)fd : -1;
}

/*
 * What the kernel's /proc/self/fd/N link says for an emulated file opened at a node: the node's
 * path; for a device fd a group handed out, its anonymous inode's name (vfio/group.c:
 * vfio_device_open_file()). -1 for other descriptors, which the kernel answers.
 */
static ssize_t emulated_link(const char *path, char *buf, size_t size) {
  int fd = proc_fd(path);
  struct tracked t;
  if (fd < 0 || !emulated(fd, &t) || t.kind == KIND_KERNEL || t.kind == KIND_FAIL_NTH) return -1;
  char name[PATH_MAX];
  long n = i4j_node_path(fd, name, sizeof name);
  if (n < 0 && t.kind == KIND_VFIO_DEVICE) n = snprintf(name, sizeof name, "anon_inode:[vfio-device]");
  if (n < 0) return -1;
  size_t copied = (size_t)n < size ? (size_t)n : size;
  memcpy(buf, name, copied);
  return (ssize_t)copied;
}

EXPORT ssize_t readlink(const char *path, char *buf, size_t size) {
  ssize_t link = emulated_link(path, buf, size);
  if (link >= 0) return link;
  char routed[PATH_MAX];
  return unmapped(CALL_NEXT(readlink, route(AT_FDCWD, path, routed, sizeof routed, NULL), buf, size), buf);
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size) {
  ssize_t link = emulated_link(path, buf, size);
  if (link >= 0) return link;
  char routed[PATH_MAX];
  return unmapped(CALL_NEXT(readlinkat, dirfd, route(dirfd, path, routed, sizeof routed, NULL), buf, size), buf);
}

static char *unmapped_name(char *name) {
  if (name) i4j_testbed_unmap(name, strlen(name) + 1);
  return name;
}

/* glibc's realpath resolves with internal calls: it is given the testbed's path here. */
EXPORT char *realpath(const char *path, char *resolved) {
  char routed[PATH_MAX];
  if (!next_realpath()) {
    errno = ENOSYS;
    return NULL;
  }
  return unmapped_name(next_realpath()(route(AT_FDCWD, path, routed, sizeof routed, NULL), resolved));
}

EXPORT char *__realpath_chk(const char *path, char *resolved, size_t size) {
  char routed[PATH_MAX];
  if (!next___realpath_chk()) return realpath(path, resolved);
  return unmapped_name(next___realpath_chk()(route(AT_FDCWD, path, routed, sizeof routed, NULL), resolved, size));
}

EXPORT char *canonicalize_file_name(const char *path) {
  char routed[PATH_MAX];
  if (!next_canonicalize_file_name()) {
    errno = ENOSYS;
    return NULL;
  }
  return unmapped_name(next_canonicalize_file_name()(route(AT_FDCWD, path, routed, sizeof routed, NULL)));
}

/* ---- descriptors ------------------------------------------------------------------------ */

/* After a close of a tracked file: the server may tear it down now. Keeps errno. */
static void closed(const struct tracked *t) {
  int saved = errno;
  if (t->kind == KIND_KERNEL)
    i4j_kernel_closed(t->ino);
  else
    i4j_closed(t->ino);
  errno = saved;
}

static int is_channel(int fd) {
  struct tracked t;
  return i4j_track_get(fd, &t) && t.kind == TRACK_CHANNEL;
}

/* The tracked file fd names, revalidated: 1, or 0 when it is not an emulated file. */
static int emulated(int fd, struct tracked *t) {
  return i4j_track_get(fd, t) && t->kind != TRACK_CHANNEL && i4j_track_valid(fd, t);
}

/*
 * The kernel tears a file down before close() returns; the server learns of a last close only
 * from its end of the socketpair. So after closing an emulated file the shim asks the server to
 * look at once, and waits: a test that closes and then counts pins sees them released.
 */
EXPORT int close(int fd) {
  struct tracked t;
  if (!i4j_track_get(fd, &t)) return CALL_NEXT(close, fd);
  if (t.kind == TRACK_CHANNEL) return fail(EBADF);
  int valid = i4j_track_valid(fd, &t);
  i4j_track_clear(fd);
  int r = CALL_NEXT(close, fd);
  if (r == 0 && valid && t.kind != KIND_FAIL_NTH) closed(&t);
  return r;
}

#define CLOSED_MAX 64
struct range_walk {
  unsigned next; /* first fd not yet closed */
  int flags;
  int failed;
  unsigned nclosed;
  struct tracked closed[CLOSED_MAX]; /* files whose descriptors this closes */
};

static void close_gap(struct range_walk *w, unsigned last) {
  if (w->failed || w->next > last) return;
  if (syscall(SYS_close_range, w->next, last, w->flags) != 0) {
    if (errno != ENOSYS) {
      w->failed = errno;
      return;
    }
    for (unsigned fd = w->next; fd <= last && fd < (1u << 22); fd++) i4j_sys_close((int)fd);
  }
}

static void range_visit(int fd, const struct tracked *t, void *arg) {
  struct range_walk *w = arg;
  if (t->kind != TRACK_CHANNEL) {
    struct tracked v;
    if (w->nclosed < CLOSED_MAX && i4j_track_valid(fd, &v)) w->closed[w->nclosed++] = v;
    i4j_track_clear(fd);
    return;
  }
  if ((unsigned)fd > w->next) close_gap(w, (unsigned)fd - 1);
  w->next = (unsigned)fd + 1;
}

/* close_range(2) that leaves the shim's channels open. */
static int close_range_keeping_channels(unsigned first, unsigned last, int flags) {
  if (flags & CLOSE_RANGE_CLOEXEC) return (int)syscall(SYS_close_range, first, last, flags);
  struct range_walk w = {.next = first, .flags = flags};
  i4j_track_each(first, last, range_visit, &w);
  if (w.next != 0 && w.next <= last) close_gap(&w, last);
  for (unsigned i = 0; i < w.nclosed; i++) closed(&w.closed[i]);
  return w.failed ? fail(w.failed) : 0;
}

EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (first > last) return fail(EINVAL);
  return close_range_keeping_channels(first, last, flags);
}

EXPORT void closefrom(int lowfd) {
  int saved = errno;
  close_range_keeping_channels(lowfd < 0 ? 0u : (unsigned)lowfd, ~0u, 0);
  errno = saved;
}

static int after_dup(int from, int to, int has, const struct tracked *t) {
  if (to >= 0) {
    if (has)
      i4j_track_set(to, t->kind, t->ino);
    else
      i4j_track_clear(to);
  }
  (void)from;
  return to;
}

/* dup2/dup3 closed what newfd named: if that was an emulated file, the server may tear it down. */
static int after_dup_onto(int r, int replaced, const struct tracked *old) {
  if (r >= 0 && replaced) closed(old);
  return r;
}

EXPORT int dup(int fd) {
  if (is_channel(fd)) return fail(EBADF);
  struct tracked t;
  int has = emulated(fd, &t);
  return after_dup(fd, CALL_NEXT(dup, fd), has, &t);
}

/*
 * dup2/dup3 onto newfd: a channel there moves away first; an emulated file there is closed by
 * the call (*replaced).
 */
static int before_dup_onto(int oldfd, int newfd, struct tracked *t, int *has, struct tracked *old, int *replaced) {
  if (is_channel(oldfd)) return fail(EBADF);
  if (newfd != oldfd && is_channel(newfd)) {
    int r = i4j_channel_relocate(newfd);
    if (r < 0) return fail(-r);
  }
  *has = emulated(oldfd, t);
  *replaced = newfd != oldfd && emulated(newfd, old);
  return 0;
}

EXPORT int dup2(int oldfd, int newfd) {
  struct tracked t, old;
  int has, replaced;
  if (before_dup_onto(oldfd, newfd, &t, &has, &old, &replaced) != 0) return -1;
  int r = CALL_NEXT(dup2, oldfd, newfd);
  if (oldfd == newfd) return r;
  return after_dup_onto(after_dup(oldfd, r, has, &t), replaced, &old);
}

EXPORT int dup3(int oldfd, int newfd, int flags) {
  struct tracked t, old;
  int has, replaced;
  if (before_dup_onto(oldfd, newfd, &t, &has, &old, &replaced) != 0) return -1;
  int r = CALL_NEXT(dup3, oldfd, newfd, flags);
  return after_dup_onto(after_dup(oldfd, r, has, &t), replaced, &old);
}

static int fcntl_common(int (*next)(int, int, ...), int fd, int cmd, void *arg) {
  if (!next) return fail(ENOSYS);
  struct tracked t;
  if (!i4j_track_get(fd, &t)) return next(fd, cmd, arg);
  if (t.kind == TRACK_CHANNEL) return fail(EBADF);
  if (!i4j_track_valid(fd, &t)) return next(fd, cmd, arg);
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
      return after_dup(fd, next(fd, cmd, arg), 1, &t);
    case F_SETFL:
      /* no fasync support: O_ASYNC is accepted and never shows in F_GETFL (main.c: iommufd_fops) */
      if (t.kind == KIND_IOMMUFD) arg = (void *)((uintptr_t)arg & ~(uintptr_t)O_ASYNC);
      return next(fd, cmd, arg);
    default:
      return next(fd, cmd, arg);
  }
}

EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return fcntl_common(next_fcntl(), fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  return fcntl_common(next_fcntl64() ? next_fcntl64() : next_fcntl(), fd, cmd, arg);
}

/* ---- ioctl, read, write ----------------------------------------------------------------- */

/* With i4j_kernel: a descriptor of the real node this process did not open (inherited, received)
   is recorded from its first call on. Returns 1 if fd is one. */
static int adopt(int fd) {
  struct stat st;
  int saved = errno;
  int r = (int)syscall(SYS_fstat, fd, &st);
  errno = saved;
  if (r != 0 || !S_ISCHR(st.st_mode) || st.st_rdev == 0) return 0;
  uint32_t node;
  if (st.st_rdev == iommu_rdev)
    node = NODE_IOMMU;
  else if (i4j_vfio && st.st_rdev == vfio_rdev)
    node = NODE_VFIO;
  else
    return 0;
  i4j_kernel_open(fd, node, 0, 1);
  return 1;
}

EXPORT int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  struct tracked t;
  if (!i4j_track_get(fd, &t)) {
    /* A file this process never saw being made (inherited through exec, received)? */
    if (!i4j_socket_path || ((request >> 8) & 0xff) != 0x3b || !(i4j_kernel ? adopt(fd) : i4j_classify(fd)) ||
        !i4j_track_get(fd, &t))
      return CALL_NEXT(ioctl, fd, request, arg);
  } else if (t.kind == TRACK_CHANNEL) {
    return fail(EBADF);
  } else if (!i4j_track_valid(fd, &t)) {
    return CALL_NEXT(ioctl, fd, request, arg);
  }
  if (t.kind == KIND_KERNEL) {
    if (((request >> 8) & 0xff) != 0x3b || !next_ioctl()) return CALL_NEXT(ioctl, fd, request, arg);
    long r = i4j_kernel_ioctl(fd, &t, request, arg, next_ioctl());
    DBG("kernel ioctl(%d, 0x%lx) -> %ld", fd, request, r);
    return r < 0 ? fail((int)-r) : (int)r;
  }
  switch ((unsigned)request) {
    case FIOCLEX:
    case FIONCLEX:
    case FIONBIO:
      return CALL_NEXT(ioctl, fd, request, arg);
    case FIOASYNC: {
      int on;
      if (i4j_self_read((uint64_t)(uintptr_t)arg, &on, sizeof on) != (long)sizeof on) return fail(EFAULT);
      return on ? fail(ENOTTY) : 0;
    }
    default:
      break;
  }
  /* access and fault files have no ioctls */
  if (t.kind != KIND_IOMMUFD && t.kind != KIND_VFIO_GROUP && t.kind != KIND_VFIO_DEVICE) return fail(ENOTTY);
  long r = i4j_ioctl(fd, &t, request, arg);
  DBG("ioctl(%d, 0x%lx) -> %ld", fd, request, r);
  return r < 0 ? fail((int)-r) : (int)r;
}

/*
 * A fault fd polls readable while the server keeps a byte in its queue (a group is pending). The
 * bytes are the server's signal, not data: they go before each read, which the server answers by
 * signalling again if groups remain.
 */
static void drain_readiness(int fd) {
  char junk[64];
  int saved = errno;
  while (syscall(SYS_recvfrom, fd, junk, sizeof junk, MSG_DONTWAIT, NULL, NULL) > 0) {
  }
  errno = saved;
}

EXPORT ssize_t read(int fd, void *buf, size_t count) {
  struct tracked t;
  if (i4j_track_get(fd, &t)) {
    if (t.kind == TRACK_CHANNEL) return fail(EBADF);
    if (t.kind != KIND_KERNEL && i4j_track_valid(fd, &t)) {
      if (t.kind == KIND_IOMMUFD || t.kind == KIND_VFIO_GROUP) return fail(EINVAL);
      if (t.kind == KIND_FAIL_NTH) return fail_nth_read(buf, count, 0);
      if (t.kind == KIND_FAULT) drain_readiness(fd);
      long r = i4j_rw(fd, &t, T_READ, buf, count);
      return r < 0 ? fail((int)-r) : r;
    }
  }
  return CALL_NEXT(read, fd, buf, count);
}

EXPORT ssize_t write(int fd, const void *buf, size_t count) {
  struct tracked t;
  if (i4j_track_get(fd, &t)) {
    if (t.kind == TRACK_CHANNEL) return fail(EBADF);
    if (t.kind != KIND_KERNEL && i4j_track_valid(fd, &t)) {
      if (t.kind == KIND_IOMMUFD || t.kind == KIND_VFIO_GROUP) return fail(EINVAL);
      if (t.kind == KIND_FAIL_NTH) return fail_nth_write(buf, count);
      long r = i4j_rw(fd, &t, T_WRITE, (void *)buf, count);
      return r < 0 ? fail((int)-r) : r;
    }
  }
  return CALL_NEXT(write, fd, buf, count);
}

/*
 * pread/pwrite reach the fail-nth file and VFIO files; the others answer as a socket would
 * (ESPIPE). Returns 1 with *r when fd is one of those.
 */
static int positioned(int fd, int type, void *buf, size_t count, off_t offset, ssize_t *r) {
  struct tracked t;
  if (!i4j_track_get(fd, &t) || t.kind == TRACK_CHANNEL || !i4j_track_valid(fd, &t)) return 0;
  if (t.kind == KIND_FAIL_NTH) {
    *r = type == T_PREAD ? fail_nth_read(buf, count, offset) : fail_nth_write(buf, count);
  } else if (t.kind == KIND_VFIO_GROUP) {
    *r = fail(EINVAL); /* the group has no read or write */
  } else if (t.kind == KIND_VFIO_DEVICE) {
    long v = offset < 0 ? -EINVAL : i4j_prw(fd, &t, type, buf, count, (uint64_t)offset, 0);
    *r = v < 0 ? fail((int)-v) : v;
  } else {
    return 0;
  }
  return 1;
}

EXPORT ssize_t pread(int fd, void *buf, size_t count, off_t offset) {
  ssize_t r;
  return positioned(fd, T_PREAD, buf, count, offset, &r) ? r : CALL_NEXT(pread, fd, buf, count, offset);
}
EXPORT ssize_t pread64(int fd, void *buf, size_t count, off64_t offset) {
  ssize_t r;
  return positioned(fd, T_PREAD, buf, count, (off_t)offset, &r) ? r : CALL_NEXT(pread64, fd, buf, count, offset);
}
/*
 * _FORTIFY_SOURCE's checked forms (Debian builds QEMU with them): a count larger than the buffer
 * goes to libc's own, which aborts as it would; the rest is the plain call.
 */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen) {
  if (count > buflen && next___read_chk()) return next___read_chk()(fd, buf, count, buflen);
  return read(fd, buf, count);
}
EXPORT ssize_t __pread_chk(int fd, void *buf, size_t count, off_t offset, size_t buflen) {
  if (count > buflen && next___pread_chk()) return next___pread_chk()(fd, buf, count, offset, buflen);
  return pread(fd, buf, count, offset);
}
EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t count, off64_t offset, size_t buflen) {
  if (count > buflen && next___pread64_chk()) return next___pread64_chk()(fd, buf, count, offset, buflen);
  return pread64(fd, buf, count, offset);
}
EXPORT ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
  ssize_t r;
  return positioned(fd, T_PWRITE, (void *)buf, count, offset, &r) ? r : CALL_NEXT(pwrite, fd, buf, count, offset);
}
EXPORT ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
  ssize_t r;
  return positioned(fd, T_PWRITE, (void *)buf, count, (off_t)offset, &r) ? r
                                                                         : CALL_NEXT(pwrite64, fd, buf, count, offset);
}

/*
 * preadv/pwritev on a VFIO device: one pread/pwrite per buffer, in order, until one falls short
 * (read_write.c: do_loop_readv_writev(), which files without read_iter get). 1 with *r when fd is a
 * VFIO file.
 */
static int positioned_vector(int fd, int type, const struct iovec *iov, int count, off_t offset, ssize_t *r) {
  struct tracked t;
  if (!i4j_track_get(fd, &t) || (t.kind != KIND_VFIO_DEVICE && t.kind != KIND_VFIO_GROUP) || !i4j_track_valid(fd, &t))
    return 0;
  if (t.kind == KIND_VFIO_GROUP || count < 0 || count > IOV_MAX || offset < 0) {
    *r = fail(EINVAL);
    return 1;
  }
  struct iovec local[IOV_MAX];
  if (count && i4j_self_read((uint64_t)(uintptr_t)iov, local, (size_t)count * sizeof *iov) !=
                   (long)((size_t)count * sizeof *iov)) {
    *r = fail(EFAULT);
    return 1;
  }
  ssize_t done = 0;
  for (int i = 0; i < count; i++) {
    if (local[i].iov_len == 0) continue;
    long n = i4j_prw(fd, &t, type, local[i].iov_base, local[i].iov_len, (uint64_t)offset + (uint64_t)done, 0);
    if (n < 0) {
      *r = done ? done : fail((int)-n);
      return 1;
    }
    done += n;
    if ((size_t)n < local[i].iov_len) break;
  }
  *r = done;
  return 1;
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int count, off_t offset) {
  ssize_t r;
  return positioned_vector(fd, T_PREAD, iov, count, offset, &r) ? r : CALL_NEXT(preadv, fd, iov, count, offset);
}
EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int count, off_t offset) {
  ssize_t r;
  return positioned_vector(fd, T_PWRITE, iov, count, offset, &r) ? r : CALL_NEXT(pwritev, fd, iov, count, offset);
}
EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int count, off64_t offset) {
  ssize_t r;
  return positioned_vector(fd, T_PREAD, iov, count, (off_t)offset, &r) ? r
                                                                       : CALL_NEXT(preadv64, fd, iov, count, offset);
}
EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int count, off64_t offset) {
  ssize_t r;
  return positioned_vector(fd, T_PWRITE, iov, count, (off_t)offset, &r) ? r
                                                                        : CALL_NEXT(pwritev64, fd, iov, count, offset);
}

/* ---- mmap ------------------------------------------------------------------------------- */

/* Whether fd is a VFIO group or device (its mmap: the device's trapped mapping; a group's, ENODEV). */
static int vfio_file(int fd, struct tracked *t) {
  return fd >= 0 && i4j_track_get(fd, t) && (t->kind == KIND_VFIO_DEVICE || t->kind == KIND_VFIO_GROUP) &&
         i4j_track_valid(fd, t);
}

static void *map_common(void *(*next)(void *, size_t, int, int, int, off_t), void *addr, size_t length, int prot,
                        int flags, int fd, off_t offset) {
  if (!next) {
    errno = ENOSYS;
    return MAP_FAILED;
  }
  struct tracked t;
  if (!(flags & MAP_ANONYMOUS) && vfio_file(fd, &t))
    return i4j_devmap_map(addr, length, prot, flags, fd, &t, offset, next);
  if (flags & MAP_FIXED) { /* the new mapping replaces a trapped or remembered one */
    i4j_devmap_forget(addr, length);
    i4j_share_forget_mappings(addr, length);
  }
  void *r = next(addr, length, prot, flags, fd, offset);
  if (r != MAP_FAILED) i4j_share_note_mapping(r, length, flags, fd, (int64_t)offset);
  return r;
}

EXPORT void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
  return map_common(next_mmap(), addr, length, prot, flags, fd, offset);
}
EXPORT void *mmap64(void *addr, size_t length, int prot, int flags, int fd, off64_t offset) {
  return map_common(next_mmap64() ? next_mmap64() : next_mmap(), addr, length, prot, flags, fd, (off_t)offset);
}

EXPORT int munmap(void *addr, size_t length) {
  i4j_devmap_forget(addr, length);
  i4j_share_forget_mappings(addr, length);
  return CALL_NEXT(munmap, addr, length);
}

/* A trapped mapping does not move or grow (devmap.h). */
EXPORT void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  void *new_address = va_arg(ap, void *);
  va_end(ap);
  if (i4j_devmap_overlaps(old, old_size ? old_size : 1)) {
    errno = EFAULT;
    return MAP_FAILED;
  }
  if (!next_mremap()) {
    errno = ENOSYS;
    return MAP_FAILED;
  }
  if (flags & MREMAP_FIXED) i4j_devmap_forget(new_address, new_size);
  i4j_share_forget_mappings(old, old_size);
  if (flags & MREMAP_FIXED) i4j_share_forget_mappings(new_address, new_size);
  return next_mremap()(old, old_size, new_size, flags, new_address);
}

/* A trapped range stays inaccessible, whatever protection the program asks for (devmap.h). */
EXPORT int mprotect(void *addr, size_t length, int prot) {
  if (i4j_devmap_overlaps(addr, length)) return 0;
  return CALL_NEXT(mprotect, addr, length, prot);
}

/* Descriptors received over SCM_RIGHTS may be emulated files made in another process. */
EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  ssize_t r = CALL_NEXT(recvmsg, fd, msg, flags);
  if (r < 0 || !i4j_socket_path || !msg || !msg->msg_control || msg->msg_controllen == 0) return r;
  int saved = errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int received;
      memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
      if (i4j_classify(received) == TRACK_NONE) i4j_track_clear(received);
    }
  }
  errno = saved;
  return r;
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
  struct tracked t;
  if (op == EPOLL_CTL_ADD && emulated(fd, &t) && t.kind != KIND_FAULT && t.kind != KIND_KERNEL)
    return fail(EPERM); /* no poll */
  return CALL_NEXT(epoll_ctl, epfd, op, fd, event);
}

/* ---- stat and access -------------------------------------------------------------------- */

/* /dev/iommu and the emulated /dev/vfio/vfio: misc devices. */
static void fake_stat(struct stat *st, int node) {
  struct stat dev;
  int saved = errno;
  if (syscall(SYS_newfstatat, AT_FDCWD, "/dev/null", &dev, 0) != 0) memset(&dev, 0, sizeof dev);
  errno = saved;
  memset(st, 0, sizeof *st);
  st->st_dev = dev.st_dev;
  st->st_ino = IOMMU_INO;
  st->st_mode = S_IFCHR | 0660;
  st->st_nlink = 1;
  st->st_rdev = makedev(10, node == NODE_VFIO ? VFIO_MINOR : IOMMU_MINOR);
  st->st_blksize = 4096;
  st->st_atim = dev.st_atim;
  st->st_mtim = dev.st_mtim;
  st->st_ctim = dev.st_ctim;
}

static int statx_of(struct statx *stx, const struct stat *stp) {
  struct stat st = *stp;
  memset(stx, 0, sizeof *stx);
  stx->stx_mask = STATX_BASIC_STATS;
  stx->stx_blksize = 4096;
  stx->stx_nlink = 1;
  stx->stx_mode = (uint16_t)st.st_mode;
  stx->stx_ino = st.st_ino;
  stx->stx_rdev_major = major(st.st_rdev);
  stx->stx_rdev_minor = minor(st.st_rdev);
  stx->stx_dev_major = major(st.st_dev);
  stx->stx_dev_minor = minor(st.st_dev);
  stx->stx_atime.tv_sec = st.st_atim.tv_sec;
  stx->stx_mtime.tv_sec = st.st_mtim.tv_sec;
  stx->stx_ctime.tv_sec = st.st_ctim.tv_sec;
  return 0;
}

static int fake_statx(struct statx *stx, int node) {
  struct stat st;
  fake_stat(&st, node);
  return statx_of(stx, &st);
}

static int stat_fd(int fd) {
  struct tracked t;
  return emulated(fd, &t) && t.kind == KIND_IOMMUFD;
}

/* fstatat-style (dirfd, "", AT_EMPTY_PATH): the call is about dirfd itself. */
static int empty_path(const char *path, int flags) { return path && path[0] == 0 && (flags & AT_EMPTY_PATH); }

/* The emulated node fstatat-style (dirfd, path, flags) names (an emulated descriptor counts as
   /dev/iommu), or -1. */
static int stat_target(int dirfd, const char *path, int flags) {
  if (empty_path(path, flags)) return stat_fd(dirfd) ? (int)NODE_IOMMU : -1;
  return node_of(dirfd, path);
}

#define FAKE(buf, node) (fake_stat((struct stat *)(buf), node), 0)
#define FAKE_FD(buf) FAKE(buf, NODE_IOMMU)

static int as_devnode(int r, const struct i4j_devnode *devnode, struct stat *st);

/*
 * fstat of a VFIO file: the testbed node it was opened at, as stat shows that; a device fd a group
 * handed out is an anonymous inode (fs/anon_inodes.c: mode 0600, no type). 1, or 0 when fd is no
 * VFIO file.
 */
static int vfio_fstat(int fd, struct stat *st) {
  struct tracked t;
  if (!vfio_file(fd, &t)) return 0;
  char path[PATH_MAX], buf[PATH_MAX];
  const struct i4j_devnode *devnode = NULL;
  if (i4j_node_path(fd, path, sizeof path) > 0) {
    const char *routed = i4j_testbed_path(AT_FDCWD, path, buf, sizeof buf, &devnode);
    int saved = errno;
    if (devnode && syscall(SYS_newfstatat, AT_FDCWD, routed, st, 0) == 0) {
      errno = saved;
      as_devnode(0, devnode, st);
      return 1;
    }
    errno = saved;
  }
  memset(st, 0, sizeof *st);
  st->st_mode = S_IRUSR | S_IWUSR;
  st->st_nlink = 1;
  st->st_blksize = 4096;
  return 1;
}

/* fstat and its variants on fd: emulated, or `call`. */
#define FSTAT(fd, buf, call) (stat_fd(fd) ? FAKE_FD(buf) : vfio_fstat(fd, (struct stat *)(buf)) ? 0 : (call))

/* A testbed device node is its empty file, shown as the character device it stands for. */
static int as_devnode(int r, const struct i4j_devnode *devnode, struct stat *st) {
  if (r == 0 && devnode) {
    st->st_mode = S_IFCHR | devnode->mode;
    st->st_rdev = makedev(devnode->major, devnode->minor);
    st->st_size = 0;
    st->st_blocks = 0;
  }
  return r;
}

/* Makes `call` (which uses `routed`) on the path route gives, and fixes up a device node. */
#define STAT_ROUTED(dirfd, path, buf, call) \
  do { \
    char route_buf[PATH_MAX]; \
    const struct i4j_devnode *devnode; \
    const char *routed = route(dirfd, path, route_buf, sizeof route_buf, &devnode); \
    return as_devnode(call, devnode, (struct stat *)(buf)); \
  } while (0)

#define STAT_PATH(dirfd, path, flags, buf, call) \
  do { \
    if (empty_path(path, flags) && vfio_fstat(dirfd, (struct stat *)(buf))) return 0; \
    int node_ = stat_target(dirfd, path, flags); \
    if (node_ >= 0) return FAKE(buf, node_); \
    STAT_ROUTED(dirfd, path, buf, call); \
  } while (0)

EXPORT int stat(const char *path, struct stat *buf) { STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(stat, routed, buf)); }
EXPORT int stat64(const char *path, struct stat64 *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(stat64, routed, buf));
}
EXPORT int lstat(const char *path, struct stat *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(lstat, routed, buf));
}
EXPORT int lstat64(const char *path, struct stat64 *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(lstat64, routed, buf));
}
EXPORT int fstat(int fd, struct stat *buf) { return FSTAT(fd, buf, CALL_NEXT(fstat, fd, buf)); }
EXPORT int fstat64(int fd, struct stat64 *buf) { return FSTAT(fd, buf, CALL_NEXT(fstat64, fd, buf)); }
EXPORT int fstatat(int dirfd, const char *path, struct stat *buf, int flags) {
  STAT_PATH(dirfd, path, flags, buf, CALL_NEXT(fstatat, dirfd, routed, buf, flags));
}
EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *buf, int flags) {
  STAT_PATH(dirfd, path, flags, buf, CALL_NEXT(fstatat64, dirfd, routed, buf, flags));
}
/* Binaries built against glibc < 2.33 call these. */
EXPORT int __xstat(int ver, const char *path, struct stat *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(__xstat, ver, routed, buf));
}
EXPORT int __xstat64(int ver, const char *path, struct stat64 *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(__xstat64, ver, routed, buf));
}
EXPORT int __lxstat(int ver, const char *path, struct stat *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(__lxstat, ver, routed, buf));
}
EXPORT int __lxstat64(int ver, const char *path, struct stat64 *buf) {
  STAT_PATH(AT_FDCWD, path, 0, buf, CALL_NEXT(__lxstat64, ver, routed, buf));
}
EXPORT int __fxstat(int ver, int fd, struct stat *buf) { return FSTAT(fd, buf, CALL_NEXT(__fxstat, ver, fd, buf)); }
EXPORT int __fxstat64(int ver, int fd, struct stat64 *buf) {
  return FSTAT(fd, buf, CALL_NEXT(__fxstat64, ver, fd, buf));
}
EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags) {
  STAT_PATH(dirfd, path, flags, buf, CALL_NEXT(__fxstatat, ver, dirfd, routed, buf, flags));
}
EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *buf, int flags) {
  STAT_PATH(dirfd, path, flags, buf, CALL_NEXT(__fxstatat64, ver, dirfd, routed, buf, flags));
}
EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf) {
  struct stat vfio;
  if (empty_path(path, flags) && vfio_fstat(dirfd, &vfio)) return statx_of(buf, &vfio);
  int node = stat_target(dirfd, path, flags);
  if (node >= 0) return fake_statx(buf, node);
  char route_buf[PATH_MAX];
  const struct i4j_devnode *devnode;
  const char *routed = route(dirfd, path, route_buf, sizeof route_buf, &devnode);
  int r = CALL_NEXT(statx, dirfd, routed, flags, mask, buf);
  if (r == 0 && devnode) {
    buf->stx_mode = (uint16_t)(S_IFCHR | devnode->mode);
    buf->stx_rdev_major = devnode->major;
    buf->stx_rdev_minor = devnode->minor;
    buf->stx_size = 0;
    buf->stx_blocks = 0;
  }
  return r;
}

/* /dev/iommu is crw-rw----: readable and writable, never executable. */
static int access_result(int mode) { return (mode & X_OK) ? fail(EACCES) : 0; }

#define ACCESS_PATH(dirfd, path, mode, call) \
  do { \
    if (node_of(dirfd, path) >= 0) return access_result(mode); \
    char route_buf[PATH_MAX]; \
    const char *routed = route(dirfd, path, route_buf, sizeof route_buf, NULL); \
    return call; \
  } while (0)

EXPORT int access(const char *path, int mode) { ACCESS_PATH(AT_FDCWD, path, mode, CALL_NEXT(access, routed, mode)); }
EXPORT int faccessat(int dirfd, const char *path, int mode, int flags) {
  ACCESS_PATH(dirfd, path, mode, CALL_NEXT(faccessat, dirfd, routed, mode, flags));
}
EXPORT int euidaccess(const char *path, int mode) {
  ACCESS_PATH(AT_FDCWD, path, mode, CALL_NEXT(euidaccess, routed, mode));
}
EXPORT int eaccess(const char *path, int mode) { ACCESS_PATH(AT_FDCWD, path, mode, CALL_NEXT(eaccess, routed, mode)); }

/* Extended attributes: ls -l asks for a security label and an ACL of every name it lists. */
EXPORT ssize_t getxattr(const char *path, const char *name, void *value, size_t size) {
  char routed[PATH_MAX];
  return CALL_NEXT(getxattr, route(AT_FDCWD, path, routed, sizeof routed, NULL), name, value, size);
}
EXPORT ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size) {
  char routed[PATH_MAX];
  return CALL_NEXT(lgetxattr, route(AT_FDCWD, path, routed, sizeof routed, NULL), name, value, size);
}
EXPORT ssize_t listxattr(const char *path, char *list, size_t size) {
  char routed[PATH_MAX];
  return CALL_NEXT(listxattr, route(AT_FDCWD, path, routed, sizeof routed, NULL), list, size);
}
EXPORT ssize_t llistxattr(const char *path, char *list, size_t size) {
  char routed[PATH_MAX];
  return CALL_NEXT(llistxattr, route(AT_FDCWD, path, routed, sizeof routed, NULL), list, size);
}

/* ---- start-up --------------------------------------------------------------------------- */

/* Emulated files inherited through exec (opened without O_CLOEXEC by the previous image). */
static void scan_inherited(void) {
  int dir = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return;
  char buf[4096];
  long n;
  while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      off += d->d_reclen;
      char *end;
      long fd = strtol(d->d_name, &end, 10);
      if (*end == 0 && end != d->d_name && fd != dir) i4j_classify((int)fd);
    }
  }
  i4j_sys_close(dir);
}

__attribute__((constructor)) static void shim_init(void) {
  int saved = errno;
  i4j_config_load();
  i4j_testbed_load();
  if (i4j_kernel) {
    struct stat st;
    if (syscall(SYS_newfstatat, AT_FDCWD, "/dev/iommu", &st, 0) == 0 && S_ISCHR(st.st_mode)) iommu_rdev = st.st_rdev;
    if (syscall(SYS_newfstatat, AT_FDCWD, "/dev/vfio/vfio", &st, 0) == 0 && S_ISCHR(st.st_mode)) vfio_rdev = st.st_rdev;
  }
  i4j_channel_init();
  if (i4j_socket_path && !i4j_kernel) scan_inherited();
  DBG("loaded; server socket %s", i4j_socket_path ? i4j_socket_path : "(none: everything passes through)");
  errno = saved;
}
