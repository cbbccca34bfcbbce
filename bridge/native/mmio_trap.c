/*
 * The MMIO trap (mmio_trap.h): a table of trapped ranges read lock-free by the SIGSEGV handler,
 * the handler itself, and the interposed sigaction family that keeps SIGSEGV the program's.
 *
 * Table: a fixed array of slots. Writers (add, remove) are serialised by a mutex; the handler
 * takes no lock. A handler pins the slot it uses by raising its `users` count and re-checking
 * that the slot is still live; remove marks the slot dying and waits for `users` to drop to zero
 * before the slot can be reused, so ops and opaque never change under a running handler (both
 * sides use sequentially consistent operations: the handler increments then reads the state,
 * remove writes the state then reads the count, so one of them sees the other).
 *
 * The program's SIGSEGV disposition (what it installed, or what was there before the trap) lives
 * in a seqlock: the handler copies it, retrying while a write is under way. Writers block all
 * signals and take a spinlock, so a handler never waits for a writer on its own thread.
 */
#define _GNU_SOURCE
#include <features.h>
#if !defined(__GLIBC__)
#error "the MMIO trap reads glibc's ucontext and interposes glibc's sigaction: it needs glibc"
#endif

#include "mmio_trap.h"

#include <asm/prctl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "mmio_decode.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- trapped ranges --------------------------------------------------------------------- */

enum { SLOT_FREE, SLOT_LIVE, SLOT_DYING };

struct slot {
  _Atomic int state;
  _Atomic unsigned users; /* handlers using ops and opaque right now */
  _Atomic uintptr_t base;
  _Atomic size_t len;
  const struct mmio_ops *ops; /* written only while FREE, read only while pinned */
  void *opaque;
};

static struct slot slots[MMIO_TRAP_MAX];
static _Atomic int live_slots;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static int overlaps(uintptr_t a, size_t alen, uintptr_t b, size_t blen) { return a < b + blen && b < a + alen; }

/* The live slot containing addr, pinned; NULL if none. */
static struct slot *pin(uintptr_t addr) {
  for (int i = 0; i < MMIO_TRAP_MAX; i++) {
    struct slot *s = &slots[i];
    if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_LIVE) continue;
    if (addr - atomic_load_explicit(&s->base, memory_order_relaxed) >=
        atomic_load_explicit(&s->len, memory_order_relaxed))
      continue;
    atomic_fetch_add(&s->users, 1);
    if (atomic_load(&s->state) == SLOT_LIVE && addr - atomic_load(&s->base) < atomic_load(&s->len)) return s;
    atomic_fetch_sub(&s->users, 1);
  }
  return NULL;
}

static void unpin(struct slot *s) { atomic_fetch_sub(&s->users, 1); }

/* How many bytes of code at rip the handler may read: at most an instruction's length, and
   none of a trapped range (reading those would fault again). */
static size_t readable_code(uintptr_t rip) {
  size_t n = MMIO_INSN_MAX;
  for (int i = 0; i < MMIO_TRAP_MAX; i++) {
    struct slot *s = &slots[i];
    if (atomic_load_explicit(&s->state, memory_order_acquire) != SLOT_LIVE) continue;
    uintptr_t base = atomic_load_explicit(&s->base, memory_order_relaxed);
    if (rip - base < atomic_load_explicit(&s->len, memory_order_relaxed)) return 0;
    if (base > rip && base - rip < n) n = base - rip;
  }
  return n;
}

/* ---- the program's SIGSEGV disposition ---------------------------------------------------- */

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
static _Atomic(sigaction_fn) real_sigaction_fn;
static int trap_installed; /* written under program_lock, read by the sigaction wrappers under it */
static struct sigaction program_action;
static _Atomic unsigned program_seq; /* odd while program_action is being written */
static atomic_flag program_lock = ATOMIC_FLAG_INIT;

static sigaction_fn real_sigaction(void) {
  sigaction_fn f = atomic_load_explicit(&real_sigaction_fn, memory_order_acquire);
  if (!f) {
    f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    atomic_store_explicit(&real_sigaction_fn, f, memory_order_release);
  }
  return f;
}

/* Blocks every signal and takes program_lock; *old receives the previous mask. */
static void program_lock_take(sigset_t *old) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, old);
  while (atomic_flag_test_and_set_explicit(&program_lock, memory_order_acquire)) sched_yield();
}

static void program_lock_release(const sigset_t *old) {
  atomic_flag_clear_explicit(&program_lock, memory_order_release);
  pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* With program_lock held. */
static void program_action_set(const struct sigaction *act) {
  atomic_fetch_add_explicit(&program_seq, 1, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  memcpy(&program_action, act, sizeof *act);
  atomic_fetch_add_explicit(&program_seq, 1, memory_order_release);
}

/* A consistent copy; async-signal-safe. */
static void program_action_get(struct sigaction *out) {
  for (;;) {
    unsigned seq = atomic_load_explicit(&program_seq, memory_order_acquire);
    if (seq & 1) {
      sched_yield();
      continue;
    }
    memcpy(out, &program_action, sizeof *out);
    atomic_thread_fence(memory_order_acquire);
    if (atomic_load_explicit(&program_seq, memory_order_relaxed) == seq) return;
  }
}

/* ---- the fault handler -------------------------------------------------------------------- */

static const int greg_of[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                                REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

static uint64_t low_bytes(uint64_t v, unsigned width) { return width == 8 ? v : v & ((1ULL << (8 * width)) - 1); }

static uint64_t segment_base(int segment) {
  unsigned long base = 0;
  if (segment != MMIO_SEG_DEFAULT) syscall(SYS_arch_prctl, segment == MMIO_SEG_FS ? ARCH_GET_FS : ARCH_GET_GS, &base);
  return base;
}

/* The address the instruction accesses, computed from the saved registers. */
static uint64_t effective_address(const struct mmio_insn *insn, const greg_t *g, uint64_t next_rip) {
  uint64_t a = (uint64_t)insn->mem.disp;
  if (insn->mem.rip_relative) a += next_rip;
  if (insn->mem.base != MMIO_NO_REG) a += (uint64_t)g[greg_of[insn->mem.base]];
  if (insn->mem.index != MMIO_NO_REG) a += (uint64_t)g[greg_of[insn->mem.index]] * insn->mem.scale;
  if (insn->mem.addr32) a &= 0xffffffff;
  return a + segment_base(insn->mem.segment);
}

/* The register operand's value (AH..BH: bits 8-15 of RAX..RBX). */
static uint64_t register_value(const greg_t *g, const struct mmio_insn *insn) {
  return (uint64_t)g[greg_of[insn->reg]] >> (insn->high_byte ? 8 : 0);
}

/* Writes a loaded value or an ALU result (extended to reg_width) as x86-64 does: a 32-bit
   destination clears the upper half, 8- and 16-bit ones keep the rest of the register. */
static void write_register(greg_t *g, const struct mmio_insn *insn, uint64_t v) {
  uint64_t *r = (uint64_t *)&g[greg_of[insn->reg]];
  switch (insn->reg_width) {
    case 8:
      *r = v;
      break;
    case 4:
      *r = v & 0xffffffff;
      break;
    case 2:
      *r = (*r & ~0xffffULL) | (v & 0xffff);
      break;
    default:
      if (insn->high_byte)
        *r = (*r & ~0xff00ULL) | ((v & 0xff) << 8);
      else
        *r = (*r & ~0xffULL) | (v & 0xff);
  }
}

/* MOVD/MOVQ: the low 32 or 64 bits of an XMM register; a load clears the rest of its 128 bits
   (the legacy SSE encodings leave the bits above them alone). */
static void perform_xmm(struct slot *s, uint64_t offset, const struct mmio_insn *insn, ucontext_t *uc) {
  uint32_t *x = uc->uc_mcontext.fpregs->_xmm[insn->reg].element;
  if (insn->store) {
    uint64_t v = x[0] | (uint64_t)x[1] << 32;
    s->ops->write(s->opaque, offset, insn->width, low_bytes(v, insn->width));
  } else {
    uint64_t v = low_bytes(s->ops->read(s->opaque, offset, insn->width), insn->width);
    x[0] = (uint32_t)v;
    x[1] = (uint32_t)(v >> 32);
    x[2] = x[3] = 0;
  }
}

#define ARITHMETIC_FLAGS 0x8d5ULL /* CF, PF, AF, ZF, SF, OF */

/* The operation runs on this CPU with the program's arithmetic flags as input (ADC, SBB, and INC
   and DEC keep CF), so result and flags are exactly the CPU's, including the flags the manuals
   leave undefined. The asm steps over the red zone before it pushes. */
#define ALU_ASM(text, ...) \
  __asm__ volatile("lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t" text \
                   "\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp" \
                   : [x] "+r"(x), [f] "+r"(flags) \
                   : __VA_ARGS__ \
                   : "cc", "memory")
#define BINARY(mnemonic, T) \
  { \
    T x = (T)dst, y = (T)src; \
    ALU_ASM(mnemonic " %[y], %[x]", [y] "r"(y)); \
    result = x; \
  }
#define UNARY(mnemonic, T) \
  { \
    T x = (T)dst; \
    ALU_ASM(mnemonic " %[x]", ); \
    result = x; \
  }
#define SHIFT(mnemonic, T) \
  { \
    T x = (T)dst; \
    uint8_t count = (uint8_t)src; \
    ALU_ASM(mnemonic " %[n], %[x]", [n] "c"(count)); \
    result = x; \
  }
#define BY_WIDTH(M, mnemonic) \
  switch (width) { \
    case 1: \
      M(mnemonic, uint8_t) break; \
    case 2: \
      M(mnemonic, uint16_t) break; \
    case 4: \
      M(mnemonic, uint32_t) break; \
    default: \
      M(mnemonic, uint64_t) break; \
  }

/* dst op src on width bytes; *eflags: the program's flags, updated. */
static uint64_t alu(int op, unsigned width, uint64_t dst, uint64_t src, uint64_t *eflags) {
  uint64_t flags = 0x2 | (*eflags & ARITHMETIC_FLAGS), result = dst;
  switch (op) {
    case MMIO_ADD:
      BY_WIDTH(BINARY, "add") break;
    case MMIO_OR:
      BY_WIDTH(BINARY, "or") break;
    case MMIO_ADC:
      BY_WIDTH(BINARY, "adc") break;
    case MMIO_SBB:
      BY_WIDTH(BINARY, "sbb") break;
    case MMIO_AND:
      BY_WIDTH(BINARY, "and") break;
    case MMIO_SUB:
      BY_WIDTH(BINARY, "sub") break;
    case MMIO_XOR:
      BY_WIDTH(BINARY, "xor") break;
    case MMIO_CMP:
      BY_WIDTH(BINARY, "cmp") break;
    case MMIO_TEST:
      BY_WIDTH(BINARY, "test") break;
    case MMIO_INC:
      BY_WIDTH(UNARY, "inc") break;
    case MMIO_DEC:
      BY_WIDTH(UNARY, "dec") break;
    case MMIO_NOT:
      BY_WIDTH(UNARY, "not") break;
    case MMIO_NEG:
      BY_WIDTH(UNARY, "neg") break;
    case MMIO_ROL:
      BY_WIDTH(SHIFT, "rol") break;
    case MMIO_ROR:
      BY_WIDTH(SHIFT, "ror") break;
    case MMIO_RCL:
      BY_WIDTH(SHIFT, "rcl") break;
    case MMIO_RCR:
      BY_WIDTH(SHIFT, "rcr") break;
    case MMIO_SHL:
      BY_WIDTH(SHIFT, "shl") break;
    case MMIO_SHR:
      BY_WIDTH(SHIFT, "shr") break;
    case MMIO_SAR:
      BY_WIDTH(SHIFT, "sar") break;
  }
  *eflags = (*eflags & ~ARITHMETIC_FLAGS) | (flags & ARITHMETIC_FLAGS);
  return result;
}

/* One read of the device register, then (unless only flags change) one write: what the CPU
   does for a read-modify-write instruction without LOCK. */
static void perform_alu(struct slot *s, uint64_t offset, const struct mmio_insn *insn, greg_t *g) {
  unsigned width = insn->width;
  uint64_t memory = low_bytes(s->ops->read(s->opaque, offset, width), width);
  uint64_t operand = insn->reg == MMIO_NO_REG ? insn->imm : register_value(g, insn);
  uint64_t eflags = (uint64_t)g[REG_EFL];
  if (insn->reg_dest) {
    uint64_t result = alu(insn->op, width, operand, memory, &eflags);
    if (insn->op != MMIO_CMP) write_register(g, insn, result);
  } else {
    uint64_t result = alu(insn->op, width, memory, operand, &eflags);
    if (insn->store) s->ops->write(s->opaque, offset, width, low_bytes(result, width));
  }
  g[REG_EFL] = (greg_t)eflags;
}

static void perform(struct slot *s, uint64_t offset, const struct mmio_insn *insn, ucontext_t *uc) {
  unsigned width = insn->width;
  greg_t *g = uc->uc_mcontext.gregs;
  if (insn->xmm) {
    perform_xmm(s, offset, insn, uc);
  } else if (insn->op != MMIO_MOV) {
    perform_alu(s, offset, insn, g);
  } else if (insn->store) {
    uint64_t v = insn->reg == MMIO_NO_REG ? insn->imm : register_value(g, insn);
    s->ops->write(s->opaque, offset, width, low_bytes(v, width));
  } else {
    uint64_t v = low_bytes(s->ops->read(s->opaque, offset, width), width);
    if (insn->sign_extend && width < 8 && (v >> (8 * width - 1)) & 1) v |= ~0ULL << (8 * width);
    write_register(g, insn, v);
  }
}

static char *put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

static char *put_hex(char *p, uint64_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--) *p++ = hex[(v >> (4 * i)) & 15];
  return p;
}

/* One line on stderr: what could not be emulated, where, and up to `code` bytes at rip. */
static void report(const char *why, uintptr_t addr, uintptr_t rip, size_t code) {
  char line[256], *p = line;
  p = put_str(p, "iommufd4j: cannot emulate the MMIO access to 0x");
  p = put_hex(p, addr, 16);
  p = put_str(p, " at rip 0x");
  p = put_hex(p, rip, 16);
  p = put_str(p, ": ");
  p = put_str(p, why);
  if (code) { /* never past rip's page: the next one may be unmapped */
    size_t n = 4096 - (rip & 4095);
    if (n > code) n = code;
    p = put_str(p, " (instruction bytes:");
    for (size_t i = 0; i < n; i++) {
      *p++ = ' ';
      p = put_hex(p, ((const uint8_t *)rip)[i], 2);
    }
    *p++ = ')';
  }
  *p++ = '\n';
  ssize_t unused = write(STDERR_FILENO, line, (size_t)(p - line));
  (void)unused;
}

/* Performs the faulting access if it is a trapped one: 1 when done (RIP advanced), 0 when the
   fault is not for the trap or cannot be emulated exactly (reported). */
static int emulate(uintptr_t addr, ucontext_t *uc) {
  struct slot *s = pin(addr);
  if (!s) return 0;
  greg_t *g = uc->uc_mcontext.gregs;
  uintptr_t rip = (uintptr_t)g[REG_RIP];
  uintptr_t base = atomic_load_explicit(&s->base, memory_order_relaxed);
  size_t len = atomic_load_explicit(&s->len, memory_order_relaxed);
  size_t code = readable_code(rip);
  struct mmio_insn insn;
  const char *why = NULL;
  if (code == 0)
    why = "code executed from a trapped range";
  else if (mmio_decode((const uint8_t *)rip, code, &insn) < 0)
    why = "unsupported instruction";
  else if (effective_address(&insn, g, rip + insn.length) != addr)
    why = "the access starts before the trapped range";
  else if (addr % insn.width != 0)
    why = "unaligned access";
  else if (addr - base + insn.width > len)
    why = "the access crosses the end of the trapped range";
  else if (insn.xmm && !uc->uc_mcontext.fpregs)
    why = "the signal frame has no SSE state";
  if (!why) {
    perform(s, addr - base, &insn, uc);
    g[REG_RIP] = (greg_t)(rip + insn.length);
  }
  unpin(s);
  if (why) report(why, addr, rip, code);
  return !why;
}

/* What the kernel does when SIGSEGV's action is the default: the process dies by SIGSEGV. A
   fault from an instruction comes back when it is executed again; a sent signal is sent again. */
static void die_by_sigsegv(int from_kernel) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  real_sigaction()(SIGSEGV, &dfl, NULL);
  if (!from_kernel) raise(SIGSEGV);
}

/* Delivers the signal as the program's disposition says, as the kernel would have. */
static void pass_on(int sig, siginfo_t *si, ucontext_t *uc) {
  struct sigaction act;
  program_action_get(&act);
  int from_kernel = si->si_code > 0;
  if (act.sa_handler == SIG_IGN && !from_kernel) return;
  if (act.sa_handler == SIG_DFL || act.sa_handler == SIG_IGN) { /* a fault cannot be ignored */
    die_by_sigsegv(from_kernel);
    return;
  }
  if (act.sa_flags & SA_RESETHAND) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigset_t old;
    program_lock_take(&old);
    program_action_set(&dfl);
    program_lock_release(&old);
  }
  sigset_t mask;
  sigorset(&mask, &uc->uc_sigmask, &act.sa_mask);
  if (!(act.sa_flags & SA_NODEFER)) sigaddset(&mask, sig);
  sigprocmask(SIG_SETMASK, &mask, NULL);
  if (act.sa_flags & SA_SIGINFO)
    act.sa_sigaction(sig, si, uc);
  else
    act.sa_handler(sig);
}

static int (*_Atomic retry_hook)(uintptr_t addr);

static void on_sigsegv(int sig, siginfo_t *si, void *context) {
  int saved_errno = errno;
  ucontext_t *uc = context;
  int (*retry)(uintptr_t) = atomic_load(&retry_hook);
  if (retry && si->si_code > 0 && retry((uintptr_t)si->si_addr)) {
    errno = saved_errno;
    return;
  }
  /* Only a fault from an instruction has a meaningful si_addr; a sent SIGSEGV is the program's. */
  int done = si->si_code > 0 && atomic_load(&live_slots) > 0 && emulate((uintptr_t)si->si_addr, uc);
  errno = saved_errno; /* the program's handler sees errno as it was, and may change it */
  if (!done) pass_on(sig, si, uc);
}

/* With table_lock held. The program's current disposition becomes the one faults are passed on
   to. Async signals stay blocked while a model runs; synchronous ones must not be (a blocked
   fault kills), and SA_NODEFER lets a model's own fault reach the handler again. */
static int install_handler(void) {
  struct sigaction ours;
  memset(&ours, 0, sizeof ours);
  ours.sa_sigaction = on_sigsegv;
  ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigfillset(&ours.sa_mask);
  static const int synchronous[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};
  for (size_t i = 0; i < sizeof synchronous / sizeof synchronous[0]; i++) sigdelset(&ours.sa_mask, synchronous[i]);
  sigset_t old;
  program_lock_take(&old);
  int r = 0;
  if (!trap_installed) {
    struct sigaction previous;
    r = real_sigaction()(SIGSEGV, &ours, &previous);
    if (r == 0) {
      program_action_set(&previous);
      trap_installed = 1;
    }
  }
  int err = errno;
  program_lock_release(&old);
  errno = err;
  return r;
}

/* ---- registration ------------------------------------------------------------------------- */

int mmio_trap_add(void *base, size_t len, const struct mmio_ops *ops, void *opaque) {
  uintptr_t b = (uintptr_t)base;
  if (len == 0 || b + len < b || !ops || !ops->read || !ops->write) {
    errno = EINVAL;
    return -1;
  }
  pthread_mutex_lock(&table_lock);
  int r = -1, err = 0;
  struct slot *free_slot = NULL;
  for (int i = 0; i < MMIO_TRAP_MAX; i++) {
    struct slot *s = &slots[i];
    int state = atomic_load(&s->state);
    if (state == SLOT_LIVE && overlaps(b, len, atomic_load(&s->base), atomic_load(&s->len))) {
      err = EEXIST;
      goto out;
    }
    if (state == SLOT_FREE && !free_slot) free_slot = s;
  }
  if (!free_slot) {
    err = ENOSPC;
    goto out;
  }
  if (install_handler() != 0) {
    err = errno;
    goto out;
  }
  free_slot->ops = ops;
  free_slot->opaque = opaque;
  atomic_store(&free_slot->base, b);
  atomic_store(&free_slot->len, len);
  atomic_store_explicit(&free_slot->state, SLOT_LIVE, memory_order_release);
  atomic_fetch_add(&live_slots, 1);
  r = 0;
out:
  pthread_mutex_unlock(&table_lock);
  if (r) errno = err;
  return r;
}

int mmio_trap_retry(int (*retry)(uintptr_t addr)) {
  if (atomic_load(&retry_hook) == retry) return 0;
  pthread_mutex_lock(&table_lock);
  int r = install_handler();
  int err = errno;
  if (r == 0) atomic_store(&retry_hook, retry);
  pthread_mutex_unlock(&table_lock);
  errno = err;
  return r;
}

int mmio_trap_remove(void *base) {
  pthread_mutex_lock(&table_lock);
  int r = -1;
  for (int i = 0; i < MMIO_TRAP_MAX; i++) {
    struct slot *s = &slots[i];
    if (atomic_load(&s->state) != SLOT_LIVE || atomic_load(&s->base) != (uintptr_t)base) continue;
    atomic_store(&s->state, SLOT_DYING);
    while (atomic_load(&s->users) != 0) sched_yield();
    atomic_fetch_sub(&live_slots, 1);
    atomic_store(&s->state, SLOT_FREE);
    r = 0;
    break;
  }
  pthread_mutex_unlock(&table_lock);
  if (r) errno = ENOENT;
  return r;
}

/* A fork while another thread holds a lock would leave it held in the child. */
static sigset_t fork_mask;
static void before_fork(void) {
  pthread_mutex_lock(&table_lock);
  program_lock_take(&fork_mask);
}
static void after_fork(void) {
  program_lock_release(&fork_mask);
  pthread_mutex_unlock(&table_lock);
}

__attribute__((constructor)) static void mmio_trap_init(void) { pthread_atfork(before_fork, after_fork, after_fork); }

/* ---- the sigaction family, as the program sees it ----------------------------------------- */

/* sigaction(SIGSEGV, ...) once the trap's handler is in place: the program's disposition is
   stored and reported, the kernel keeps the trap's handler. Before that: the real call. */
EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig != SIGSEGV) return real_sigaction()(sig, act, old);
  sigset_t mask;
  program_lock_take(&mask);
  int r = 0, err = errno;
  if (!trap_installed) {
    r = real_sigaction()(sig, act, old);
    err = errno;
  } else {
    if (old) *old = program_action;
    if (act) program_action_set(act);
  }
  program_lock_release(&mask);
  errno = err;
  return r;
}

/* signal() and its variants: glibc's implementations call its internal sigaction, which the
   interposed one does not see, so for SIGSEGV they are redone here; other signals go to glibc. */
typedef sighandler_t (*signal_fn)(int, sighandler_t);

static sighandler_t signal_segv(sighandler_t handler, int flags) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  act.sa_flags = flags;
  sigemptyset(&act.sa_mask);
  if (!(flags & SA_NODEFER)) sigaddset(&act.sa_mask, SIGSEGV);
  if (handler == SIG_ERR) {
    errno = EINVAL;
    return SIG_ERR;
  }
  return sigaction(SIGSEGV, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
}

#define SIGNAL_VARIANT(name, segv_flags) \
  EXPORT sighandler_t name(int sig, sighandler_t handler) { \
    if (sig == SIGSEGV) return signal_segv(handler, segv_flags); \
    static _Atomic(signal_fn) next; \
    signal_fn f = atomic_load(&next); \
    if (!f) atomic_store(&next, f = (signal_fn)dlsym(RTLD_NEXT, #name)); \
    return f(sig, handler); \
  }

/* BSD semantics (glibc's signal()): restarting, the signal blocked while its handler runs. */
SIGNAL_VARIANT(signal, SA_RESTART)
SIGNAL_VARIANT(bsd_signal, SA_RESTART)
/* System V semantics: the handler is reset on delivery and the signal is not blocked. */
SIGNAL_VARIANT(sysv_signal, SA_RESETHAND | SA_NODEFER)
SIGNAL_VARIANT(__sysv_signal, SA_RESETHAND | SA_NODEFER)
