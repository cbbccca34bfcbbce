/* The testbed: which paths DIR serves, and the listings of its directories. */
#define _GNU_SOURCE
#include "testbed.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "LP64: struct dirent is struct dirent64");

#define MAX_DEVNODES 256
#define MAX_MERGED 128
#define MAX_DIRS 64

static char *root; /* DIR, as the kernel spells it back (symlinks resolved); NULL: no testbed */
static size_t root_len;
static struct i4j_devnode devnodes[MAX_DEVNODES];
static unsigned ndevnodes;
static char *merged[MAX_MERGED];
static unsigned nmerged;

int i4j_testbed_active(void) { return root != NULL; }

/* ---- raw helpers (errno kept) ----------------------------------------------------------- */

static int raw_exists(const char *path, int follow) {
  struct stat st;
  int saved = errno;
  int r = (int)syscall(SYS_newfstatat, AT_FDCWD, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW);
  errno = saved;
  return r == 0;
}

/* What /proc/self/fd/fd names, NUL-terminated: its length, or -1. */
static long fd_path(int fd, char *out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  int saved = errno;
  long n = syscall(SYS_readlinkat, AT_FDCWD, link, out, size - 1);
  errno = saved;
  if (n <= 0 || (size_t)n >= size - 1) return -1;
  out[n] = 0;
  return n;
}

/* The whole of a small file, NUL-terminated and malloc'd, or NULL. */
static char *read_file(const char *path) {
  int saved = errno;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  char *text = NULL;
  if (fd >= 0) {
    size_t cap = 4096, len = 0;
    text = malloc(cap);
    long n;
    while (text && (n = syscall(SYS_read, fd, text + len, cap - len - 1)) > 0) {
      len += (size_t)n;
      if (cap - len < 2) {
        char *grown = realloc(text, cap *= 2);
        if (!grown) free(text);
        text = grown;
      }
    }
    if (text) text[len] = 0;
    syscall(SYS_close, fd);
  }
  errno = saved;
  return text;
}

/* ---- paths ------------------------------------------------------------------------------ */

void i4j_normalize(char *path) {
  char *out = path;
  const char *in = path;
  while (*in) {
    while (*in == '/') in++;
    const char *end = strchr(in, '/');
    size_t len = end ? (size_t)(end - in) : strlen(in);
    if (len == 0) break;
    if (len == 1 && in[0] == '.') {
    } else if (len == 2 && in[0] == '.' && in[1] == '.') {
      while (out > path && *--out != '/') {
      }
    } else {
      *out++ = '/';
      memmove(out, in, len);
      out += len;
    }
    in += len;
  }
  if (out == path) *out++ = '/';
  *out = 0;
}

static int in_testbed(const char *path) {
  return strncmp(path, root, root_len) == 0 && (path[root_len] == '/' || path[root_len] == 0);
}

size_t i4j_testbed_unmap(char *path, size_t len) {
  if (!root || len < root_len || memcmp(path, root, root_len) != 0) return len;
  if (len == root_len) {
    path[0] = '/';
    return 1;
  }
  if (path[root_len] != '/') return len;
  memmove(path, path + root_len, len - root_len);
  return len - root_len;
}

/*
 * (dirfd, path) as an absolute path of the program's view, into out: 0, or -1 when it cannot be
 * told or is relative to a directory already inside the testbed (then the kernel resolves it
 * there as it stands).
 */
static int absolute(int dirfd, const char *path, char *out, size_t size) {
  size_t n = strlen(path);
  if (path[0] == '/') {
    if (n >= size) return -1;
    memcpy(out, path, n + 1);
    return 0;
  }
  long base;
  if (dirfd == AT_FDCWD) {
    int saved = errno;
    base = syscall(SYS_getcwd, out, size);
    errno = saved;
    base = base > 0 ? (long)strlen(out) : -1;
  } else {
    base = fd_path(dirfd, out, size);
  }
  if (base <= 0 || out[0] != '/' || in_testbed(out) || (size_t)base + 1 + n >= size) return -1;
  out[base] = '/';
  memcpy(out + base + 1, path, n + 1);
  return 0;
}

static int under(const char *norm, const char *top) {
  size_t n = strlen(top);
  return strncmp(norm, top, n) == 0 && (norm[n] == 0 || norm[n] == '/');
}

static int is_merged(const char *virtual) {
  for (unsigned i = 0; i < nmerged; i++)
    if (strcmp(merged[i], virtual) == 0) return 1;
  return 0;
}

/* The program's path of a file of the testbed (symlinks resolved): 0, or -1. */
static int canonical(const char *mapped, char *out, size_t size) {
  int saved = errno;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, mapped, O_PATH | O_CLOEXEC);
  errno = saved;
  if (fd < 0) return -1;
  long n = fd_path(fd, out, size);
  syscall(SYS_close, fd);
  errno = saved;
  if (n < 0 || !in_testbed(out)) return -1;
  i4j_testbed_unmap(out, (size_t)n + 1);
  return 0;
}

/*
 * Whether the testbed decides about norm, which it lacks: yes when the nearest directory it has on
 * the way is one of its own (an emulated device's), no when that one is merged with the host's.
 */
static int owned_absence(const char *norm) {
  char ancestor[PATH_MAX], mapped[PATH_MAX], virtual[PATH_MAX];
  snprintf(ancestor, sizeof ancestor, "%s", norm);
  for (;;) {
    char *slash = strrchr(ancestor, '/');
    if (!slash || slash == ancestor) return 0;
    *slash = 0;
    if ((size_t)snprintf(mapped, sizeof mapped, "%s%s", root, ancestor) >= sizeof mapped) return 0;
    if (!raw_exists(mapped, 1)) continue;
    return canonical(mapped, virtual, sizeof virtual) == 0 && !is_merged(virtual);
  }
}

static const struct i4j_devnode *devnode_of(const char *norm) {
  if (!under(norm, "/dev")) return NULL;
  for (unsigned i = 0; i < ndevnodes; i++)
    if (strcmp(devnodes[i].path, norm) == 0) return &devnodes[i];
  return NULL;
}

const char *i4j_testbed_path(int dirfd, const char *path, char *buf, size_t size, const struct i4j_devnode **devnode) {
  if (devnode) *devnode = NULL;
  if (!root || !path || !*path) return path;
  char abs[PATH_MAX], norm[PATH_MAX];
  if (absolute(dirfd, path, abs, sizeof abs) != 0) return path;
  memcpy(norm, abs, strlen(abs) + 1);
  i4j_normalize(norm);
  if (!under(norm, "/sys") && !under(norm, "/dev")) return path;
  /* the unnormalised path: ".." after a symlink resolves as the kernel would, inside the testbed */
  if ((size_t)snprintf(buf, size, "%s%s", root, abs) >= size) return path;
  if (!raw_exists(buf, 0) && !owned_absence(norm)) return path;
  if (devnode) *devnode = devnode_of(norm);
  return buf;
}

int i4j_testbed_truncates(const char *mapped, int flags) {
  if ((flags & O_ACCMODE) != O_WRONLY || !in_testbed(mapped)) return 0;
  const char *name = strrchr(mapped, '/');
  name = name ? name + 1 : mapped;
  return strcmp(name, "config") != 0 && strncmp(name, "resource", 8) != 0;
}

int i4j_testbed_creates(const char *mapped, int flags) {
  return (flags & O_CREAT) && in_testbed(mapped) && !raw_exists(mapped, 0);
}

/* ---- loading ---------------------------------------------------------------------------- */

static void load_devnodes(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/devnodes", root);
  char *text = read_file(path);
  for (char *line = text, *next; line && *line && ndevnodes < MAX_DEVNODES; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    char name[PATH_MAX];
    unsigned major, minor, mode;
    if (sscanf(line, "%4095s %u %u %o", name, &major, &minor, &mode) != 4) continue;
    devnodes[ndevnodes++] = (struct i4j_devnode){strdup(name), major, minor, (mode_t)(mode & 07777)};
    if (!next) break;
  }
  free(text);
}

static void load_merged(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/merged", root);
  char *text = read_file(path);
  for (char *line = text, *next; line && *line && nmerged < MAX_MERGED; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (line[0] == '/') merged[nmerged++] = strdup(line);
    if (!next) break;
  }
  free(text);
}

void i4j_testbed_load(void) {
  const char *dir = getenv("IOMMUFD4J_TESTBED");
  if (!dir || dir[0] != '/') return;
  int saved = errno;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  errno = saved;
  if (fd < 0) {
    i4j_log("IOMMUFD4J_TESTBED=%s: not a directory; no testbed", dir);
    return;
  }
  char real[PATH_MAX];
  long n = fd_path(fd, real, sizeof real);
  syscall(SYS_close, fd);
  errno = saved;
  if (n <= 1) return;
  root = strdup(real);
  root_len = (size_t)n;
  load_devnodes();
  load_merged();
  DBG("testbed %s: %u device nodes, %u merged directories", root, ndevnodes, nmerged);
}

/* ---- directory streams ------------------------------------------------------------------ */

struct testbed_dir {
  DIR *dir;
  char *host; /* the host's entries the testbed lacks, as getdents64 records */
  size_t host_len, pos;
  int has_devnodes;
  char virtual[PATH_MAX];
};

/* Lock-free (a fork may happen while another thread holds a slot): a stream is put in an empty
   slot by compare-and-swap, and taken out the same way when it is closed. */
static _Atomic(struct testbed_dir *) dirs[MAX_DIRS];
static atomic_int ndirs;

static struct testbed_dir *find_dir(DIR *d, int take) {
  if (atomic_load_explicit(&ndirs, memory_order_acquire) == 0) return NULL;
  for (int i = 0; i < MAX_DIRS; i++) {
    struct testbed_dir *t = atomic_load_explicit(&dirs[i], memory_order_acquire);
    if (!t || t->dir != d) continue;
    if (!take) return t;
    if (atomic_compare_exchange_strong(&dirs[i], &t, NULL)) {
      atomic_fetch_sub(&ndirs, 1);
      return t;
    }
  }
  return NULL;
}

/* The host's listing of t->virtual without ".", ".." and the names the testbed has. */
static void snapshot_host(struct testbed_dir *t, int testbed_fd) {
  int saved = errno;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, t->virtual, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    errno = saved;
    return;
  }
  size_t cap = 8192;
  t->host = malloc(cap);
  char buf[4096];
  long n;
  while (t->host && (n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      struct dirent64 *e = (struct dirent64 *)(buf + off);
      off += e->d_reclen;
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      struct stat st;
      if (syscall(SYS_newfstatat, testbed_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) continue;
      if (t->host_len + e->d_reclen > cap) {
        char *grown = realloc(t->host, cap *= 2);
        if (!grown) { /* out of memory: the listing shows the testbed's entries only */
          free(t->host);
          t->host = NULL;
          t->host_len = 0;
          break;
        }
        t->host = grown;
      }
      memcpy(t->host + t->host_len, e, e->d_reclen);
      t->host_len += e->d_reclen;
    }
  }
  syscall(SYS_close, fd);
  errno = saved;
}

void i4j_testbed_dir_opened(DIR *d) {
  char virtual[PATH_MAX];
  long n = fd_path(dirfd(d), virtual, sizeof virtual);
  if (n < 0 || !in_testbed(virtual)) return;
  i4j_testbed_unmap(virtual, (size_t)n + 1);
  size_t vlen = strlen(virtual);
  int has_devnodes = 0;
  for (unsigned i = 0; i < ndevnodes; i++) {
    const char *p = devnodes[i].path;
    if (strncmp(p, virtual, vlen) == 0 && p[vlen] == '/' && !strchr(p + vlen + 1, '/')) has_devnodes = 1;
  }
  int merge = is_merged(virtual) && raw_exists(virtual, 1);
  if (!merge && !has_devnodes) return;
  struct testbed_dir *t = calloc(1, sizeof *t);
  if (!t) return;
  t->dir = d;
  t->has_devnodes = has_devnodes;
  memcpy(t->virtual, virtual, vlen + 1);
  if (merge) snapshot_host(t, dirfd(d));
  for (int i = 0; i < MAX_DIRS && t; i++) {
    struct testbed_dir *empty = NULL;
    if (atomic_compare_exchange_strong(&dirs[i], &empty, t)) {
      atomic_fetch_add(&ndirs, 1);
      t = NULL;
    }
  }
  if (t) { /* too many open at once: this one lists the testbed only */
    free(t->host);
    free(t);
  }
}

struct dirent64 *i4j_testbed_readdir(DIR *d, struct dirent64 *(*next)(DIR *), int *handled) {
  struct testbed_dir *t = find_dir(d, 0);
  *handled = t != NULL;
  if (!t) return NULL;
  if (t->pos < t->host_len) {
    struct dirent64 *e = (struct dirent64 *)(t->host + t->pos);
    t->pos += e->d_reclen;
    return e;
  }
  struct dirent64 *e = next(d);
  if (e && t->has_devnodes && e->d_type == DT_REG) {
    char path[PATH_MAX + sizeof e->d_name];
    snprintf(path, sizeof path, "%s/%s", t->virtual, e->d_name);
    if (devnode_of(path)) e->d_type = DT_CHR;
  }
  return e;
}

void i4j_testbed_dir_rewound(DIR *d) {
  struct testbed_dir *t = find_dir(d, 0);
  if (t) t->pos = 0;
}

void i4j_testbed_dir_closed(DIR *d) {
  struct testbed_dir *t = find_dir(d, 1);
  if (!t) return;
  free(t->host);
  free(t);
}
