/*
 * exec --record --kernel. A recorded file is tracked as KIND_KERNEL with the number the server
 * gave it; each ioctl on it goes to the server first (T_KIOCTL), which reads what the call will
 * read, has the shim make it (CB_KERNEL_CALL) and reads what it wrote.
 */
#define _GNU_SOURCE
#include "record.h"

#include <errno.h>
#include <time.h>

#include "channel.h"
#include "proto.h"
#include "sys.h"
#include "transport.h"

/* The reply's data: the call's duration. */
_Static_assert(KERNEL_CALL_NANOS == REPLY_SIZE && KERNEL_CALL_REPLY_SIZE == REPLY_SIZE + 8, "CB_KERNEL_CALL reply");

/* The kernel call being recorded: CB_KERNEL_CALL makes it. */
struct kernel_call {
  int fd;
  unsigned long request;
  void *arg;
  i4j_ioctl_fn next;
  int done;
  long result;
  uint64_t ns;
};

static void kernel_call_run(struct kernel_call *k) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int r = k->next(k->fd, k->request, k->arg);
  k->result = r < 0 ? -errno : r;
  clock_gettime(CLOCK_MONOTONIC, &b);
  k->ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
  k->done = 1;
}

/* The callbacks of a T_KIOCTL: make the call, name the recorded file behind a descriptor. */
static int kernel_callback(void *arg, uint16_t type, const unsigned char *p, uint32_t length, int64_t *status,
                           const void **data, size_t *n) {
  struct kernel_call *k = arg;
  switch (type) {
    case CB_KERNEL_CALL:
      if (k->done) return 0;
      kernel_call_run(k);
      *status = k->result;
      *data = &k->ns;
      *n = sizeof k->ns;
      return 1;
    case CB_FILE_OF: {
      if (length < TARGET_SIZE) return 0;
      struct tracked t;
      int target = (int)i4j_get32(p + TARGET_FD);
      *status = i4j_track_valid(target, &t) && t.kind == KIND_KERNEL ? (int64_t)(t.ino & 0xffffffffu) : 0;
      return 1;
    }
    default:
      return 0;
  }
}

static void kernel_track(int fd, uint64_t number) {
  uint64_t ino;
  int sock;
  if (number != 0 && i4j_sys_fstat_ino(fd, &ino, &sock) == 0 && !sock)
    i4j_track_set(fd, KIND_KERNEL, i4j_kernel_ino(ino, number));
}

void i4j_kernel_open(int fd, uint32_t node, int flags, int adopted) {
  int saved = errno;
  unsigned char req[KOPEN_SIZE];
  i4j_put32(req + KOPEN_FLAGS, (uint32_t)flags);
  i4j_put32(req + KOPEN_NODE, node);
  i4j_put32(req + KOPEN_ADOPTED, adopted ? 1u : 0u);
  i4j_put32(req + KOPEN_RESERVED, 0);
  struct i4j_result res;
  uint64_t number = i4j_call(T_KOPEN, req, sizeof req, NULL, 0, &res, NULL, NULL) == 0 ? res.handle : 0;
  kernel_track(fd, number);
  DBG("%s fd %d: recorded file %llu", adopted ? "met" : "opened", fd, (unsigned long long)number);
  errno = saved;
}

long i4j_kernel_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg, i4j_ioctl_fn next) {
  i4j_keep_pins_at_exit(); /* at exit() the recording learns this process is gone */
  struct kernel_call k = {fd, request, arg, next, 0, 0, 0};
  unsigned char window[I4J_WINDOW];
  long n = arg ? i4j_self_read((uint64_t)(uintptr_t)arg, window, sizeof window) : 0;
  uint32_t window_length = n > 0 ? (uint32_t)n : 0;
  unsigned char req[IOCTL_SIZE];
  i4j_put_ioctl(req, t->ino & 0xffffffffu, request, arg, window_length, 0);
  struct i4j_result res = {0};
  long r = i4j_call(T_KIOCTL, req, sizeof req, window, window_length, &res, kernel_callback, &k);
  if (k.done && r >= 0 && res.handle != 0 && res.ino <= INT32_MAX) kernel_track((int)res.ino, res.handle);
  if (!k.done) {
    DBG("ioctl(%d, 0x%lx) not recorded: the server did not take it", fd, request);
    kernel_call_run(&k); /* the program's call happens, recorded or not */
  }
  return k.result;
}

struct still_open {
  uint64_t ino;
  int found;
};

static void find_kernel_file(int fd, const struct tracked *t, void *arg) {
  struct still_open *s = arg;
  struct tracked v;
  if (!s->found && t->kind == KIND_KERNEL && t->ino == s->ino && i4j_track_valid(fd, &v)) s->found = 1;
}

void i4j_kernel_closed(uint64_t ino) {
  if (!i4j_socket_path) return;
  /* a recorded file is closed for this process when its last descriptor here goes */
  struct still_open s = {ino, 0};
  i4j_track_each(0, ~0u, find_kernel_file, &s);
  if (s.found) return;
  unsigned char req[KCLOSED_SIZE];
  i4j_put64(req + KCLOSED_FILE, ino & 0xffffffffu);
  struct i4j_result res;
  i4j_call(T_KCLOSED, req, sizeof req, NULL, 0, &res, NULL, NULL);
}
