/*
 * Pinned pages as shared memory. When the emulated kernel pins pages of this process, the server
 * asks (CB_SHARE) for them as a memfd it can map: from then on a device and other processes reach
 * the pinned pages with plain memory copies, and keep them after this process is gone, as the
 * kernel's page references keep them.
 *
 * Private anonymous memory ([heap] included) is converted in place: the range becomes read-only,
 * its contents are copied into a new memfd, and the memfd is mapped over it, MAP_SHARED, with the
 * old protection. A thread that writes there meanwhile faults, waits in the SIGSEGV handler until
 * the conversion is over, and retries (mmio_trap.h lets this component see the fault first). A
 * range converted before is answered from the table of memfds, as long as /proc/self/maps still
 * shows the memfd there; memfds no longer mapped anywhere are closed when the table fills up.
 * Everything else (the stack, private file mappings, hugetlb, shared mappings the program did not
 * make with mmap of a regular file, PROT_NONE or write-only memory) is "not shared" and the server keeps reading it
 * with process_vm_readv.
 *
 * fork: the child gets private copies of converted ranges (copied before the child runs on, as the
 * kernel copies pinned anonymous pages at fork), so parent and child never see each other's
 * writes. IOMMUFD4J_SHARE=0 turns all of this off (the HELLO does not offer it).
 *
 * Limits: a system call that writes into a range while it is being converted (microseconds per
 * 64 MiB, once per range) fails with EFAULT, and a thread that blocks SIGSEGV and writes there then
 * is killed; MADV_DONTNEED on a converted range keeps its contents instead of zeroing them.
 */
#ifndef IOMMUFD4J_SHARE_H
#define IOMMUFD4J_SHARE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * The first part of the page-aligned [addr, addr + len): SHARE_SHARED with *fd (the shim keeps
 * owning it) and *offset (the memfd's offset of addr), or SHARE_NOT_SHARED; *span is the part's
 * length. -EFAULT when addr is not mapped.
 */
HIDDEN long i4j_share(uint64_t addr, uint64_t len, int *fd, uint64_t *span, uint64_t *offset);

/*
 * Program-made shared mappings of a file (a memfd, /dev/shm, a regular file) are shared as they
 * are: the shim remembers each (a hidden duplicate of its descriptor and its offset) and answers
 * with them while /proc/self/maps still shows that file at that offset there. The server maps the
 * same file, so pins keep seeing the program's writes, as the kernel's pinned page-cache pages do.
 */
/* After a successful mmap(addr, len, ..., flags, fd, offset) of the program's. */
HIDDEN void i4j_share_note_mapping(void *addr, size_t len, int flags, int fd, int64_t offset);
/* Before [addr, addr + len) is unmapped, remapped or mapped over. */
HIDDEN void i4j_share_forget_mappings(void *addr, size_t len);

#endif
