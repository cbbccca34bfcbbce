/*
 * An iommufd passed over SCM_RIGHTS to an unrelated process (forked before the open) is the
 * same context there, recognised as emulated (FIONREAD is ENOTTY); the context lives while the
 * receiver holds it after the sender closed its own descriptor.
 */
#include <sys/socket.h>

#include "t.h"

static void send_fd(int sock, int fd) {
  char byte = 'F';
  struct iovec iov = {&byte, 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  CHECK(sendmsg(sock, &m, 0) == 1);
}

static int recv_fd(int sock) {
  char byte;
  struct iovec iov = {&byte, 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
  CHECK(recvmsg(sock, &m, 0) == 1);
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  CHECK(c && c->cmsg_type == SCM_RIGHTS);
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

int main(void) {
  t_name = "t_scm";
  int sv[2];
  CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    t_name = "t_scm receiver";
    close(sv[0]);
    int fd = recv_fd(sv[1]);
    int n;
    CHECK_ERRNO(ioctl(fd, FIONREAD, &n), ENOTTY);
    CHECK(t_unmap(fd, 1, 0x300000, 4096) == 4096); /* the sender's area */
    CHECK(t_ioas_alloc(fd) == 2);
    char done = 'D';
    CHECK(write(sv[1], &done, 1) == 1);
    CHECK_OK(close(fd));
    _exit(0);
  }
  close(sv[1]);
  int fd = t_open();
  uint32_t ioas = t_ioas_alloc(fd);
  CHECK(ioas == 1);
  char *buf = t_buffer(4096);
  uint64_t iova = 0x300000;
  CHECK_OK(t_map(fd, ioas, buf, 4096, &iova, IOMMU_IOAS_MAP_FIXED_IOVA));
  send_fd(sv[0], fd);
  CHECK_OK(close(fd));
  char done;
  CHECK(read(sv[0], &done, 1) == 1 && done == 'D');
  t_wait_ok(pid);
  printf("t_scm: ok\n");
  return 0;
}
