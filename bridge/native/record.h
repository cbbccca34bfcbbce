/*
 * exec --record --kernel: the program's calls go to the real /dev/iommu, made by the shim, and
 * the server records each with what it read and wrote.
 */
#ifndef IOMMUFD4J_RECORD_H
#define IOMMUFD4J_RECORD_H

#include <stdint.h>

#include "config.h"
#include "fdtable.h"

typedef int (*i4j_ioctl_fn)(int, unsigned long, ...);

/* The real node was opened at fd (adopted: met, not opened): has the server number it. */
HIDDEN void i4j_kernel_open(int fd, uint32_t node, int flags, int adopted);
/* Makes the call with next, recorded by the server when it can be: result or -errno. */
HIDDEN long i4j_kernel_ioctl(int fd, const struct tracked *t, unsigned long request, void *arg, i4j_ioctl_fn next);
/* After a close of a recorded file (t->kind KIND_KERNEL): tells the server if it was this
   process's last descriptor of it. */
HIDDEN void i4j_kernel_closed(uint64_t ino);

#endif
