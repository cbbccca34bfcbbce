/*
 * Pinned pages as shared memory (share.h): the table of memfds this process's converted ranges
 * live in, the conversion, the fault handler's part in it, and fork.
 *
 * Table: a fixed array of pieces (a memfd, its inode, the range it was mapped over). Conversions,
 * lookups and fork are serialised by a mutex; the SIGSEGV handler reads the ranges lock-free. The
 * handler retries a write fault that hits the range being converted (waiting until it is done) or,
 * once per address, any converted range: a thread that faulted during a conversion may run its
 * handler only after it ended.
 *
 * Memory-management calls are raw system calls, so the shim's own mmap family never sees them.
 */
#define _GNU_SOURCE
#include "share.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fdtable.h"
#include "mmio_trap.h"
#include "proto.h"
#include "sys.h"

#define PIECES_MAX 1024
#define MEMFD_NAME "iommufd4j-pinned"
/* Converted at a time: what another thread may have to wait for, and the copy's extra memory. */
#define STEP (64UL << 20)
/* Where the shim's hidden descriptors go (as devmap.c's). */
#define HIDDEN_FD_BASE 1024

struct piece {
  _Atomic uintptr_t start, end; /* where it was mapped; 0, 0: a free slot */
  int fd;                       /* the memfd, hidden from the program; -1 when free */
  uint64_t ino;
};

static struct piece pieces[PIECES_MAX];
static _Atomic unsigned pieces_used; /* slots [0, pieces_used) were ever used */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* The range being converted; busy_seq is odd meanwhile. */
static _Atomic uintptr_t busy_start, busy_end;
static _Atomic unsigned busy_seq;
static __thread uintptr_t retried_at __attribute__((tls_model("initial-exec")));

/* ---- /proc/self/maps ---------------------------------------------------------------------- */

struct vma {
  uintptr_t start, end;
  uint64_t offset, inode;
  char perms[5];
  const char *path; /* "" for anonymous memory */
};

static int parse_vma(char *line, struct vma *v) {
  char *p = line, *e;
  v->start = strtoull(p, &e, 16);
  if (*e != '-') return -1;
  v->end = strtoull(e + 1, &e, 16);
  if (*e != ' ' || strlen(e + 1) < 5 || e[5] != ' ') return -1;
  memcpy(v->perms, e + 1, 4);
  v->perms[4] = 0;
  v->offset = strtoull(e + 6, &e, 16);
  p = e;
  while (*p == ' ') p++;
  while (*p && *p != ' ') p++; /* the device */
  v->inode = strtoull(p, &e, 10);
  p = e;
  while (*p == ' ') p++;
  v->path = p;
  return 0;
}

/* Calls fn for each mapping of this process, in address order, until it returns nonzero: that
   value, 0 at the end, or -1 if the maps cannot be read. A path longer than the buffer is cut. */
static int maps_each(int (*fn)(const struct vma *v, void *arg), void *arg) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[8192];
  size_t have = 0;
  int skipping = 0, r = 0;
  for (;;) {
    long n = syscall(SYS_read, fd, buf + have, sizeof buf - 1 - have);
    if (n <= 0) break;
    have += (size_t)n;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
      *nl = 0;
      struct vma v;
      if (!skipping && parse_vma(line, &v) == 0 && (r = fn(&v, arg)) != 0) goto out;
      skipping = 0;
      line = nl + 1;
    }
    have -= (size_t)(line - buf);
    memmove(buf, line, have);
    if (have == sizeof buf - 1) { /* one very long line: take its start, skip the rest */
      struct vma v;
      if (!skipping && parse_vma(buf, &v) == 0 && (r = fn(&v, arg)) != 0) goto out;
      skipping = 1;
      have = 0;
    }
  }
out:
  i4j_sys_close(fd);
  return r;
}

static int is_our_memfd(const struct vma *v) {
  return v->perms[3] == 's' && strncmp(v->path, "/memfd:" MEMFD_NAME, sizeof "/memfd:" MEMFD_NAME - 1) == 0;
}

static int prot_of(const struct vma *v) {
  return (v->perms[0] == 'r' ? PROT_READ : 0) | (v->perms[1] == 'w' ? PROT_WRITE : 0) |
         (v->perms[2] == 'x' ? PROT_EXEC : 0);
}

/* ---- the table ----------------------------------------------------------------------------- */

static struct piece *piece_of_ino(uint64_t ino) {
  unsigned n = atomic_load(&pieces_used);
  for (unsigned i = 0; i < n; i++)
    if (pieces[i].fd >= 0 && pieces[i].ino == ino) return &pieces[i];
  return NULL;
}

static void piece_free(struct piece *p) {
  atomic_store(&p->start, 0);
  atomic_store(&p->end, 0);
  i4j_track_clear(p->fd);
  i4j_sys_close(p->fd);
  p->fd = -1;
}

static int mark_mapped(const struct vma *v, void *arg) {
  unsigned char *mapped = arg;
  if (is_our_memfd(v)) {
    unsigned n = atomic_load(&pieces_used);
    for (unsigned i = 0; i < n; i++)
      if (pieces[i].fd >= 0 && pieces[i].ino == v->inode) mapped[i] = 1;
  }
  return 0;
}

/* A free slot; when there is none, memfds the program no longer maps anywhere are let go first
   (the server holds its own mapping of those it still pins). */
static struct piece *piece_alloc(void) {
  for (int pass = 0; pass < 2; pass++) {
    unsigned n = atomic_load(&pieces_used);
    for (unsigned i = 0; i < n; i++)
      if (pieces[i].fd < 0) return &pieces[i];
    if (n < PIECES_MAX) {
      pieces[n].fd = -1;
      atomic_store(&pieces_used, n + 1);
      return &pieces[n];
    }
    static unsigned char mapped[PIECES_MAX];
    memset(mapped, 0, sizeof mapped);
    if (maps_each(mark_mapped, mapped) < 0) return NULL;
    for (unsigned i = 0; i < n; i++)
      if (pieces[i].fd >= 0 && !mapped[i]) piece_free(&pieces[i]);
  }
  return NULL;
}

/* ---- the fault handler's part -------------------------------------------------------------- */

static int in_pieces(uintptr_t addr) {
  unsigned n = atomic_load(&pieces_used);
  for (unsigned i = 0; i < n; i++)
    if (addr >= atomic_load(&pieces[i].start) && addr < atomic_load(&pieces[i].end)) return 1;
  return 0;
}

/* Async-signal-safe: 1 when the fault at addr is a conversion's, to be retried. */
static int retry_fault(uintptr_t addr) {
  unsigned seq = atomic_load(&busy_seq);
  if ((seq & 1) && addr >= atomic_load(&busy_start) && addr < atomic_load(&busy_end)) {
    while (atomic_load(&busy_seq) == seq) sched_yield();
    retried_at = addr;
    return 1;
  }
  if (addr != retried_at && in_pieces(addr)) {
    retried_at = addr;
    return 1;
  }
  retried_at = 0;
  return 0;
}

/* ---- conversion ------------------------------------------------------------------------------ */

static int copy_into(int fd, uint64_t offset, uintptr_t src, size_t n) {
  while (n > 0) {
    long w = syscall(SYS_pwrite64, fd, (const void *)src, n, (off_t)offset);
    if (w <= 0) return -1;
    src += (size_t)w;
    offset += (uint64_t)w;
    n -= (size_t)w;
  }
  return 0;
}

/* Converts [a, b) (private anonymous, readable, one mapping with protection prot) into the memfd of
   p, STEP bytes at a time: the end of what was converted (a when nothing was). */
static uintptr_t convert(struct piece *p, uintptr_t a, uintptr_t b, int prot) {
  uintptr_t at = a;
  while (at < b) {
    size_t n = b - at < STEP ? b - at : STEP;
    atomic_store(&busy_start, at);
    atomic_store(&busy_end, at + n);
    atomic_fetch_add(&busy_seq, 1);
    int ok = !(prot & PROT_WRITE) || syscall(SYS_mprotect, at, n, prot & ~PROT_WRITE) == 0;
    ok = ok && copy_into(p->fd, at - a, at, n) == 0;
    ok = ok && syscall(SYS_mmap, at, n, prot, MAP_SHARED | MAP_FIXED, p->fd, (off_t)(at - a)) == (long)at;
    if (!ok) syscall(SYS_mprotect, at, n, prot);
    atomic_fetch_add(&busy_seq, 1);
    if (!ok) break;
    at += n;
  }
  return at;
}

/* A new memfd of len bytes, sealed, hidden and close-on-exec, in p: 0 or -1. */
static int memfd_into(struct piece *p, size_t len) {
  int fd = (int)syscall(SYS_memfd_create, MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  int is_sock;
  /* sealed at its size: the server's mapping of it can never fault (SIGBUS past the end) */
  if (syscall(SYS_ftruncate, fd, (off_t)len) != 0 ||
      syscall(SYS_fcntl, fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0 ||
      i4j_sys_fstat_ino(fd, &p->ino, &is_sock) != 0) {
    i4j_sys_close(fd);
    return -1;
  }
  int hidden = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, HIDDEN_FD_BASE);
  if (hidden >= 0) {
    i4j_sys_close(fd);
    fd = hidden;
  }
  i4j_track_set(fd, TRACK_CHANNEL, 0);
  p->fd = fd;
  return 0;
}

/* ---- fork ------------------------------------------------------------------------------------ */

#define FOUND_MAX 64

struct found {
  unsigned n;
  struct {
    uintptr_t start, end;
    int prot;
  } at[FOUND_MAX];
};

static int find_ours(const struct vma *v, void *arg) {
  struct found *f = arg;
  if (!is_our_memfd(v) || !piece_of_ino(v->inode)) return 0;
  f->at[f->n].start = v->start;
  f->at[f->n].end = v->end;
  f->at[f->n].prot = prot_of(v);
  return ++f->n == FOUND_MAX;
}

/* Gives [s, e) private anonymous pages with the same contents and protection. */
static void privatise(uintptr_t s, uintptr_t e, int prot) {
  size_t n = e - s;
  long tmp = syscall(SYS_mmap, 0, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (tmp < 0 && tmp > -4096) {
    i4j_log("fork: cannot copy the pinned pages at %#lx (%zu bytes): the child shares them", (unsigned long)s, n);
    return;
  }
  if (!(prot & PROT_READ)) syscall(SYS_mprotect, s, n, PROT_READ);
  memcpy((void *)tmp, (const void *)s, n);
  syscall(SYS_mremap, tmp, n, n, MREMAP_MAYMOVE | MREMAP_FIXED, s);
  syscall(SYS_mprotect, s, n, prot);
}

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }

/* The kernel copies pinned anonymous pages for the child at fork: so does this, before the child
   runs on (it is single-threaded here). */
static void after_fork_child(void) {
  struct found f;
  do {
    f.n = 0;
    if (maps_each(find_ours, &f) < 0) break;
    for (unsigned i = 0; i < f.n; i++) privatise(f.at[i].start, f.at[i].end, f.at[i].prot);
  } while (f.n == FOUND_MAX);
  unsigned n = atomic_load(&pieces_used);
  for (unsigned i = 0; i < n; i++)
    if (pieces[i].fd >= 0) piece_free(&pieces[i]);
  atomic_store(&pieces_used, 0);
  pthread_mutex_init(&lock, NULL);
}

static void init_once(void) { pthread_atfork(before_fork, after_fork_parent, after_fork_child); }

/* ---- the program's shared file mappings ------------------------------------------------------ */

#define FILE_MAPS_MAX 256

struct file_map {
  uintptr_t start, end; /* 0, 0: a free slot */
  uint64_t offset, ino;
  int fd; /* a hidden duplicate of the program's descriptor */
};

static struct file_map file_maps[FILE_MAPS_MAX];
static pthread_mutex_t file_maps_lock = PTHREAD_MUTEX_INITIALIZER;

void i4j_share_note_mapping(void *addr, size_t len, int flags, int fd, int64_t offset) {
  int type = flags & MAP_TYPE;
  struct stat st;
  if ((type != MAP_SHARED && type != MAP_SHARED_VALIDATE) || (flags & MAP_ANONYMOUS) || fd < 0 || len == 0 ||
      syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode))
    return;
  pthread_mutex_lock(&file_maps_lock);
  for (unsigned i = 0; i < FILE_MAPS_MAX; i++) {
    struct file_map *m = &file_maps[i];
    if (m->end != 0) continue;
    int hidden = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, HIDDEN_FD_BASE);
    if (hidden < 0) break;
    i4j_track_set(hidden, TRACK_CHANNEL, 0);
    *m = (struct file_map){.start = (uintptr_t)addr,
                           .end = (uintptr_t)addr + len,
                           .offset = (uint64_t)offset,
                           .ino = (uint64_t)st.st_ino,
                           .fd = hidden};
    break;
  }
  pthread_mutex_unlock(&file_maps_lock);
}

void i4j_share_forget_mappings(void *addr, size_t len) {
  uintptr_t a = (uintptr_t)addr, b = a + len;
  pthread_mutex_lock(&file_maps_lock);
  for (unsigned i = 0; i < FILE_MAPS_MAX; i++) {
    struct file_map *m = &file_maps[i];
    if (m->end == 0 || m->end <= a || b <= m->start) continue;
    i4j_track_clear(m->fd);
    i4j_sys_close(m->fd);
    *m = (struct file_map){.fd = -1};
  }
  pthread_mutex_unlock(&file_maps_lock);
}

/* The program's own mapping that v shows at addr: its descriptor, or -1. The file and the offset
   must agree with the maps, so a mapping replaced behind the shim's back is never answered for. */
static int file_map_at(const struct vma *v, uintptr_t addr, uint64_t *offset, uintptr_t *end) {
  int fd = -1;
  uint64_t at = v->offset + (addr - v->start);
  pthread_mutex_lock(&file_maps_lock);
  for (unsigned i = 0; i < FILE_MAPS_MAX && fd < 0; i++) {
    struct file_map *m = &file_maps[i];
    if (m->end != 0 && m->start <= addr && addr < m->end && m->ino == v->inode && m->offset + (addr - m->start) == at) {
      fd = m->fd;
      *offset = at;
      *end = m->end;
    }
  }
  pthread_mutex_unlock(&file_maps_lock);
  return fd;
}

/* ---- sharing --------------------------------------------------------------------------------- */

struct lookup {
  uintptr_t addr;
  uintptr_t sp;
  struct vma found;
  struct vma below; /* the mapping before it */
  int hit, anonymous, ours;
};

static int find_vma(const struct vma *v, void *arg) {
  struct lookup *l = arg;
  if (v->start <= l->addr && l->addr < v->end) {
    l->found = *v;
    l->found.path = ""; /* the line's buffer is reused: keep only what the path says */
    l->hit = 1;
    l->anonymous = v->inode == 0 && (v->path[0] == 0 || strcmp(v->path, "[heap]") == 0);
    l->ours = is_our_memfd(v);
    return 1;
  }
  l->below = *v;
  l->below.path = "";
  return 0;
}

/*
 * Whether the mapping can be converted: private anonymous memory with read access that is not a
 * stack. Thread stacks are anonymous mappings too: they are told by the guard page right below
 * (PROT_NONE), and this thread's own stack by its stack pointer. A stack being converted would
 * leave a thread that writes it no stack to take the fault on.
 */
static int convertible(const struct lookup *l) {
  const struct vma *v = &l->found;
  int guard_below = l->below.end == v->start && strcmp(l->below.perms, "---p") == 0;
  return l->anonymous && v->perms[0] == 'r' && v->perms[3] == 'p' && !guard_below &&
         !(l->sp >= v->start && l->sp < v->end);
}

long i4j_share(uint64_t addr, uint64_t len, int *fd, uint64_t *span, uint64_t *offset) {
  pthread_once(&once, init_once);
  pthread_mutex_lock(&lock);
  struct lookup l;
  memset(&l, 0, sizeof l);
  l.addr = (uintptr_t)addr;
  l.sp = (uintptr_t)__builtin_frame_address(0);
  long r = -EFAULT;
  if (maps_each(find_vma, &l) == 1 && l.hit) {
    uint64_t end = addr + len < l.found.end ? addr + len : l.found.end;
    *span = end - addr;
    r = SHARE_NOT_SHARED;
    struct piece *p;
    int file_fd;
    uintptr_t file_end;
    if (l.ours && (p = piece_of_ino(l.found.inode)) != NULL) { /* converted before */
      *fd = p->fd;
      *offset = l.found.offset + (addr - l.found.start);
      r = SHARE_SHARED;
    } else if (l.found.perms[3] == 's' && l.found.inode != 0 &&
               (file_fd = file_map_at(&l.found, (uintptr_t)addr, offset, &file_end)) >= 0) {
      *fd = file_fd; /* the program's own: shared as it is */
      if (file_end < end) *span = file_end - addr;
      r = SHARE_SHARED;
    } else if (convertible(&l) && mmio_trap_retry(retry_fault) == 0 && (p = piece_alloc()) != NULL &&
               memfd_into(p, (size_t)(end - addr)) == 0) {
      atomic_store(&p->start, (uintptr_t)addr); /* before the conversion: see retry_fault */
      atomic_store(&p->end, (uintptr_t)end);
      uintptr_t done = convert(p, (uintptr_t)addr, (uintptr_t)end, prot_of(&l.found));
      if (done > addr) {
        atomic_store(&p->end, done);
        *fd = p->fd;
        *span = done - addr;
        *offset = 0;
        r = SHARE_SHARED;
        DBG("shared %#llx-%#llx (memfd %d)", (unsigned long long)addr, (unsigned long long)done, p->fd);
      } else {
        piece_free(p);
      }
    }
  }
  pthread_mutex_unlock(&lock);
  return r;
}
