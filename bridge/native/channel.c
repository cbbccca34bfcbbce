/*
 * Channels: one connection to the server per thread, made on first use.
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
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

#define CACHE_SLOTS 16
#define MAX_FDS_PER_FRAME 4
#define RESULT_SIZE 32

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

struct channel {
  _Atomic int fd;
  uint32_t mode;
  unsigned char *mbox; /* the mailbox, or NULL: frames go over the socket */
  unsigned spin_misses; /* replies in a row that spinning did not catch */
  unsigned waits;
  uintptr_t stack_base; /* this thread's stack, [base, top), or 0 if unknown */
  uintptr_t stack_top;
  struct {
    uint64_t ino;
    uint64_t handle;
  } cache[CACHE_SLOTS];
  unsigned cached;
  unsigned evict;
  struct channel *next;
  unsigned char in[I4J_CHUNK + 64];  /* payload of the frame being received */
  unsigned char out[I4J_CHUNK + 64]; /* payload of a callback reply */
};

static __thread struct channel *tls_channel __attribute__((tls_model("initial-exec")));
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct channel *registry;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pid_t self_pid;
/* This process issued a call: at exit() the server keeps whatever it still has pinned. */
static _Atomic int used_server;
static unsigned char nonce[32];

long i4j_sys_close(int fd) {
  int saved = errno;
  long r = syscall(SYS_close, fd);
  errno = saved;
  return r;
}

long i4j_self_read(uint64_t addr, void *dst, size_t len) {
  struct iovec local = {dst, len}, remote = {(void *)(uintptr_t)addr, len};
  int saved = errno;
  long r = syscall(SYS_process_vm_readv, self_pid, &local, 1UL, &remote, 1UL, 0UL);
  errno = saved;
  return r;
}

long i4j_self_write(uint64_t addr, const void *src, size_t len) {
  struct iovec local = {(void *)src, len}, remote = {(void *)(uintptr_t)addr, len};
  int saved = errno;
  long r = syscall(SYS_process_vm_writev, self_pid, &local, 1UL, &remote, 1UL, 0UL);
  errno = saved;
  return r;
}

/* ---- registry, fork, thread exit -------------------------------------------------------- */

static void channel_free(struct channel *ch) {
  int fd = atomic_load(&ch->fd);
  i4j_track_clear(fd);
  i4j_sys_close(fd);
  if (ch->mbox) munmap(ch->mbox, MBOX_SIZE);
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
  self_pid = (pid_t)syscall(SYS_getpid);
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

static void print_stats(void);
static void on_exit_keep_pins(void);

static void init_once(void) {
  if (i4j_debug) atexit(print_stats);
  atexit(on_exit_keep_pins);
  pthread_key_create(&exit_key, on_thread_exit);
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void i4j_channel_init(void) {
  self_pid = (pid_t)syscall(SYS_getpid);
  if (syscall(SYS_getrandom, nonce, sizeof nonce, 0) != (long)sizeof nonce) {
    for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (unsigned char)((uintptr_t)&nonce * 31 + i * 131 + self_pid);
  }
  pthread_once(&once, init_once);
}

int i4j_channel_relocate(int fd) {
  int r = 0;
  pthread_mutex_lock(&registry_lock);
  for (struct channel *ch = registry; ch; ch = ch->next) {
    if (atomic_load(&ch->fd) != fd) continue;
    int moved = (int)syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, fd + 1);
    if (moved < 0) {
      r = -errno;
      break;
    }
    i4j_track_set(moved, TRACK_CHANNEL, 0);
    atomic_store(&ch->fd, moved);
    i4j_track_clear(fd);
    DBG("channel moved from fd %d to %d", fd, moved);
    break;
  }
  pthread_mutex_unlock(&registry_lock);
  return r;
}

/* ---- frames ----------------------------------------------------------------------------- */

static int send_frame(int fd, uint16_t type, const void *a, size_t na, const void *b, size_t nb, int send_fd) {
  unsigned char header[I4J_HEADER];
  uint32_t length = (uint32_t)(na + nb);
  memcpy(header, &length, 4);
  memcpy(header + 4, &type, 2);
  memset(header + 6, 0, 2);
  struct iovec iov[3] = {{header, sizeof header}, {(void *)a, na}, {(void *)b, nb}};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
  if (send_fd >= 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
  }
  size_t left = sizeof header + na + nb;
  while (left > 0) {
    long n = syscall(SYS_sendmsg, fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    left -= (size_t)n;
    msg.msg_control = NULL; /* the descriptor went with the first byte */
    msg.msg_controllen = 0;
    while (n > 0 && msg.msg_iovlen > 0) {
      if ((size_t)n >= msg.msg_iov->iov_len) {
        n -= (long)msg.msg_iov->iov_len;
        msg.msg_iov++;
        msg.msg_iovlen--;
      } else {
        msg.msg_iov->iov_base = (char *)msg.msg_iov->iov_base + n;
        msg.msg_iov->iov_len -= (size_t)n;
        n = 0;
      }
    }
  }
  return 0;
}

/* Reads exactly len bytes; the first read also collects descriptors into *got_fd. */
static int recv_exact(int fd, void *buf, size_t len, int *got_fd) {
  union {
    char buf[CMSG_SPACE(MAX_FDS_PER_FRAME * sizeof(int))];
    struct cmsghdr align;
  } control;
  size_t done = 0;
  int first = got_fd != NULL;
  while (done < len) {
    struct iovec iov = {(char *)buf + done, len - done};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (first) {
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;
    }
    long n = syscall(SYS_recvmsg, fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {
      errno = ECONNRESET;
      return -1;
    }
    if (first) {
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int f;
          memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
          if (*got_fd < 0)
            *got_fd = f;
          else
            i4j_sys_close(f);
        }
      }
      if ((msg.msg_flags & MSG_CTRUNC) && *got_fd < 0) *got_fd = -2; /* no room for the fd */
      first = 0;
    }
    done += (size_t)n;
  }
  return 0;
}

static int recv_frame(struct channel *ch, uint16_t *type, uint32_t *length, int *got_fd) {
  unsigned char header[I4J_HEADER];
  *got_fd = -1;
  int fd = atomic_load(&ch->fd);
  if (recv_exact(fd, header, sizeof header, got_fd) != 0) return -1;
  memcpy(length, header, 4);
  memcpy(type, header + 4, 2);
  if (*length > sizeof ch->in) {
    DBG("protocol error: frame type %u of %u bytes", *type, *length);
    errno = EPROTO;
    return -1;
  }
  return recv_exact(fd, ch->in, *length, NULL);
}

static uint64_t get64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ---- the mailbox ------------------------------------------------------------------------ */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static _Atomic uint32_t *mbox_word(struct channel *ch, size_t offset) {
  return (_Atomic uint32_t *)(ch->mbox + offset);
}

static int socket_hung_up(int fd) {
  struct pollfd p = {.fd = fd, .events = 0};
  int saved = errno;
  long r = syscall(SYS_poll, &p, 1UL, 0);
  errno = saved;
  return r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

static int recv_frame(struct channel *ch, uint16_t *type, uint32_t *length, int *got_fd);

/* The next frame on the socket that is not a doorbell. */
static int recv_real_frame(struct channel *ch, uint16_t *type, uint32_t *length, int *got_fd) {
  do {
    if (recv_frame(ch, type, length, got_fd) != 0) return -1;
  } while (*type == T_DOORBELL);
  return 0;
}

/* IOMMUFD4J_DEBUG: how the mailbox waits went, printed when the process exits. */
static _Atomic long stat_spun, stat_slept, stat_rang;

static void print_stats(void) {
  if (stat_spun + stat_slept + stat_rang)
    i4j_log("mailbox: %ld replies caught spinning, %ld after sleeping, %ld doorbells rung", (long)stat_spun,
            (long)stat_slept, (long)stat_rang);
}

static int spin_for_turn(struct channel *ch, long micros) {
  _Atomic uint32_t *turn = mbox_word(ch, MBOX_TURN);
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (unsigned i = 1;; i++) {
    if (atomic_load_explicit(turn, memory_order_acquire) == TURN_CLIENT) return 1;
    cpu_relax();
    if ((i & 63) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &t);
      if ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 >= micros) return 0;
    }
  }
}

/*
 * Waits for a frame: 0 when it is in the box, 1 when a frame with a descriptor came on the
 * socket while sleeping (it is in ch->in, its box announcement consumed), -1 on failure.
 */
static int mbox_await(struct channel *ch, uint16_t *type, uint32_t *length, int *got_fd) {
  _Atomic uint32_t *turn = mbox_word(ch, MBOX_TURN);
  /*
   * Spin only while spinning pays: after a few misses in a row (the server is slow, or has no CPU
   * to run on: spinning then only takes it away) sleep at once, and try again now and then.
   */
  int spin = i4j_spin_us > 0 && (ch->spin_misses < 4 || (++ch->waits & 15) == 0);
  if (spin && spin_for_turn(ch, i4j_spin_us)) {
    ch->spin_misses = 0;
    if (i4j_debug) stat_spun++;
    return 0;
  }
  if (spin) ch->spin_misses++;
  if (i4j_debug) stat_slept++;
  _Atomic uint32_t *waiting = mbox_word(ch, MBOX_CLIENT_WAITING);
  for (;;) {
    atomic_store(waiting, 1);
    if (atomic_load(turn) == TURN_CLIENT) {
      atomic_store(waiting, 0);
      return 0;
    }
    int r = recv_frame(ch, type, length, got_fd);
    atomic_store(waiting, 0);
    if (r != 0) return -1;
    if (*type == T_DOORBELL) continue;
    /* a frame with a descriptor: its T_VIA_SOCKET follows in the box at once */
    while (!spin_for_turn(ch, 1000)) {
      if (socket_hung_up(atomic_load(&ch->fd))) return -1;
      sched_yield();
    }
    atomic_store_explicit(turn, TURN_NONE, memory_order_relaxed);
    return 1;
  }
}

/* Puts a frame for the server into the box (a descriptor travels on the socket, announced). */
static int mbox_post(struct channel *ch, uint16_t type, const void *a, size_t na, const void *b, size_t nb,
                     int send_fd) {
  int fd = atomic_load(&ch->fd);
  if (send_fd >= 0) {
    if (send_frame(fd, type, a, na, b, nb, send_fd) != 0) return -1;
    type = T_VIA_SOCKET;
    na = nb = 0;
  }
  if (na + nb > MBOX_SIZE - MBOX_DATA) {
    errno = EMSGSIZE;
    return -1;
  }
  if (na) memcpy(ch->mbox + MBOX_DATA, a, na);
  if (nb) memcpy(ch->mbox + MBOX_DATA + na, b, nb);
  uint32_t length = (uint32_t)(na + nb);
  memcpy(ch->mbox + MBOX_LENGTH, &length, 4);
  memcpy(ch->mbox + MBOX_TYPE, &type, 2);
  atomic_store_explicit(mbox_word(ch, MBOX_TURN), TURN_SERVER, memory_order_release);
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load(mbox_word(ch, MBOX_SERVER_WAITING))) {
    if (i4j_debug) stat_rang++;
    return send_frame(fd, T_DOORBELL, NULL, 0, NULL, 0, -1);
  }
  return 0;
}

static int mbox_take(struct channel *ch, uint16_t *type, uint32_t *length, int *got_fd) {
  *got_fd = -1;
  int r = mbox_await(ch, type, length, got_fd);
  if (r != 0) return r < 0 ? -1 : 0;
  memcpy(length, ch->mbox + MBOX_LENGTH, 4);
  memcpy(type, ch->mbox + MBOX_TYPE, 2);
  if (*type == T_VIA_SOCKET) {
    atomic_store_explicit(mbox_word(ch, MBOX_TURN), TURN_NONE, memory_order_relaxed);
    return recv_real_frame(ch, type, length, got_fd);
  }
  if (*length > sizeof ch->in || *length > MBOX_SIZE - MBOX_DATA) {
    errno = EPROTO;
    return -1;
  }
  memcpy(ch->in, ch->mbox + MBOX_DATA, *length);
  atomic_store_explicit(mbox_word(ch, MBOX_TURN), TURN_NONE, memory_order_relaxed);
  return 0;
}

static int post_message(struct channel *ch, uint16_t type, const void *a, size_t na, const void *b, size_t nb,
                        int send_fd) {
  if (ch->mbox) return mbox_post(ch, type, a, na, b, nb, send_fd);
  return send_frame(atomic_load(&ch->fd), type, a, na, b, nb, send_fd);
}

static int take_message(struct channel *ch, uint16_t *type, uint32_t *length, int *got_fd) {
  if (ch->mbox) return mbox_take(ch, type, length, got_fd);
  return recv_frame(ch, type, length, got_fd);
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
    DBG("cannot connect to %s: %s", i4j_socket_path, strerror(errno));
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
  atomic_store(&ch->fd, fd);
  i4j_track_set(fd, TRACK_CHANNEL, 0);

  if (!i4j_shim_memory && yama_scope() == 1) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (syscall(SYS_getsockopt, fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
      prctl(PR_SET_PTRACER, (unsigned long)cred.pid, 0UL, 0UL, 0UL);
  }
  struct {
    uint32_t magic, version, flags, probe_len;
    uint64_t probe_addr;
  } hello = {I4J_MAGIC, I4J_VERSION,
             (i4j_shim_memory ? HELLO_FORCE_SHIM_MEMORY : 0u) | (i4j_mailbox ? HELLO_MAILBOX : 0u),
             sizeof nonce, (uint64_t)(uintptr_t)nonce};
  uint16_t type;
  uint32_t length;
  int got = -1;
  if (send_frame(fd, T_HELLO, &hello, sizeof hello, nonce, sizeof nonce, -1) != 0 ||
      recv_frame(ch, &type, &length, &got) != 0 || type != T_HELLO_OK || length < 16 ||
      get32(ch->in) != I4J_VERSION) {
    DBG("handshake with %s failed", i4j_socket_path);
    if (got >= 0) i4j_sys_close(got);
    channel_free(ch);
    *err = -ENXIO;
    return NULL;
  }
  ch->mode = get32(ch->in + 4);
  if (ch->mode & MODE_MAILBOX) {
    void *box = got >= 0 ? mmap(NULL, MBOX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, got, 0) : MAP_FAILED;
    if (got >= 0) i4j_sys_close(got);
    if (box == MAP_FAILED) {
      DBG("cannot map the mailbox");
      channel_free(ch);
      *err = -ENXIO;
      return NULL;
    }
    ch->mbox = box;
  } else if (got >= 0) {
    i4j_sys_close(got);
  }
  DBG("channel fd %d connected to %s, memory %s, %s", fd, i4j_socket_path,
      (ch->mode & MODE_SHIM) ? "served by the shim" : "read by the server",
      ch->mbox ? "mailbox" : "socket frames");
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

/* The kernel call this thread is recording: CB_KERNEL_CALL makes it. */
struct kernel_call {
  int fd;
  unsigned long request;
  void *arg;
  i4j_ioctl_fn next;
  int done;
  long result;
  uint64_t ns;
};
static __thread struct kernel_call *tls_kernel_call;

static void kernel_call_run(struct kernel_call *k) {
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int r = k->next(k->fd, k->request, k->arg);
  k->result = r < 0 ? -errno : r;
  clock_gettime(CLOCK_MONOTONIC, &b);
  k->ns = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000000u + (uint64_t)b.tv_nsec - (uint64_t)a.tv_nsec;
  k->done = 1;
}


static int reply(struct channel *ch, int64_t status, const void *data, size_t n, int send_fd) {
  return post_message(ch, T_CB_REPLY, &status, sizeof status, data, n, send_fd);
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

static int callback(struct channel *ch, uint16_t type, uint32_t length, int fd) {
  const unsigned char *p = ch->in;
  switch (type) {
    case CB_MEM_READ: {
      if (length < 16) break;
      uint64_t addr = get64(p), n = get64(p + 8);
      if (n > I4J_CHUNK) break;
      long got = n == 0 ? 0 : i4j_self_read(addr, ch->out, (size_t)n);
      if (got != (long)n) return reply(ch, -EFAULT, NULL, 0, -1);
      return reply(ch, 0, ch->out, (size_t)n, -1);
    }
    case CB_MEM_WRITE: {
      if (length < 8) break;
      uint64_t addr = get64(p);
      size_t n = length - 8;
      long put = n == 0 ? 0 : i4j_self_write(addr, p + 8, n);
      return reply(ch, put == (long)n ? 0 : -EFAULT, NULL, 0, -1);
    }
    case CB_PINNABLE: {
      if (length < 24) break;
      uint64_t addr = get64(p), n = get64(p + 8);
      int write = get32(p + 16) != 0;
      uint64_t start = addr & ~4095ULL, end = (addr + n + 4095) & ~4095ULL;
      int64_t status = 0;
      if (n != 0) {
        int saved = errno;
        if (end <= start || madvise((void *)(uintptr_t)start, end - start,
                                    write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0)
          status = -EFAULT;
        errno = saved;
      }
      return reply(ch, status, NULL, 0, -1);
    }
    case CB_NEW_FD: {
      if (length < 24) break;
      uint32_t fd_flags = get32(p), kind = get32(p + 4);
      uint64_t handle = get64(p + 8), ino = get64(p + 16);
      if (fd < 0) return reply(ch, -EMFILE, NULL, 0, -1);
      if (!(fd_flags & FD_CLOEXEC)) syscall(SYS_fcntl, fd, F_SETFD, 0);
      i4j_track_set(fd, (int)kind, ino);
      cache_put(ch, ino, handle);
      DBG("new emulated file (kind %c) at fd %d", (int)kind, fd);
      return reply(ch, fd, NULL, 0, -1);
    }
    case CB_CLOSE_FD: {
      if (length < 8) break;
      int target = (int)get32(p);
      struct tracked t;
      if (!i4j_track_get(target, &t) || t.kind == TRACK_CHANNEL) return reply(ch, -EBADF, NULL, 0, -1);
      i4j_track_clear(target);
      i4j_sys_close(target);
      return reply(ch, 0, NULL, 0, -1);
    }
    case CB_GET_FD: {
      if (length < 8) break;
      int target = (int)get32(p);
      struct tracked t;
      if ((i4j_track_valid(target, &t) && t.kind != TRACK_CHANNEL) || i4j_classify(target) != TRACK_NONE)
        return reply(ch, 0, NULL, 0, target);
      return reply(ch, -EBADF, NULL, 0, -1);
    }
    case CB_KERNEL_CALL: {
      struct kernel_call *k = tls_kernel_call;
      if (!k || k->done) break;
      kernel_call_run(k);
      return reply(ch, k->result, &k->ns, sizeof k->ns, -1);
    }
    case CB_FILE_OF: {
      if (length < 8) break;
      struct tracked t;
      int target = (int)get32(p);
      int64_t number = i4j_track_valid(target, &t) && t.kind == KIND_KERNEL ? (int64_t)(t.ino & 0xffffffffu) : 0;
      return reply(ch, number, NULL, 0, -1);
    }
    default:
      break;
  }
  DBG("protocol error: callback type %u length %u", type, length);
  if (fd >= 0) i4j_sys_close(fd);
  errno = EPROTO;
  return -1;
}

/* One call on ch: request, callbacks, result. -EIO (and the channel dropped) if it breaks. */
static long exchange(struct channel *ch, uint16_t type, const void *a, size_t na, const void *b, size_t nb,
                     int send_fd, struct i4j_result *res, int *recv_fd) {
  if (post_message(ch, type, a, na, b, nb, send_fd) != 0) goto broken;
  for (;;) {
    uint16_t t;
    uint32_t length;
    int fd;
    if (take_message(ch, &t, &length, &fd) != 0) goto broken;
    if (t == T_RESULT) {
      if (length < RESULT_SIZE) {
        if (fd >= 0) i4j_sys_close(fd);
        errno = EPROTO;
        goto broken;
      }
      res->result = (int64_t)get64(ch->in);
      res->handle = get64(ch->in + 8);
      res->ino = get64(ch->in + 16);
      res->kind = get32(ch->in + 24);
      res->writeback_offset = get32(ch->in + 28);
      res->writeback_length = length - RESULT_SIZE;
      if (recv_fd)
        *recv_fd = fd;
      else if (fd >= 0)
        i4j_sys_close(fd);
      return res->result;
    }
    if (callback(ch, t, length, fd) != 0) goto broken;
  }
broken:
  DBG("channel fd %d broken (%s): dropped", atomic_load(&ch->fd), strerror(errno));
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
  long r = exchange(ch, T_ATTACH, NULL, 0, NULL, 0, fd, &res, NULL);
  if (r < 0) return r == -ENOENT ? -EBADF : r;
  cache_put(ch, res.ino, res.handle);
  *handle = res.handle;
  return 0;
}

static void block_signals(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
}

static void restore_signals(const sigset_t *old) { pthread_sigmask(SIG_SETMASK, old, NULL); }

int i4j_open(uint32_t node, int flags) {
  sigset_t old;
  block_signals(&old);
  long r;
  int fd = -1;
  struct channel *ch = channel_get(&r);
  if (ch) {
    struct {
      uint32_t flags, node;
    } req = {(uint32_t)flags, node};
    struct i4j_result res;
    r = exchange(ch, T_OPEN, &req, sizeof req, NULL, 0, -1, &res, &fd);
    if (r >= 0 && fd < 0) r = fd == -2 ? -EMFILE : -EIO;
    if (r >= 0) {
      if (!(flags & O_CLOEXEC)) syscall(SYS_fcntl, fd, F_SETFD, 0);
      if (flags & O_NONBLOCK) syscall(SYS_fcntl, fd, F_SETFL, O_NONBLOCK);
      i4j_track_set(fd, KIND_IOMMUFD, res.ino);
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
  used_server = 1;
  sigset_t old;
  block_signals(&old);
  long r;
  struct channel *ch = channel_get(&r);
  uint64_t handle;
  if (ch && (r = handle_of(ch, fd, t, &handle)) == 0) {
    struct {
      uint64_t handle, request, arg;
      uint32_t window, flags;
    } req = {handle, request, (uint64_t)(uintptr_t)arg, 0, 0};
    unsigned char window[I4J_WINDOW];
    uintptr_t at = (uintptr_t)arg;
    if (((request >> 8) & 0xff) == 0x3b && arg != NULL) {
      /* A struct in an active frame of this thread's stack is certainly readable and writable:
         copy it plainly, and let the server hand back what it writes there. (Not on a signal
         stack or a coroutine's: then the frame is outside the thread's stack.) */
      uintptr_t frame = (uintptr_t)__builtin_frame_address(0);
      if (ch->stack_top && frame >= ch->stack_base && frame < ch->stack_top && at >= frame &&
          at + sizeof window <= ch->stack_top && at + sizeof window > at) {
        memcpy(window, arg, sizeof window);
        req.window = sizeof window;
        req.flags = IOCTL_WINDOW_WRITABLE;
      } else {
        long n = i4j_self_read((uint64_t)at, window, sizeof window);
        req.window = n > 0 ? (uint32_t)n : 0;
      }
    }
    struct i4j_result res = {0};
    r = exchange(ch, T_IOCTL, &req, sizeof req, window, req.window, -1, &res, NULL);
    if (res.writeback_length > 0 && (req.flags & IOCTL_WINDOW_WRITABLE) &&
        (uint64_t)res.writeback_offset + res.writeback_length <= req.window)
      memcpy((char *)arg + res.writeback_offset, ch->in + RESULT_SIZE, res.writeback_length);
  }
  restore_signals(&old);
  return r;
}

/* A request that carries no descriptor, with signals blocked: the result or -errno. */
static long simple_request(uint16_t type, const void *req, size_t n, struct i4j_result *res) {
  sigset_t old;
  block_signals(&old);
  long r;
  struct channel *ch = channel_get(&r);
  if (ch) r = exchange(ch, type, req, n, NULL, 0, -1, res, NULL);
  restore_signals(&old);
  return r;
}

/* Pinned pages outlive the process in the kernel; tell the server while they still exist. */
static void on_exit_keep_pins(void) {
  if (!used_server || !i4j_socket_path) return;
  int saved = errno;
  struct i4j_result res;
  simple_request(T_EXITING, NULL, 0, &res);
  errno = saved;
}

long i4j_fail_nth(uint32_t op, uint32_t value) {
  uint32_t req[2] = {op, value};
  struct i4j_result res;
  return simple_request(T_FAIL_NTH, req, sizeof req, &res);
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

void i4j_closed(int kind, uint64_t ino) {
  if (!i4j_socket_path) return;
  uint64_t payload = ino;
  uint16_t type = T_CLOSED;
  if (kind == KIND_KERNEL) {
    /* a recorded file is closed for this process when its last descriptor here goes */
    struct still_open s = {ino, 0};
    i4j_track_each(0, ~0u, find_kernel_file, &s);
    if (s.found) return;
    payload = ino & 0xffffffffu;
    type = T_KCLOSED;
  }
  struct i4j_result res;
  simple_request(type, &payload, sizeof payload, &res);
}

/* ---- exec --record --kernel ------------------------------------------------------------- */

static void kernel_track(int fd, uint64_t number) {
  uint64_t ino;
  int sock;
  if (number != 0 && i4j_sys_fstat_ino(fd, &ino, &sock) == 0 && !sock)
    i4j_track_set(fd, KIND_KERNEL, i4j_kernel_ino(ino, number));
}

void i4j_kernel_open(int fd, uint32_t node, int flags, int adopted) {
  int saved = errno;
  uint32_t req[4] = {(uint32_t)flags, node, adopted ? 1u : 0u, 0};
  struct i4j_result res;
  uint64_t number = simple_request(T_KOPEN, req, sizeof req, &res) == 0 ? res.handle : 0;
  kernel_track(fd, number);
  DBG("%s fd %d: recorded file %llu", adopted ? "met" : "opened", fd, (unsigned long long)number);
  errno = saved;
}

long i4j_kernel_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg, i4j_ioctl_fn next) {
  used_server = 1; /* at exit() the recording learns this process is gone */
  struct kernel_call k = {fd, request, arg, next, 0, 0, 0};
  sigset_t old;
  block_signals(&old);
  long r;
  struct channel *ch = channel_get(&r);
  if (ch) {
    struct {
      uint64_t file, request, arg;
      uint32_t window, flags;
    } req = {t->ino & 0xffffffffu, request, (uint64_t)(uintptr_t)arg, 0, 0};
    unsigned char window[I4J_WINDOW];
    long n = arg ? i4j_self_read((uint64_t)(uintptr_t)arg, window, sizeof window) : 0;
    req.window = n > 0 ? (uint32_t)n : 0;
    struct i4j_result res = {0};
    tls_kernel_call = &k;
    r = exchange(ch, T_KIOCTL, &req, sizeof req, window, req.window, -1, &res, NULL);
    tls_kernel_call = NULL;
    if (k.done && r >= 0 && res.handle != 0 && res.ino <= INT32_MAX) kernel_track((int)res.ino, res.handle);
  }
  restore_signals(&old);
  if (!k.done) {
    DBG("ioctl(%d, 0x%lx) not recorded: the server did not take it", fd, request);
    kernel_call_run(&k); /* the program's call happens, recorded or not */
  }
  return k.result;
}

long i4j_rw(int fd, const struct tracked *t, int type, void *buf, size_t count) {
  sigset_t old;
  block_signals(&old);
  long r;
  struct channel *ch = channel_get(&r);
  uint64_t handle;
  if (ch && (r = handle_of(ch, fd, t, &handle)) == 0) {
    uint64_t req[3] = {handle, (uint64_t)(uintptr_t)buf, (uint64_t)count};
    struct i4j_result res;
    r = exchange(ch, (uint16_t)type, req, sizeof req, NULL, 0, -1, &res, NULL);
  }
  restore_signals(&old);
  return r;
}
