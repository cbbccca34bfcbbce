/* Internal declarations of the iommufd4j LD_PRELOAD shim. */
#ifndef IOMMUFD4J_SHIM_H
#define IOMMUFD4J_SHIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* What the shim knows about a descriptor of this process. */
#define TRACK_NONE 0
#define TRACK_CHANNEL 'c' /* one of the shim's own channels: invisible to the program */
/* KIND_IOMMUFD, KIND_ACCESS, KIND_FAULT (proto.h): files served by the server;
   KIND_KERNEL: a real file being recorded, its ino i4j_kernel_ino(inode, number) */

struct tracked {
  int kind;
  uint64_t ino;
};

/* Configuration read once from the environment. */
HIDDEN extern const char *i4j_socket_path; /* IOMMUFD4J_SOCKET, NULL when unset */
HIDDEN extern int i4j_debug;               /* IOMMUFD4J_DEBUG */
HIDDEN extern int i4j_shim_memory;         /* IOMMUFD4J_MEMORY=shim */
HIDDEN extern int i4j_vfio;                /* IOMMUFD4J_VFIO=1 */
HIDDEN extern long i4j_connect_wait_ms;    /* IOMMUFD4J_CONNECT_WAIT_MS: server still starting */
HIDDEN extern int i4j_mailbox;             /* IOMMUFD4J_MAILBOX (default 1): the fast channel */
HIDDEN extern long i4j_spin_us;            /* IOMMUFD4J_SPIN_US: how long to spin for a reply */
HIDDEN extern const char *i4j_debugfs;     /* IOMMUFD4J_DEBUGFS: fault injection is emulated */
HIDDEN extern int i4j_kernel;              /* IOMMUFD4J_KERNEL=1: the kernel's calls, recorded */
HIDDEN void i4j_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define DBG(...) \
  do { \
    if (i4j_debug) i4j_log(__VA_ARGS__); \
  } while (0)

/* fdtable.c: lock-free fd -> {kind, inode}; writers race only as the program's own calls do. */
HIDDEN int i4j_track_get(int fd, struct tracked *out);
HIDDEN void i4j_track_set(int fd, int kind, uint64_t ino);
HIDDEN void i4j_track_clear(int fd);
/* Calls fn for every tracked fd in [lo, hi]. */
HIDDEN void i4j_track_each(unsigned lo, unsigned hi, void (*fn)(int fd, const struct tracked *t, void *arg),
                           void *arg);
/* The tracked entry of fd if it still names the same socket (fstat), else clears it: 0 or 1. */
HIDDEN int i4j_track_valid(int fd, struct tracked *out);
/* If fd is the client end of a server file (getpeername), tracks it and returns its kind. */
HIDDEN int i4j_classify(int fd);

/* channel.c: one channel per thread, calls with callbacks. */
struct i4j_result {
  int64_t result;
  uint64_t handle;
  uint64_t ino;
  uint32_t kind;
  uint32_t writeback_offset; /* bytes after the result go to arg + this */
  uint32_t writeback_length;
};
/* Opens node (NODE_*) with open(2) flags: fd or -errno. */
HIDDEN int i4j_open(uint32_t node, int flags);
/* ioctl/read/write on a tracked file: result or -errno. */
HIDDEN long i4j_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg);
/* fail-nth of the calling thread: FAIL_NTH_SET value, or FAIL_NTH_GET: value or -errno. */
HIDDEN long i4j_fail_nth(uint32_t op, uint32_t value);
/* After close: lets the server tear the file down now if that was its last descriptor (of
   this process, for a recorded kernel file). */
HIDDEN void i4j_closed(int kind, uint64_t ino);

/* exec --record --kernel. A recorded file's tracked ino: its inode's low half, its number. */
static inline uint64_t i4j_kernel_ino(uint64_t inode, uint64_t number) {
  return (inode << 32) | (number & 0xffffffffu);
}
typedef int (*i4j_ioctl_fn)(int, unsigned long, ...);
/* The real node was opened at fd (adopted: met, not opened): has the server number it. */
HIDDEN void i4j_kernel_open(int fd, uint32_t node, int flags, int adopted);
/* Makes the call with next, recorded by the server when it can be: result or -errno. */
HIDDEN long i4j_kernel_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg,
                             i4j_ioctl_fn next);
HIDDEN long i4j_rw(int fd, const struct tracked *t, int type, void *buf, size_t count);
/* Moves a channel off fd (the program wants that number): 0 or -errno. */
HIDDEN int i4j_channel_relocate(int fd);
HIDDEN void i4j_channel_init(void);

/* Reads/writes this process's memory without faulting: bytes moved (short on a fault). */
HIDDEN long i4j_self_read(uint64_t addr, void *dst, size_t len);
HIDDEN long i4j_self_write(uint64_t addr, const void *src, size_t len);

/* Raw system calls, so the shim never re-enters its own wrappers. */
HIDDEN long i4j_sys_close(int fd);
HIDDEN int i4j_sys_fstat_ino(int fd, uint64_t *ino, int *is_sock);

#endif
