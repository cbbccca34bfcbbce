/* Raw system calls of the shim. */
#define _GNU_SOURCE
#include "sys.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

static pid_t self_pid;

void i4j_sys_init(void) { self_pid = (pid_t)syscall(SYS_getpid); }

void *i4j_sys_mmap(void *addr, size_t length, int prot, int flags, int fd, long offset) {
  long r = syscall(SYS_mmap, addr, length, prot, flags, fd, offset);
  return r < 0 ? MAP_FAILED : (void *)r;
}

int i4j_sys_munmap(void *addr, size_t length) { return (int)syscall(SYS_munmap, addr, length); }

long i4j_sys_close(int fd) {
  int saved = errno;
  long r = syscall(SYS_close, fd);
  errno = saved;
  return r;
}

int i4j_sys_fstat_ino(int fd, uint64_t *ino, int *is_sock) {
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0) return -errno;
  *ino = st.st_ino;
  *is_sock = S_ISSOCK(st.st_mode);
  return 0;
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
