/* Raw system calls, so the shim never re-enters its own wrappers. */
#ifndef IOMMUFD4J_SYS_H
#define IOMMUFD4J_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Learns this process's pid again (at start-up and in a fork child). */
HIDDEN void i4j_sys_init(void);
/* close(2) that keeps errno. */
HIDDEN long i4j_sys_close(int fd);
/* mmap(2) and munmap(2) of the shim's own memory (the mailbox): never its interposed mmap, which
   would remember the mapping as the program's. */
HIDDEN void *i4j_sys_mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);
HIDDEN int i4j_sys_munmap(void *addr, size_t length);
/* 0 or -errno; *is_sock says whether fd is a socket. */
HIDDEN int i4j_sys_fstat_ino(int fd, uint64_t *ino, int *is_sock);
/* Reads/writes this process's memory without faulting: bytes moved (short on a fault); keep errno. */
HIDDEN long i4j_self_read(uint64_t addr, void *dst, size_t len);
HIDDEN long i4j_self_write(uint64_t addr, const void *src, size_t len);

#endif
