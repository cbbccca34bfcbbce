/*
 * Mappings of emulated VFIO device files (a BAR mmap'ed through the device fd). Pages the server
 * answers are shared memory (a model's plain memory, e.g. NVMe's doorbells) are mapped MAP_SHARED
 * from the descriptor it sends, so loads and stores there cost nothing and the model sees them in
 * the same memory. The rest is an inaccessible anonymous reservation trapped by the MMIO trap
 * (mmio_trap.h), whose loads and stores become T_PREAD and T_PWRITE of their width at the mapped
 * file offset, on the faulting thread's channel. Each trapped part holds a hidden duplicate of the
 * device's descriptor, so the file lives as long as it does, as the kernel's mapping holds the
 * file (a mapping wholly of shared memory holds only that memory).
 *
 * Limits: a mapping's protection is not enforced (a store to a PROT_READ mapping reaches the
 * device; mprotect of a trapped range succeeds and changes nothing); mremap of a trapped range
 * fails with EFAULT; at most MMIO_TRAP_MAX ranges are trapped at once.
 * Depends on channel (the calls) and mmio_trap.
 */
#ifndef IOMMUFD4J_DEVMAP_H
#define IOMMUFD4J_DEVMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "fdtable.h"

/* mmap(2) of the device file t that fd is: the address, or MAP_FAILED with errno. `reserve` is
   libc's mmap, which makes the reservation. */
HIDDEN void *i4j_devmap_map(void *addr, size_t length, int prot, int flags, int fd, const struct tracked *t,
                            off_t offset, void *(*reserve)(void *, size_t, int, int, int, off_t));

/* [addr, addr + length) is about to be unmapped or replaced: its traps go (parts of a mapping
   outside it stay trapped), and a mapping's descriptor is closed with its last part. */
HIDDEN void i4j_devmap_forget(void *addr, size_t length);

/* Whether [addr, addr + length) overlaps a trapped mapping. */
HIDDEN int i4j_devmap_overlaps(const void *addr, size_t length);

#endif
