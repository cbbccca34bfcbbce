/* Which descriptors of this process are emulated files, recorded files or the shim's channels. */
#ifndef IOMMUFD4J_FDTABLE_H
#define IOMMUFD4J_FDTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* What the shim knows about a descriptor of this process. */
#define TRACK_NONE 0
#define TRACK_CHANNEL 'c' /* one of the shim's own channels: invisible to the program */
/* KIND_IOMMUFD, KIND_ACCESS, KIND_FAULT, KIND_VFIO_GROUP, KIND_VFIO_DEVICE (proto.h): files served
   by the server;
   KIND_KERNEL: a real file being recorded, its ino i4j_kernel_ino(inode, number);
   KIND_FAIL_NTH: the shim's own fail-nth file */

struct tracked {
  int kind;
  uint64_t ino;
};

/* A recorded kernel file's tracked ino: its inode's low half, then its number. */
static inline uint64_t i4j_kernel_ino(uint64_t inode, uint64_t number) {
  return (inode << 32) | (number & 0xffffffffu);
}

/* Lock-free fd -> {kind, inode}; writers race only as the program's own calls do. */
HIDDEN int i4j_track_get(int fd, struct tracked *out);
HIDDEN void i4j_track_set(int fd, int kind, uint64_t ino);
HIDDEN void i4j_track_clear(int fd);
/* Calls fn for every tracked fd in [lo, hi]. */
HIDDEN void i4j_track_each(unsigned lo, unsigned hi, void (*fn)(int fd, const struct tracked *t, void *arg), void *arg);
/* The tracked entry of fd if it still names the same file (fstat), else clears it: 0 or 1. */
HIDDEN int i4j_track_valid(int fd, struct tracked *out);
/* If fd is the client end of a server file (getpeername), tracks it and returns its kind. */
HIDDEN int i4j_classify(int fd);
/* The device node a server file was opened at (its name after '@', proto.h), NUL-terminated into
   out: its length, or -1 when fd is no such file (the file of an ioctl, an anonymous inode). */
HIDDEN long i4j_node_path(int fd, char *out, size_t size);

#endif
