/*
 * Calls to the server: one channel per thread, made on first use. A call is one request, any
 * callbacks the server makes meanwhile (answered here), and one result; signals are blocked
 * throughout.
 */
#ifndef IOMMUFD4J_CHANNEL_H
#define IOMMUFD4J_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "fdtable.h"

/* A T_RESULT frame. */
struct i4j_result {
  int64_t result;
  uint64_t handle;
  uint64_t ino;
  uint32_t kind;
  uint32_t writeback_offset; /* bytes after the result go to arg + this */
  uint32_t writeback_length;
};

/*
 * Answers a callback the channel does not answer itself: 1 with the reply's status and data
 * (data may stay NULL), or 0 if type is not one it expects (a protocol error).
 */
typedef int (*i4j_callback_fn)(void *arg, uint16_t type, const unsigned char *payload, uint32_t length, int64_t *status,
                               const void **data, size_t *n);

HIDDEN void i4j_channel_init(void);
/* Moves a channel off fd (the program wants that number): 0 or -errno. */
HIDDEN int i4j_channel_relocate(int fd);

/* Opens node (NODE_*; index: OPEN_INDEX) with open(2) flags: fd or -errno. */
HIDDEN int i4j_open(uint32_t node, uint32_t index, int flags);
/* ioctl/read/write on a tracked file: result or -errno. */
HIDDEN long i4j_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg);
HIDDEN long i4j_rw(int fd, const struct tracked *t, int type, void *buf, size_t count);
/* pread (T_PREAD) or pwrite (T_PWRITE) on a tracked file: bytes or -errno. Safe in the MMIO trap's
   handler: it connects this thread's channel if it has none (the thread faulted at a load or store
   of its own, holding no lock of the shim's or of libc's). */
HIDDEN long i4j_prw(int fd, const struct tracked *t, int type, void *buf, size_t count, uint64_t offset,
                    uint32_t flags);
/* A run of a device mapping's pages that is shared memory: [at, at + length) of the mapping is
   the memory descriptor's from fd_offset. */
struct i4j_shared_run {
  uint64_t at, length, fd_offset;
};
/* T_MMAP: 0 or -errno. On 0, runs[0.. *nruns) (room for MMAP_SHARED_MAX) are shared memory from
 *memfd, which the caller then owns (-1 if there are none); the other pages are to be trapped. */
HIDDEN long i4j_mmap_check(int fd, const struct tracked *t, uint64_t offset, uint64_t length, int prot, int flags,
                           struct i4j_shared_run *runs, unsigned *nruns, int *memfd);
/* fail-nth of the calling thread: FAIL_NTH_OP_SET value, or FAIL_NTH_OP_GET: value or -errno. */
HIDDEN long i4j_fail_nth(uint32_t op, uint32_t value);
/* After a close: lets the server tear the file down now if that was its last descriptor. */
HIDDEN void i4j_closed(uint64_t ino);

/* A request of type with payload a then b (no descriptor): the result or -errno. Callbacks the
   channel does not know go to more. */
HIDDEN long i4j_call(uint16_t type, const void *a, size_t na, const void *b, size_t nb, struct i4j_result *res,
                     i4j_callback_fn more, void *more_arg);
/* This process made a call: at exit() the server keeps whatever it still has pinned. */
HIDDEN void i4j_keep_pins_at_exit(void);

#endif
