/*
 * Which descriptors of this process are emulated files or the shim's own channels.
 *
 * A two-level table indexed by fd: pages of 1024 slots are allocated on first use and never
 * freed, so readers need no lock (one acquire load per level). Entries can go stale when a
 * descriptor is closed behind the shim's back (a raw system call, fclose of an fdopen'ed
 * iommufd), so every use that would not pass through to the kernel revalidates the inode.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdtable.h"
#include "proto.h"
#include "sys.h"

#define PAGE_BITS 10
#define PAGE_SLOTS (1u << PAGE_BITS)
#define MAX_PAGES (1u << 12) /* fds below 4 Mi */

struct slot {
  _Atomic int kind;
  _Atomic uint64_t ino;
};

static _Atomic(struct slot *) pages[MAX_PAGES];

static struct slot *slot_of(int fd, int create) {
  if (fd < 0 || (unsigned)fd >= MAX_PAGES * PAGE_SLOTS) return NULL;
  unsigned p = (unsigned)fd >> PAGE_BITS;
  struct slot *page = atomic_load_explicit(&pages[p], memory_order_acquire);
  if (!page && create) {
    struct slot *fresh = calloc(PAGE_SLOTS, sizeof(struct slot));
    if (!fresh) return NULL;
    struct slot *expected = NULL;
    if (atomic_compare_exchange_strong(&pages[p], &expected, fresh)) {
      page = fresh;
    } else {
      free(fresh);
      page = expected;
    }
  }
  return page ? &page[(unsigned)fd & (PAGE_SLOTS - 1)] : NULL;
}

int i4j_track_get(int fd, struct tracked *out) {
  struct slot *s = slot_of(fd, 0);
  if (!s) return 0;
  int kind = atomic_load_explicit(&s->kind, memory_order_acquire);
  if (kind == TRACK_NONE) return 0;
  out->kind = kind;
  out->ino = atomic_load_explicit(&s->ino, memory_order_relaxed);
  return 1;
}

void i4j_track_set(int fd, int kind, uint64_t ino) {
  struct slot *s = slot_of(fd, 1);
  if (!s) return;
  atomic_store_explicit(&s->kind, TRACK_NONE, memory_order_relaxed);
  atomic_store_explicit(&s->ino, ino, memory_order_relaxed);
  atomic_store_explicit(&s->kind, kind, memory_order_release);
}

void i4j_track_clear(int fd) {
  struct slot *s = slot_of(fd, 0);
  if (s) atomic_store_explicit(&s->kind, TRACK_NONE, memory_order_release);
}

void i4j_track_each(unsigned lo, unsigned hi, void (*fn)(int, const struct tracked *, void *), void *arg) {
  if (hi >= MAX_PAGES * PAGE_SLOTS) hi = MAX_PAGES * PAGE_SLOTS - 1;
  for (unsigned p = lo >> PAGE_BITS; p <= (hi >> PAGE_BITS); p++) {
    struct slot *page = atomic_load_explicit(&pages[p], memory_order_acquire);
    if (!page) continue;
    for (unsigned i = 0; i < PAGE_SLOTS; i++) {
      unsigned fd = (p << PAGE_BITS) | i;
      if (fd < lo || fd > hi) continue;
      int kind = atomic_load_explicit(&page[i].kind, memory_order_acquire);
      if (kind == TRACK_NONE) continue;
      struct tracked t = {kind, atomic_load_explicit(&page[i].ino, memory_order_relaxed)};
      fn((int)fd, &t, arg);
    }
  }
}

int i4j_track_valid(int fd, struct tracked *out) {
  if (!i4j_track_get(fd, out)) return 0;
  uint64_t ino;
  int sock = 0;
  int saved = errno;
  int r = i4j_sys_fstat_ino(fd, &ino, &sock);
  errno = saved;
  if (r == 0 && sock && out->kind != KIND_KERNEL && ino == out->ino) return 1;
  if (r == 0 && !sock && out->kind == KIND_KERNEL && i4j_kernel_ino(ino, 0) >> 32 == out->ino >> 32) return 1;
  DBG("fd %d no longer names the tracked file: forgotten", fd);
  i4j_track_clear(fd);
  return 0;
}

int i4j_classify(int fd) {
  struct sockaddr_un a;
  socklen_t len = sizeof a;
  int saved = errno;
  long r = syscall(SYS_getpeername, fd, (struct sockaddr *)&a, &len);
  errno = saved;
  size_t prefix = sizeof(I4J_NAME_PREFIX) - 1;
  size_t base = offsetof(struct sockaddr_un, sun_path);
  if (r != 0 || a.sun_family != AF_UNIX || len < base + 1 + prefix + 1 || a.sun_path[0] != 0 ||
      memcmp(a.sun_path + 1, I4J_NAME_PREFIX, prefix) != 0)
    return TRACK_NONE;
  int kind = (unsigned char)a.sun_path[1 + prefix];
  if (kind != KIND_IOMMUFD && kind != KIND_ACCESS && kind != KIND_FAULT && kind != KIND_VFIO_GROUP &&
      kind != KIND_VFIO_DEVICE)
    return TRACK_NONE;
  uint64_t ino;
  int sock = 0;
  if (i4j_sys_fstat_ino(fd, &ino, &sock) != 0 || !sock) {
    errno = saved;
    return TRACK_NONE;
  }
  errno = saved;
  i4j_track_set(fd, kind, ino);
  DBG("fd %d recognised as an emulated file (kind %c)", fd, kind);
  return kind;
}

long i4j_node_path(int fd, char *out, size_t size) {
  struct sockaddr_un a;
  socklen_t len = sizeof a;
  int saved = errno;
  long r = syscall(SYS_getpeername, fd, (struct sockaddr *)&a, &len);
  errno = saved;
  size_t base = offsetof(struct sockaddr_un, sun_path), prefix = sizeof(I4J_NAME_PREFIX) - 1;
  if (r != 0 || a.sun_family != AF_UNIX || len <= base + 1 + prefix || a.sun_path[0] != 0 ||
      memcmp(a.sun_path + 1, I4J_NAME_PREFIX, prefix) != 0)
    return -1;
  size_t name_len = len - base; /* abstract: not NUL-terminated */
  const char *at = memchr(a.sun_path, '@', name_len);
  if (!at) return -1;
  size_t n = name_len - (size_t)(at + 1 - a.sun_path);
  if (n == 0 || n >= size) return -1;
  memcpy(out, at + 1, n);
  out[n] = 0;
  return (long)n;
}
