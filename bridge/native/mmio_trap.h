/*
 * Trapped MMIO: plain loads and stores to registered address ranges are performed by a device
 * model instead of memory. The owner maps the range PROT_NONE; each access faults, the SIGSEGV
 * handler decodes the instruction (mmio_decode.h), calls the model synchronously on the faulting
 * thread, writes a load's result into the saved register and steps over the instruction.
 *
 * Accesses are handed to the model as they are, and must be naturally aligned and lie inside one
 * range. An access the handler cannot perform exactly (an unsupported instruction, an unaligned
 * access, one crossing a range's end, code executed from a trapped page) is reported on stderr
 * with the fault address, RIP and instruction bytes, and then treated as a SIGSEGV the trap never
 * saw: it goes to the program's handler, or kills the process.
 *
 * SIGSEGV stays with the program: every fault outside the ranges goes to the handler the program
 * installed (before or after the first trap), with the same arguments, the mask and flags it
 * asked for (SA_SIGINFO, SA_NODEFER, SA_RESETHAND); SIG_DFL and SIG_IGN act as the kernel would.
 * For this the component interposes sigaction, signal, bsd_signal, sysv_signal and __sysv_signal
 * (in the shim, and in any program linking it): once the trap's handler is installed they store
 * and report the program's SIGSEGV disposition without touching the kernel's.
 *
 * The handler runs with SA_SIGINFO | SA_NODEFER | SA_ONSTACK and every asynchronous signal
 * blocked: a model call is not interrupted by the program's handlers, and a fault inside a model
 * reaches the handler again instead of killing the process.
 *
 * Limits: a thread that blocks SIGSEGV and touches a trapped page is killed (the kernel forces
 * the signal), which includes code that blocks signals around its own work (the shim's channel
 * exchanges must not touch trapped pages); raw rt_sigaction system calls and sigset() replace
 * the trap's handler; the handler stays installed once set.
 */
#ifndef IOMMUFD4J_MMIO_TRAP_H
#define IOMMUFD4J_MMIO_TRAP_H

#include <stddef.h>
#include <stdint.h>

/* The device model. Called in signal context on the faulting thread, possibly concurrently from
   several threads; must be async-signal-safe and must not add or remove trapped ranges. */
struct mmio_ops {
  uint64_t (*read)(void *opaque, uint64_t offset, unsigned width);
  void (*write)(void *opaque, uint64_t offset, unsigned width, uint64_t value);
};

/* At most this many ranges are trapped at once. */
#define MMIO_TRAP_MAX 64

/*
 * Traps [base, base + len) (the caller maps it inaccessible). Offsets passed to ops are from
 * base. Installs the SIGSEGV handler the first time. Returns 0, or -1 with errno: EINVAL (empty
 * or wrapping range, no read or write), EEXIST (overlaps a trapped range), ENOSPC (table full),
 * or sigaction's errno.
 */
int mmio_trap_add(void *base, size_t len, const struct mmio_ops *ops, void *opaque);

/*
 * Lets retry see every fault from an instruction first (installing the handler if need be):
 * when it returns 1, the handler returns at once and the instruction runs again. For owners of
 * memory that is inaccessible only for a moment (share.h). retry must be async-signal-safe; one
 * can be set. Returns 0, or -1 with sigaction's errno.
 */
int mmio_trap_retry(int (*retry)(uintptr_t addr));

/* Stops trapping the range added at base; returns once no fault handler uses it any more.
   Returns 0, or -1 with errno ENOENT. Must not be called from a model's ops. */
int mmio_trap_remove(void *base);

#endif
