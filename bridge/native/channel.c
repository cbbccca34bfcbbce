/*
 * Channels: one connection to the server per thread, made on first use, and the calls made on
 * them, with the callbacks the server makes meanwhile (caller memory, descriptors).
 *
 * A thread owns its channel, so calls need no lock; the registry of all channels (for fork and
 * relocation) has one. During a call every signal is blocked, so a handler that itself issues an
 * ioctl cannot interleave frames, and the exchange never sees EINTR. After fork the child closes
 * its copies of the parent's channels (they stay the parent's) and connects afresh on first use;
 * a thread's channel is closed when the thread exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "fdtable.h"
#include "proto.h"
#include "share.h"
#include "sys.h"
#include "transport.h"

#define CACHE_SLOTS 16

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

struct channel {
  struct transport transport;
  uint32_t mode;
  uintptr_t stack_base; /* this thread's stack, [base, top), or 0 if unknown */
  uintptr_t stack_top;
  struct {
    uint64_t ino;
    uint64_t handle;
  } cache[CACHE_SLOTS];
  unsigned cached;
  unsigned evict;
  struct channel *next;
  unsigned char out[I4J_CHUNK + 64]; /* payload of a callback reply */
};

static __thread struct channel *tls_channel __attribute__((tls_model("initial-exec")));
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct channel *registry;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
/* This process issued a call: at exit() the server keeps whatever it still has pinned. */
static _Atomic int used_server;
static unsigned char nonce[32];

/* ---- registry, fork, thread exit -------------------------------------------------------- */

static void channel_free(struct channel *ch) {
  i4j_track_clear(atomic_load(&ch->transport.fd));
  i4j_transport_close(&ch->transport);
  munmap(ch, sizeof *ch);
}

static void registry_remove(struct channel *ch) {
  pthread_mutex_lock(&registry_lock);
  for (struct channel **p = &registry; *p; p = &(*p)->next) {
    if (*p == ch) {
      *p = ch->next;
      break;
    }
  }
  pthread_mutex_unlock(&registry_lock);
}

/* Drops this thread's channel (broken, or the thread is leaving). */
static void channel_drop(struct channel *ch) {
  registry_remove(ch);
  if (tls_channel == ch) {
    tls_channel = NULL;
    pthread_setspecific(exit_key, NULL);
  }
  channel_free(ch);
}

static void on_thread_exit(void *p) {
  if (p) channel_drop(p);
}

static void before_fork(void) { pthread_mutex_lock(&registry_lock); }
static void after_fork_parent(void) { pthread_mutex_unlock(&registry_lock); }
static void after_fork_child(void) {
  i4j_sys_init();
  struct channel *ch = registry;
  registry = NULL;
  while (ch) {
    struct channel *next = ch->next;
    channel_free(ch); /* the child's copy only: the parent keeps its connection */
    ch = next;
  }
  tls_channel = NULL;
  used_server = 0; /* pins belong to the parent's pages, not to the child's */
  pthread_setspecific(exit_key, NULL);
  pthread_mutex_init(&registry_lock, NULL);
}

static void on_exit_keep_pins(void);

static void init_once(void) {
  if (i4j_debug) atexit(i4j_mailbox_report);
  atexit(on_exit_keep_pins);
  pthread_key_create(&exit_key, on_thread_exit);
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void i4j_channel_init(void) {
  i4j_sys_init();
  if (syscall(SYS_getrandom, nonce, sizeof nonce, 0) != (long)sizeof nonce) {
    pid_t pid = (pid_t)syscall(SYS_getpid);
    for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (unsigned char)((uintptr_t)&nonce * 31 + i * 131 + pid);
  }
  pthread_once(&once, init_once);
}

int i4j_channel_relocate(int fd) {
  int r = 0;
  pthread_mutex_lock(&registry_lock);
  for (struct channel *ch = registry; ch; ch = ch->next) {
    if (atomic_load(&ch->transport.fd) != fd) continue;
    int moved = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, fd + 1);
    if (moved < 0) {
      r = -errno;
      break;
    }
    i4j_track_set(moved, TRACK_CHANNEL, 0);
    atomic_store(&ch->transport.fd, moved);
    i4j_track_clear(fd);
    DBG("channel moved from fd %d to %d", fd, moved);
    break;
  }
  pthread_mutex_unlock(&registry_lock);
  return r;
}

/* ---- connecting ------------------------------------------------------------------------- */

static int high_fd_base(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 16) return -1;
  if (rl.rlim_cur > 1365) return 1024;
  return (int)(rl.rlim_cur * 3 / 4);
}

static int yama_scope(void) {
  int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char c = '0';
  long n = syscall(SYS_read, fd, &c, 1UL);
  i4j_sys_close(fd);
  return n == 1 ? c - '0' : 0;
}

/* Said once per process, whatever the debug setting: otherwise the program sees only ENXIO. */
static void warn_unreachable(const char *why) {
  static atomic_int said;
  if (atomic_exchange(&said, 1)) return;
  i4j_log(
      "cannot reach the iommufd4j server at %s (IOMMUFD4J_SOCKET): %s; its files answer ENXIO "
      "(is `./run.sh serve --socket %s` running?)",
      i4j_socket_path, why, i4j_socket_path);
}

static struct channel *channel_connect(long *err) {
  if (!i4j_socket_path) {
    *err = -ENXIO;
    return NULL;
  }
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  size_t plen = strlen(i4j_socket_path);
  if (plen >= sizeof addr.sun_path) {
    *err = -ENAMETOOLONG;
    return NULL;
  }
  memcpy(addr.sun_path, i4j_socket_path, plen);
  int fd = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = -errno;
    return NULL;
  }
  /* `exec` starts the program while its server is still starting: wait for it that long. */
  long waited_us = 0, step_us = 200;
  while (syscall(SYS_connect, fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    if (errno == EINTR) continue;
    if ((errno == ENOENT || errno == ECONNREFUSED) && waited_us < i4j_connect_wait_ms * 1000) {
      struct timespec ts = {0, step_us * 1000};
      nanosleep(&ts, NULL);
      waited_us += step_us;
      if (step_us < 20000) step_us *= 2;
      continue;
    }
    warn_unreachable(strerrorname_np(errno) ? strerrorname_np(errno) : strerror(errno));
    i4j_sys_close(fd);
    *err = -ENXIO;
    return NULL;
  }
  int base = high_fd_base();
  if (base > fd) {
    int moved = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, base);
    if (moved >= 0) {
      i4j_sys_close(fd);
      fd = moved;
    }
  }
  struct channel *ch = mmap(NULL, sizeof *ch, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ch == MAP_FAILED) {
    i4j_sys_close(fd);
    *err = -ENOMEM;
    return NULL;
  }
  atomic_store(&ch->transport.fd, fd);
  i4j_track_set(fd, TRACK_CHANNEL, 0);

  if (!i4j_shim_memory && yama_scope() == 1) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
      prctl(PR_SET_PTRACER, (unsigned long)cred.pid, 0UL, 0UL, 0UL);
  }
  unsigned char hello[HELLO_SIZE] = {0};
  i4j_put32(hello + HELLO_MAGIC, I4J_MAGIC);
  i4j_put32(hello + HELLO_VERSION, I4J_VERSION);
  i4j_put32(hello + HELLO_FLAGS, (i4j_shim_memory ? HELLO_FLAG_FORCE_SHIM_MEMORY : 0u) |
                                     (i4j_mailbox ? HELLO_FLAG_MAILBOX : 0u) |
                                     (i4j_share_pins ? HELLO_FLAG_SHARE : 0u));
  i4j_put32(hello + HELLO_PROBE_LENGTH, sizeof nonce);
  i4j_put64(hello + HELLO_PROBE_ADDRESS, (uint64_t)(uintptr_t)nonce);
  i4j_put32(hello + HELLO_TID, (uint32_t)syscall(SYS_gettid));
  uint16_t type;
  uint32_t length;
  int got = -1;
  if (i4j_send_frame(fd, T_HELLO, hello, sizeof hello, nonce, sizeof nonce, -1) != 0 ||
      i4j_recv_frame(&ch->transport, &type, &length, &got) != 0 || type != T_HELLO_OK || length < HELLO_OK_SIZE ||
      i4j_get32(ch->transport.in + HELLO_OK_VERSION) != I4J_VERSION) {
    warn_unreachable("the handshake failed (not an iommufd4j server of this version?)");
    if (got >= 0) i4j_sys_close(got);
    channel_free(ch);
    *err = -ENXIO;
    return NULL;
  }
  ch->mode = i4j_get32(ch->transport.in + HELLO_OK_MODE);
  if (ch->mode & MODE_MAILBOX) {
    if (i4j_attach_mailbox(&ch->transport, got) != 0) {
      DBG("cannot map the mailbox");
      channel_free(ch);
      *err = -ENXIO;
      return NULL;
    }
  } else if (got >= 0) {
    i4j_sys_close(got);
  }
  DBG("channel fd %d connected to %s, memory %s, %s", fd, i4j_socket_path,
      (ch->mode & MODE_SHIM) ? "served by the shim" : "read by the server",
      ch->transport.mbox ? "mailbox" : "socket frames");
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void *base;
    size_t size;
    if (pthread_attr_getstack(&attr, &base, &size) == 0) {
      ch->stack_base = (uintptr_t)base;
      ch->stack_top = (uintptr_t)base + size;
    }
    pthread_attr_destroy(&attr);
  }
  pthread_mutex_lock(&registry_lock);
  ch->next = registry;
  registry = ch;
  pthread_mutex_unlock(&registry_lock);
  pthread_setspecific(exit_key, ch);
  return ch;
}

static struct channel *channel_get(long *err) {
  struct channel *ch = tls_channel;
  if (ch) return ch;
  ch = channel_connect(err);
  tls_channel = ch;
  return ch;
}

/* ---- callbacks -------------------------------------------------------------------------- */

static int reply(struct channel *ch, int64_t status, const void *data, size_t n, int send_fd) {
  unsigned char head[REPLY_SIZE];
  i4j_put64(head + REPLY_STATUS, (uint64_t)status);
  return i4j_post(&ch->transport, T_CB_REPLY, head, sizeof head, data, n, send_fd);
}

static void cache_put(struct channel *ch, uint64_t ino, uint64_t handle) {
  for (unsigned i = 0; i < ch->cached; i++) {
    if (ch->cache[i].ino == ino) {
      ch->cache[i].handle = handle;
      return;
    }
  }
  unsigned slot = ch->cached < CACHE_SLOTS ? ch->cached++ : (ch->evict++ % CACHE_SLOTS);
  ch->cache[slot].ino = ino;
  ch->cache[slot].handle = handle;
}

static int callback(struct channel *ch, uint16_t type, uint32_t length, int fd, i4j_callback_fn more, void *more_arg) {
  const unsigned char *p = ch->transport.in;
  switch (type) {
    case CB_MEM_READ: {
      if (length < MEM_READ_SIZE) break;
      uint64_t addr = i4j_get64(p + MEM_READ_ADDRESS), n = i4j_get64(p + MEM_READ_LENGTH);
      if (n > I4J_CHUNK) break;
      long got = n == 0 ? 0 : i4j_self_read(addr, ch->out, (size_t)n);
      if (got != (long)n) return reply(ch, -EFAULT, NULL, 0, -1);
      return reply(ch, 0, ch->out, (size_t)n, -1);
    }
    case CB_MEM_WRITE: {
      if (length < MEM_WRITE_SIZE) break;
      uint64_t addr = i4j_get64(p + MEM_WRITE_ADDRESS);
      size_t n = length - MEM_WRITE_SIZE;
      long put = n == 0 ? 0 : i4j_self_write(addr, p + MEM_WRITE_SIZE, n);
      return reply(ch, put == (long)n ? 0 : -EFAULT, NULL, 0, -1);
    }
    case CB_PINNABLE: {
      if (length < PINNABLE_SIZE) break;
      uint64_t addr = i4j_get64(p + PINNABLE_ADDRESS), n = i4j_get64(p + PINNABLE_LENGTH);
      int write = i4j_get32(p + PINNABLE_WRITE) != 0;
      uint64_t start = addr & ~4095ULL, end = (addr + n + 4095) & ~4095ULL;
      int64_t status = 0;
      if (n != 0) {
        int saved = errno;
        if (end <= start ||
            madvise((void *)(uintptr_t)start, end - start, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0)
          status = -EFAULT;
        errno = saved;
      }
      return reply(ch, status, NULL, 0, -1);
    }
    case CB_SHARE: {
      if (length < SHARE_SIZE) break;
      uint64_t addr = i4j_get64(p + SHARE_ADDRESS), n = i4j_get64(p + SHARE_LENGTH);
      if ((addr | n) & 4095 || n == 0 || addr + n < addr) break;
      int share_fd = -1;
      uint64_t span = 0, offset = 0;
      long status = i4j_share(addr, n, &share_fd, &span, &offset);
      i4j_put64(ch->out + SHARED_LENGTH - REPLY_SIZE, span);
      i4j_put64(ch->out + SHARED_OFFSET - REPLY_SIZE, offset);
      if (status < 0) return reply(ch, status, NULL, 0, -1);
      return reply(ch, status, ch->out, SHARE_REPLY_SIZE - REPLY_SIZE, status == SHARE_SHARED ? share_fd : -1);
    }
    case CB_NEW_FD: {
      if (length < NEW_FD_SIZE) break;
      uint32_t fd_flags = i4j_get32(p + NEW_FD_FLAGS), kind = i4j_get32(p + NEW_FD_KIND);
      uint64_t handle = i4j_get64(p + NEW_FD_HANDLE), ino = i4j_get64(p + NEW_FD_INODE);
      if (fd < 0) return reply(ch, -EMFILE, NULL, 0, -1);
      if (!(fd_flags & FD_CLOEXEC)) syscall(SYS_fcntl, fd, F_SETFD, 0);
      i4j_track_set(fd, (int)kind, ino);
      cache_put(ch, ino, handle);
      DBG("new emulated file (kind %c) at fd %d", (int)kind, fd);
      return reply(ch, fd, NULL, 0, -1);
    }
    case CB_CLOSE_FD: {
      if (length < TARGET_SIZE) break;
      int target = (int)i4j_get32(p + TARGET_FD);
      struct tracked t;
      if (!i4j_track_get(target, &t) || t.kind == TRACK_CHANNEL) return reply(ch, -EBADF, NULL, 0, -1);
      i4j_track_clear(target);
      i4j_sys_close(target);
      return reply(ch, 0, NULL, 0, -1);
    }
    case CB_DUP_FD: {
      if (length < TARGET_SIZE) break;
      int target = (int)i4j_get32(p + TARGET_FD);
      struct tracked t;
      int saved = errno;
      long open_fd = syscall(SYS_fcntl, target, F_GETFD);
      errno = saved;
      if (open_fd < 0 || (i4j_track_get(target, &t) && t.kind == TRACK_CHANNEL)) return reply(ch, -EBADF, NULL, 0, -1);
      return reply(ch, 0, NULL, 0, target);
    }
    case CB_GET_FD: {
      if (length < TARGET_SIZE) break;
      int target = (int)i4j_get32(p + TARGET_FD);
      struct tracked t;
      if ((i4j_track_valid(target, &t) && t.kind != TRACK_CHANNEL) || i4j_classify(target) != TRACK_NONE)
        return reply(ch, 0, NULL, 0, target);
      int saved = errno;
      int open_fd = syscall(SYS_fcntl, target, F_GETFD) >= 0 && !(i4j_track_get(target, &t) && t.kind == TRACK_CHANNEL);
      errno = saved;
      return reply(ch, open_fd ? -EBADFD : -EBADF, NULL, 0, -1); /* something else, or nothing */
    }
    default: {
      int64_t status;
      const void *data = NULL;
      size_t n = 0;
      if (more && more(more_arg, type, p, length, &status, &data, &n)) return reply(ch, status, data, n, -1);
      break;
    }
  }
  DBG("protocol error: callback type %u length %u", type, length);
  if (fd >= 0) i4j_sys_close(fd);
  errno = EPROTO;
  return -1;
}

/* One call on ch: request, callbacks, result. -EIO (and the channel dropped) if it breaks. */
static long exchange(struct channel *ch, uint16_t type, const void *a, size_t na, const void *b, size_t nb, int send_fd,
                     struct i4j_result *res, int *recv_fd, i4j_callback_fn more, void *more_arg) {
  if (i4j_post(&ch->transport, type, a, na, b, nb, send_fd) != 0) goto broken;
  for (;;) {
    uint16_t t;
    uint32_t length;
    int fd;
    if (i4j_take(&ch->transport, &t, &length, &fd) != 0) goto broken;
    if (t == T_RESULT) {
      if (length < RESULT_SIZE) {
        if (fd >= 0) i4j_sys_close(fd);
        errno = EPROTO;
        goto broken;
      }
      const unsigned char *p = ch->transport.in;
      res->result = (int64_t)i4j_get64(p + RESULT_VALUE);
      res->handle = i4j_get64(p + RESULT_HANDLE);
      res->ino = i4j_get64(p + RESULT_INODE);
      res->kind = i4j_get32(p + RESULT_KIND);
      res->writeback_offset = i4j_get32(p + RESULT_WRITEBACK_OFFSET);
      res->writeback_length = length - RESULT_SIZE;
      if (recv_fd)
        *recv_fd = fd;
      else if (fd >= 0)
        i4j_sys_close(fd);
      return res->result;
    }
    if (callback(ch, t, length, fd, more, more_arg) != 0) goto broken;
  }
broken:
  DBG("channel fd %d broken (%s): dropped", atomic_load(&ch->transport.fd), strerror(errno));
  channel_drop(ch);
  return -EIO;
}

/* The handle of the file fd names on this channel (attaching it on first use). */
static long handle_of(struct channel *ch, int fd, const struct tracked *t, uint64_t *handle) {
  for (unsigned i = 0; i < ch->cached; i++) {
    if (ch->cache[i].ino == t->ino) {
      *handle = ch->cache[i].handle;
      return 0;
    }
  }
  struct i4j_result res;
  long r = exchange(ch, T_ATTACH, NULL, 0, NULL, 0, fd, &res, NULL, NULL, NULL);
  if (r < 0) return r == -ENOENT ? -EBADF : r;
  cache_put(ch, res.ino, res.handle);
  *handle = res.handle;
  return 0;
}

/* This thread's channel and the server's handle for fd, or NULL with the reason in *err. */
static struct channel *channel_with_handle(int fd, const struct tracked *t, uint64_t *handle, long *err) {
  struct channel *ch = channel_get(err);
  if (ch && (*err = handle_of(ch, fd, t, handle)) == 0) return ch;
  return NULL;
}

/*
 * Whether [at, at + n) lies in an active frame of this thread's stack (at or above `frame`, the
 * caller's own): certainly readable and writable, so the shim copies it plainly and lets the
 * server hand back what it writes there. Not on a signal stack or a coroutine's: then the frame
 * is outside the thread's stack.
 */
static int on_own_stack(const struct channel *ch, uintptr_t frame, uintptr_t at, size_t n) {
  return ch->stack_top && frame >= ch->stack_base && frame < ch->stack_top && at >= frame && at + n <= ch->stack_top &&
         at + n > at;
}

static void block_signals(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
}

static void restore_signals(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

int i4j_open(uint32_t node, uint32_t index, int flags) {
  sigset_t old;
  block_signals(&old);
  long r;
  int fd = -1;
  struct channel *ch = channel_get(&r);
  if (ch) {
    unsigned char req[OPEN_SIZE];
    i4j_put32(req + OPEN_FLAGS, (uint32_t)flags);
    i4j_put32(req + OPEN_NODE, node);
    i4j_put32(req + OPEN_INDEX, index);
    i4j_put32(req + OPEN_RESERVED, 0);
    struct i4j_result res;
    r = exchange(ch, T_OPEN, req, sizeof req, NULL, 0, -1, &res, &fd, NULL, NULL);
    if (r >= 0 && fd < 0) r = fd == -2 ? -EMFILE : -EIO;
    if (r >= 0) {
      if (!(flags & O_CLOEXEC)) syscall(SYS_fcntl, fd, F_SETFD, 0);
      if (flags & O_NONBLOCK) syscall(SYS_fcntl, fd, F_SETFL, O_NONBLOCK);
      i4j_track_set(fd, (int)res.kind, res.ino);
      cache_put(ch, res.ino, res.handle);
      r = fd;
    } else if (fd >= 0) {
      i4j_sys_close(fd);
    }
  }
  restore_signals(&old);
  return (int)r;
}

long i4j_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg) {
  i4j_keep_pins_at_exit();
  sigset_t old;
  block_signals(&old);
  long r;
  uint64_t handle;
  struct channel *ch = channel_with_handle(fd, t, &handle, &r);
  if (ch) {
    uint32_t window_length = 0, flags = 0;
    unsigned char window[I4J_WINDOW];
    uintptr_t at = (uintptr_t)arg;
    if (((request >> 8) & 0xff) == 0x3b && arg != NULL) {
      if (on_own_stack(ch, (uintptr_t)__builtin_frame_address(0), at, sizeof window)) {
        memcpy(window, arg, sizeof window);
        window_length = sizeof window;
        flags = IOCTL_FLAG_WINDOW_WRITABLE;
      } else {
        long n = i4j_self_read((uint64_t)at, window, sizeof window);
        window_length = n > 0 ? (uint32_t)n : 0;
      }
    }
    unsigned char req[IOCTL_SIZE];
    i4j_put_ioctl(req, handle, request, arg, window_length, flags);
    struct i4j_result res = {0};
    r = exchange(ch, T_IOCTL, req, sizeof req, window, window_length, -1, &res, NULL, NULL, NULL);
    if (res.writeback_length > 0 && (flags & IOCTL_FLAG_WINDOW_WRITABLE) &&
        (uint64_t)res.writeback_offset + res.writeback_length <= window_length)
      memcpy((char *)arg + res.writeback_offset, ch->transport.in + RESULT_SIZE, res.writeback_length);
  }
  restore_signals(&old);
  return r;
}

long i4j_call(uint16_t type, const void *a, size_t na, const void *b, size_t nb, struct i4j_result *res,
              i4j_callback_fn more, void *more_arg) {
  sigset_t old;
  block_signals(&old);
  long r;
  struct channel *ch = channel_get(&r);
  if (ch) r = exchange(ch, type, a, na, b, nb, -1, res, NULL, more, more_arg);
  restore_signals(&old);
  return r;
}

void i4j_keep_pins_at_exit(void) { used_server = 1; }

/* Pinned pages outlive the process in the kernel; tell the server while they still exist. */
static void on_exit_keep_pins(void) {
  if (!used_server || !i4j_socket_path) return;
  int saved = errno;
  struct i4j_result res;
  i4j_call(T_EXITING, NULL, 0, NULL, 0, &res, NULL, NULL);
  errno = saved;
}

long i4j_fail_nth(uint32_t op, uint32_t value) {
  unsigned char req[FAIL_NTH_SIZE];
  i4j_put32(req + FAIL_NTH_OP, op);
  i4j_put32(req + FAIL_NTH_VALUE, value);
  struct i4j_result res;
  return i4j_call(T_FAIL_NTH, req, sizeof req, NULL, 0, &res, NULL, NULL);
}

void i4j_closed(uint64_t ino) {
  if (!i4j_socket_path) return;
  unsigned char req[CLOSED_SIZE];
  i4j_put64(req + CLOSED_INODE, ino);
  struct i4j_result res;
  i4j_call(T_CLOSED, req, sizeof req, NULL, 0, &res, NULL, NULL);
}

_Static_assert(RW_HANDLE == 0 && PRW_HANDLE == 0 && MMAP_HANDLE == 0, "file requests start with the file's handle");

/*
 * A request about the emulated file fd, its other fields filled in: the handle goes first. The
 * `count` bytes at buf go along when they are few and on this thread's stack (a pread's or a
 * trapped access's variable, usually), so the server neither reads nor writes this process for
 * them: it returns what it wrote there with the result.
 */
static long file_call(int fd, const struct tracked *t, uint16_t type, unsigned char *req, size_t size, void *buf,
                      size_t count) {
  sigset_t old;
  block_signals(&old);
  long r;
  uint64_t handle;
  struct channel *ch = channel_with_handle(fd, t, &handle, &r);
  if (ch) {
    i4j_put64(req, handle);
    unsigned char window[I4J_WINDOW];
    size_t window_length = 0;
    if (count > 0 && count <= sizeof window &&
        on_own_stack(ch, (uintptr_t)__builtin_frame_address(0), (uintptr_t)buf, count)) {
      memcpy(window, buf, count);
      window_length = count;
    }
    struct i4j_result res = {0};
    r = exchange(ch, type, req, size, window, window_length, -1, &res, NULL, NULL, NULL);
    if (res.writeback_length > 0 && (uint64_t)res.writeback_offset + res.writeback_length <= window_length)
      memcpy((char *)buf + res.writeback_offset, ch->transport.in + RESULT_SIZE, res.writeback_length);
  }
  restore_signals(&old);
  return r;
}

long i4j_rw(int fd, const struct tracked *t, int type, void *buf, size_t count) {
  unsigned char req[RW_SIZE];
  i4j_put64(req + RW_BUFFER, (uint64_t)(uintptr_t)buf);
  i4j_put64(req + RW_COUNT, (uint64_t)count);
  return file_call(fd, t, (uint16_t)type, req, sizeof req, NULL, 0);
}

long i4j_prw(int fd, const struct tracked *t, int type, void *buf, size_t count, uint64_t offset, uint32_t flags) {
  unsigned char req[PRW_SIZE];
  i4j_put64(req + PRW_BUFFER, (uint64_t)(uintptr_t)buf);
  i4j_put64(req + PRW_COUNT, (uint64_t)count);
  i4j_put64(req + PRW_OFFSET, offset);
  i4j_put32(req + PRW_FLAGS, flags);
  i4j_put32(req + PRW_RESERVED, 0);
  return file_call(fd, t, (uint16_t)type, req, sizeof req, buf, count);
}

long i4j_mmap_check(int fd, const struct tracked *t, uint64_t offset, uint64_t length, int prot, int flags,
                    struct i4j_shared_run *runs, unsigned *nruns, int *memfd) {
  unsigned char req[MMAP_SIZE];
  i4j_put64(req + MMAP_OFFSET, offset);
  i4j_put64(req + MMAP_LENGTH, length);
  i4j_put32(req + MMAP_PROT, (uint32_t)prot);
  i4j_put32(req + MMAP_FLAGS, (uint32_t)flags);
  *nruns = 0;
  *memfd = -1;
  sigset_t old;
  block_signals(&old);
  long r;
  uint64_t handle;
  struct channel *ch = channel_with_handle(fd, t, &handle, &r);
  if (ch) {
    i4j_put64(req + MMAP_HANDLE, handle);
    struct i4j_result res;
    int got = -1;
    r = exchange(ch, T_MMAP, req, sizeof req, NULL, 0, -1, &res, &got, NULL, NULL);
    unsigned n = r == 0 ? res.writeback_length / MMAP_SHARED_SIZE : 0;
    if (n > MMAP_SHARED_MAX || (n > 0) != (got >= 0)) {
      DBG("T_MMAP answered %u shared runs with descriptor %d: all trapped", n, got);
      n = 0;
    }
    for (unsigned i = 0; i < n; i++) {
      const unsigned char *e = ch->transport.in + RESULT_SIZE + i * MMAP_SHARED_SIZE;
      runs[i] = (struct i4j_shared_run){i4j_get64(e + MMAP_SHARED_AT), i4j_get64(e + MMAP_SHARED_LENGTH),
                                        i4j_get64(e + MMAP_SHARED_FD_OFFSET)};
    }
    if (n > 0) {
      *nruns = n;
      *memfd = got;
    } else if (got >= 0) {
      i4j_sys_close(got);
    }
  }
  restore_signals(&old);
  return r;
}
