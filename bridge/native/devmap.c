/*
 * Device mappings (devmap.h): a table of trapped ranges, each with the file offset its base maps
 * and a shared reference to the hidden descriptor of the device file. Writers take a mutex; the
 * trap's callbacks only read the entry they were given, which stays unchanged until
 * mmio_trap_remove has waited for them.
 */
#define _GNU_SOURCE
#include "devmap.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "channel.h"
#include "mmio_trap.h"
#include "proto.h"
#include "sys.h"

#define PAGE 4096ULL

/* The device file behind one or more trapped ranges. */
struct devfile {
  int fd; /* hidden from the program (tracked as a channel) */
  uint64_t ino;
  unsigned parts; /* ranges using it, under the lock */
};

struct devmap {
  int live;
  uintptr_t base;
  size_t len;
  uint64_t offset; /* the file offset of base */
  struct devfile *file;
};

static struct devmap maps[MMIO_TRAP_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned live_maps;

/* ---- the trap's callbacks (signal context) ------------------------------------------------ */

/* A failed access reads all ones, as a PCI read nobody answers does. */
static uint64_t trapped_read(void *opaque, uint64_t offset, unsigned width) {
  const struct devmap *m = opaque;
  int saved = errno;
  struct tracked t = {KIND_VFIO_DEVICE, m->file->ino};
  uint64_t v = 0;
  long r = i4j_prw(m->file->fd, &t, T_PREAD, &v, width, m->offset + offset, PRW_FLAG_TRAPPED);
  if (r != (long)width) {
    DBG("trapped %u-byte load at file offset 0x%llx -> %ld: reads all ones", width,
        (unsigned long long)(m->offset + offset), r);
    v = ~0ULL;
  }
  errno = saved;
  return v;
}

static void trapped_write(void *opaque, uint64_t offset, unsigned width, uint64_t value) {
  const struct devmap *m = opaque;
  int saved = errno;
  struct tracked t = {KIND_VFIO_DEVICE, m->file->ino};
  long r = i4j_prw(m->file->fd, &t, T_PWRITE, &value, width, m->offset + offset, PRW_FLAG_TRAPPED);
  if (r != (long)width)
    DBG("trapped %u-byte store at file offset 0x%llx -> %ld: dropped", width, (unsigned long long)(m->offset + offset),
        r);
  errno = saved;
}

static const struct mmio_ops trapped_ops = {trapped_read, trapped_write};

/* ---- the table -------------------------------------------------------------------------- */

/* Traps [base, base + len) at file offset `offset` of file (taking a part of it): 0 or -errno. */
static int add_locked(uintptr_t base, size_t len, uint64_t offset, struct devfile *file) {
  for (unsigned i = 0; i < MMIO_TRAP_MAX; i++) {
    struct devmap *m = &maps[i];
    if (m->live) continue;
    *m = (struct devmap){1, base, len, offset, file};
    if (mmio_trap_add((void *)base, len, &trapped_ops, m) != 0) {
      int err = errno;
      m->live = 0;
      return -err;
    }
    file->parts++;
    atomic_fetch_add(&live_maps, 1);
    return 0;
  }
  return -ENOSPC;
}

/* Drops a part of file; the last one closes the descriptor and says so to the server. */
static void release_part(struct devfile *file, struct devfile **closed) {
  if (--file->parts == 0) *closed = file;
}

static void close_file(struct devfile *file) {
  i4j_track_clear(file->fd);
  i4j_sys_close(file->fd);
  i4j_closed(file->ino);
  free(file);
}

/* Untraps the part of every mapping inside [start, end); *closed collects files left without a
   part (at most MMIO_TRAP_MAX). */
static void forget_locked(uintptr_t start, uintptr_t end, struct devfile **closed, unsigned *nclosed) {
  for (unsigned i = 0; i < MMIO_TRAP_MAX; i++) {
    struct devmap *m = &maps[i];
    if (!m->live || m->base >= end || start >= m->base + m->len) continue;
    struct devmap old = *m;
    mmio_trap_remove((void *)old.base);
    m->live = 0;
    atomic_fetch_sub(&live_maps, 1);
    /* what stays mapped on either side keeps its trap, at its own file offset */
    if (old.base < start) add_locked(old.base, start - old.base, old.offset, old.file);
    if (end < old.base + old.len) add_locked(end, old.base + old.len - end, old.offset + (end - old.base), old.file);
    struct devfile *gone = NULL;
    release_part(old.file, &gone);
    if (gone) closed[(*nclosed)++] = gone;
  }
}

void i4j_devmap_forget(void *addr, size_t length) {
  if (atomic_load(&live_maps) == 0 || length == 0) return;
  uintptr_t start = (uintptr_t)addr & ~(PAGE - 1);
  uintptr_t end = ((uintptr_t)addr + length + PAGE - 1) & ~(PAGE - 1);
  if (end <= start) end = UINTPTR_MAX;
  struct devfile *closed[MMIO_TRAP_MAX];
  unsigned nclosed = 0;
  int saved = errno;
  pthread_mutex_lock(&lock);
  forget_locked(start, end, closed, &nclosed);
  pthread_mutex_unlock(&lock);
  for (unsigned i = 0; i < nclosed; i++) close_file(closed[i]);
  errno = saved;
}

int i4j_devmap_overlaps(const void *addr, size_t length) {
  if (atomic_load(&live_maps) == 0) return 0;
  uintptr_t start = (uintptr_t)addr, end = start + length < start ? UINTPTR_MAX : start + length;
  int found = 0;
  pthread_mutex_lock(&lock);
  for (unsigned i = 0; i < MMIO_TRAP_MAX && !found; i++)
    found = maps[i].live && maps[i].base < end && start < maps[i].base + maps[i].len;
  pthread_mutex_unlock(&lock);
  return found;
}

/* ---- mmap ------------------------------------------------------------------------------- */

static void *fail_map(int err) {
  errno = err;
  return MAP_FAILED;
}

/* Whether the runs T_MMAP answered are whole pages inside [0, len), in order, not overlapping. */
static int runs_fit(const struct i4j_shared_run *runs, unsigned n, size_t len) {
  uint64_t end = 0;
  for (unsigned i = 0; i < n; i++) {
    const struct i4j_shared_run *r = &runs[i];
    if (((r->at | r->length | r->fd_offset) & (PAGE - 1)) != 0 || r->length == 0 || r->at < end || r->at > len ||
        r->length > len - r->at)
      return 0;
    end = r->at + r->length;
  }
  return 1;
}

void *i4j_devmap_map(void *addr, size_t length, int prot, int flags, int fd, const struct tracked *t, off_t offset,
                     void *(*reserve)(void *, size_t, int, int, int, off_t)) {
  /* mm/mmap.c: do_mmap()'s own checks come before the file's */
  if (length == 0 || (offset & (off_t)(PAGE - 1)) != 0 || offset < 0) return fail_map(EINVAL);
  size_t len = (length + PAGE - 1) & ~(size_t)(PAGE - 1);
  if (len < length) return fail_map(ENOMEM);
  struct i4j_shared_run runs[MMAP_SHARED_MAX];
  unsigned nruns;
  int memfd;
  long r = i4j_mmap_check(fd, t, (uint64_t)offset, len, prot, flags, runs, &nruns, &memfd);
  DBG("mmap(fd %d, offset 0x%llx, length 0x%zx, prot 0x%x, flags 0x%x) -> %ld, %u shared runs", fd,
      (unsigned long long)offset, len, prot, flags, r, nruns);
  if (r < 0) return fail_map((int)-r);
  if (!runs_fit(runs, nruns, len)) {
    DBG("shared runs outside the mapping: all of it trapped");
    nruns = 0;
  }
  struct devfile *file = malloc(sizeof *file);
  if (!file) {
    if (memfd >= 0) i4j_sys_close(memfd);
    return fail_map(ENOMEM);
  }
  /* the hidden reference: high, close-on-exec, invisible to close and dup */
  int saved = errno;
  file->fd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 1024);
  if (file->fd < 0) file->fd = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0);
  errno = saved;
  if (file->fd < 0) {
    free(file);
    if (memfd >= 0) i4j_sys_close(memfd);
    return fail_map(EMFILE);
  }
  file->ino = t->ino;
  file->parts = 0;
  i4j_track_set(file->fd, TRACK_CHANNEL, 0);
  if (flags & MAP_FIXED) i4j_devmap_forget(addr, len);
  int keep = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE);
  void *base = reserve(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | keep, -1, 0);
  int err = errno;
  /* shared memory over its part of the reservation: the program's loads and stores go there */
  for (unsigned i = 0; base != MAP_FAILED && i < nruns; i++) {
    void *at = (char *)base + runs[i].at;
    if (reserve(at, runs[i].length, prot, MAP_SHARED | MAP_FIXED, memfd, (off_t)runs[i].fd_offset) == MAP_FAILED) {
      err = errno;
      syscall(SYS_munmap, base, len);
      base = MAP_FAILED;
    }
  }
  if (memfd >= 0) i4j_sys_close(memfd);
  if (base == MAP_FAILED) {
    i4j_track_clear(file->fd);
    i4j_sys_close(file->fd);
    free(file);
    return fail_map(err);
  }
  /* the rest is trapped, run by run */
  int added = 0;
  uint64_t from = 0;
  pthread_mutex_lock(&lock);
  for (unsigned i = 0; i <= nruns && added == 0; i++) {
    uint64_t to = i < nruns ? runs[i].at : len;
    if (to > from) added = add_locked((uintptr_t)base + from, to - from, (uint64_t)offset + from, file);
    if (i < nruns) from = runs[i].at + runs[i].length;
  }
  struct devfile *unused = file->parts == 0 ? file : NULL;
  if (added != 0) {
    struct devfile *closed[MMIO_TRAP_MAX];
    unsigned nclosed = 0;
    forget_locked((uintptr_t)base, (uintptr_t)base + len, closed, &nclosed);
    unused = nclosed > 0 || file->parts == 0 ? file : NULL;
  }
  pthread_mutex_unlock(&lock);
  if (unused) close_file(unused); /* all shared, or failed: the mapping needs no descriptor */
  if (added != 0) {
    syscall(SYS_munmap, base, len);
    return fail_map(added == -ENOSPC ? ENOMEM : -added);
  }
  return base;
}

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }

__attribute__((constructor)) static void devmap_init(void) { pthread_atfork(before_fork, after_fork, after_fork); }
