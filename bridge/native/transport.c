/*
 * Frames over a channel's socket, and the mailbox (proto.h): a shared page where one frame at a
 * time waits for its reader, who spins a while and then sleeps in recv on the socket until the
 * writer rings a doorbell.
 */
#define _GNU_SOURCE
#include "transport.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

#define MAX_FDS_PER_FRAME 4

/* The learned spin budget (Mailbox's SpinBudget says why): SPIN_TYPICAL_FACTOR times the typical
   caught spin plus SPIN_MIN_NS, up to IOMMUFD4J_SPIN_US; none while fewer than half (of 256) of
   the recent spins caught their reply, but for a probe every SPIN_PROBE_EVERY waits. */
#define SPIN_TYPICAL_FACTOR 4
#define SPIN_MIN_NS 2000
#define SPIN_HIT_SHARE_MIN 128
#define SPIN_HIT_SHARE_FLOOR 100
#define SPIN_PROBE_EVERY 16

int i4j_send_frame(int fd, uint16_t type, const void *a, size_t na, const void *b, size_t nb, int send_fd) {
  unsigned char header[I4J_HEADER];
  uint32_t length = (uint32_t)(na + nb);
  memcpy(header + HEADER_LENGTH, &length, 4);
  memcpy(header + HEADER_TYPE, &type, 2);
  memset(header + HEADER_FLAGS, 0, 2);
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

int i4j_recv_frame(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd) {
  unsigned char header[I4J_HEADER];
  *got_fd = -1;
  int fd = atomic_load(&t->fd);
  if (recv_exact(fd, header, sizeof header, got_fd) != 0) return -1;
  memcpy(length, header + HEADER_LENGTH, 4);
  memcpy(type, header + HEADER_TYPE, 2);
  if (*length > sizeof t->in) {
    DBG("protocol error: frame type %u of %u bytes", *type, *length);
    errno = EPROTO;
    return -1;
  }
  return recv_exact(fd, t->in, *length, NULL);
}

/* ---- the mailbox ------------------------------------------------------------------------ */

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static _Atomic uint32_t *mbox_word(struct transport *t, size_t offset) {
  return (_Atomic uint32_t *)(t->mbox + offset);
}

static int socket_hung_up(int fd) {
  struct pollfd p = {.fd = fd, .events = 0};
  int saved = errno;
  long r = syscall(SYS_poll, &p, 1UL, 0);
  errno = saved;
  return r > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* The next frame on the socket that is not a doorbell. */
static int recv_real_frame(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd) {
  do {
    if (i4j_recv_frame(t, type, length, got_fd) != 0) return -1;
  } while (*type == T_DOORBELL);
  return 0;
}

/* IOMMUFD4J_DEBUG: how the mailbox waits went, printed when the process exits. */
static _Atomic long stat_spun, stat_slept, stat_rang;

void i4j_mailbox_report(void) {
  if (stat_spun + stat_slept + stat_rang)
    i4j_log("mailbox: %ld replies caught spinning, %ld after sleeping, %ld doorbells rung", (long)stat_spun,
            (long)stat_slept, (long)stat_rang);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t spin_max_ns(void) { return i4j_spin_us > 0 ? (uint64_t)i4j_spin_us * 1000 : 0; }

/* How long to spin for the next reply: 0 to sleep at once. */
static uint64_t spin_budget(struct transport *t) {
  if (spin_max_ns() == 0 || (t->hit_share < SPIN_HIT_SHARE_MIN && ++t->waits % SPIN_PROBE_EVERY != 0)) return 0;
  uint64_t budget = SPIN_TYPICAL_FACTOR * (uint64_t)t->typical_ns + SPIN_MIN_NS;
  return budget < spin_max_ns() ? budget : spin_max_ns();
}

static void spin_caught(struct transport *t, uint64_t waited) {
  if (waited > spin_max_ns()) waited = spin_max_ns();
  t->typical_ns = (uint32_t)((int64_t)t->typical_ns + ((int64_t)waited - (int64_t)t->typical_ns) / 8);
  t->hit_share += (256 - t->hit_share + 7) / 8;
}

static void spin_missed(struct transport *t) {
  t->hit_share -= t->hit_share / 8;
  if (t->hit_share < SPIN_HIT_SHARE_FLOOR) t->hit_share = SPIN_HIT_SHARE_FLOOR;
}

static int spin_for_turn(struct transport *t, uint64_t start, uint64_t nanos) {
  _Atomic uint32_t *turn = mbox_word(t, MBOX_TURN);
  for (unsigned i = 1;; i++) {
    if (atomic_load_explicit(turn, memory_order_acquire) == TURN_CLIENT) return 1;
    cpu_relax();
    if ((i & 63) == 0 && now_ns() - start >= nanos) return 0;
  }
}

/* Sleeps in recv until the box holds a frame; returns as mbox_await. */
static int sleep_for_turn(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd) {
  _Atomic uint32_t *turn = mbox_word(t, MBOX_TURN);
  _Atomic uint32_t *waiting = mbox_word(t, MBOX_CLIENT_WAITING);
  for (;;) {
    atomic_store(waiting, 1);
    if (atomic_load(turn) == TURN_CLIENT) {
      atomic_store(waiting, 0);
      return 0;
    }
    int r = i4j_recv_frame(t, type, length, got_fd);
    atomic_store(waiting, 0);
    if (r != 0) return -1;
    if (*type == T_DOORBELL) continue;
    /* a frame with a descriptor: its T_VIA_SOCKET follows in the box at once */
    while (!spin_for_turn(t, now_ns(), 1000000)) {
      if (socket_hung_up(atomic_load(&t->fd))) return -1;
      sched_yield();
    }
    atomic_store_explicit(turn, TURN_NONE, memory_order_relaxed);
    return 1;
  }
}

/*
 * Waits for a frame: 0 when it is in the box, 1 when a frame with a descriptor came on the
 * socket while sleeping (it is in t->in, its box announcement consumed), -1 on failure. Spins for
 * the learned budget, then sleeps.
 */
static int mbox_await(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd) {
  if (atomic_load_explicit(mbox_word(t, MBOX_TURN), memory_order_acquire) == TURN_CLIENT) return 0;
  uint64_t budget = spin_budget(t);
  if (budget > 0) {
    uint64_t start = now_ns();
    if (spin_for_turn(t, start, budget)) {
      spin_caught(t, now_ns() - start);
      if (i4j_debug) stat_spun++;
      return 0;
    }
    spin_missed(t);
  }
  if (i4j_debug) stat_slept++;
  return sleep_for_turn(t, type, length, got_fd);
}

/* Puts a frame for the server into the box (a descriptor travels on the socket, announced). */
static int mbox_post(struct transport *t, uint16_t type, const void *a, size_t na, const void *b, size_t nb,
                     int send_fd) {
  int fd = atomic_load(&t->fd);
  if (send_fd >= 0) {
    if (i4j_send_frame(fd, type, a, na, b, nb, send_fd) != 0) return -1;
    type = T_VIA_SOCKET;
    na = nb = 0;
  }
  if (na + nb > MBOX_SIZE - MBOX_DATA) {
    errno = EMSGSIZE;
    return -1;
  }
  if (na) memcpy(t->mbox + MBOX_DATA, a, na);
  if (nb) memcpy(t->mbox + MBOX_DATA + na, b, nb);
  uint32_t length = (uint32_t)(na + nb);
  memcpy(t->mbox + MBOX_LENGTH, &length, 4);
  memcpy(t->mbox + MBOX_TYPE, &type, 2);
  atomic_store_explicit(mbox_word(t, MBOX_TURN), TURN_SERVER, memory_order_release);
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load(mbox_word(t, MBOX_SERVER_WAITING))) {
    if (i4j_debug) stat_rang++;
    return i4j_send_frame(fd, T_DOORBELL, NULL, 0, NULL, 0, -1);
  }
  return 0;
}

static int mbox_take(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd) {
  *got_fd = -1;
  int r = mbox_await(t, type, length, got_fd);
  if (r != 0) return r < 0 ? -1 : 0;
  memcpy(length, t->mbox + MBOX_LENGTH, 4);
  memcpy(type, t->mbox + MBOX_TYPE, 2);
  if (*type == T_VIA_SOCKET) {
    atomic_store_explicit(mbox_word(t, MBOX_TURN), TURN_NONE, memory_order_relaxed);
    return recv_real_frame(t, type, length, got_fd);
  }
  if (*length > sizeof t->in || *length > MBOX_SIZE - MBOX_DATA) {
    errno = EPROTO;
    return -1;
  }
  memcpy(t->in, t->mbox + MBOX_DATA, *length);
  atomic_store_explicit(mbox_word(t, MBOX_TURN), TURN_NONE, memory_order_relaxed);
  return 0;
}

int i4j_post(struct transport *t, uint16_t type, const void *a, size_t na, const void *b, size_t nb, int send_fd) {
  if (t->mbox) return mbox_post(t, type, a, na, b, nb, send_fd);
  return i4j_send_frame(atomic_load(&t->fd), type, a, na, b, nb, send_fd);
}

int i4j_take(struct transport *t, uint16_t *type, uint32_t *length, int *got_fd) {
  if (t->mbox) return mbox_take(t, type, length, got_fd);
  return i4j_recv_frame(t, type, length, got_fd);
}

int i4j_attach_mailbox(struct transport *t, int memfd) {
  t->typical_ns = (uint32_t)(i4j_spin_us > 0 ? i4j_spin_us * 1000 / SPIN_TYPICAL_FACTOR : 0);
  t->hit_share = 256;
  void *box = memfd >= 0 ? i4j_sys_mmap(NULL, MBOX_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0) : MAP_FAILED;
  if (memfd >= 0) i4j_sys_close(memfd);
  if (box == MAP_FAILED) return -1;
  t->mbox = box;
  return 0;
}

void i4j_transport_close(struct transport *t) {
  i4j_sys_close(atomic_load(&t->fd));
  if (t->mbox) i4j_sys_munmap(t->mbox, MBOX_SIZE);
}
