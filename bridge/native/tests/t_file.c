/*
 * The emulated /dev/iommu as a file (main.c: iommufd_fops): stat and access see a character device,
 * read/write are EINVAL, FIONREAD and FIOASYNC-on ENOTTY, FIOCLEX works, epoll EPERM, poll says
 * readable and writable, lseek ESPIPE, mmap ENODEV, O_ASYNC never shows, O_EXCL is EEXIST, and
 * relative and unusual spellings of the path are the same node.
 */
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "t.h"

int main(void) {
  t_name = "t_file";
  struct stat st;
  CHECK_OK(stat("/dev/iommu", &st));
  CHECK(S_ISCHR(st.st_mode) && major(st.st_rdev) == 10);
  CHECK_OK(lstat("/dev/iommu", &st));
  CHECK(S_ISCHR(st.st_mode));
  CHECK_OK(access("/dev/iommu", R_OK | W_OK));
  CHECK_ERRNO(access("/dev/iommu", X_OK), EACCES);
  CHECK_ERRNO(open("/dev/iommu", O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);

  int fd = t_open();
  CHECK_OK(fstat(fd, &st));
  CHECK(S_ISCHR(st.st_mode) && major(st.st_rdev) == 10);
  char byte;
  CHECK_ERRNO(read(fd, &byte, 1), EINVAL);
  CHECK_ERRNO(write(fd, "x", 1), EINVAL);
  int n = 0;
  CHECK_ERRNO(ioctl(fd, FIONREAD, &n), ENOTTY);
  int on = 1, off = 0;
  CHECK_ERRNO(ioctl(fd, FIOASYNC, &on), ENOTTY);
  CHECK_OK(ioctl(fd, FIOASYNC, &off));
  CHECK_ERRNO(ioctl(fd, FIOASYNC, NULL), EFAULT);
  CHECK_ERRNO(ioctl(fd, _IO(';', 0x7f), NULL), ENOTTY);
  CHECK_OK(ioctl(fd, FIONCLEX));
  CHECK(fcntl(fd, F_GETFD) == 0);
  CHECK_OK(ioctl(fd, FIOCLEX));
  CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
  CHECK_OK(fcntl(fd, F_SETFL, O_ASYNC));
  CHECK((fcntl(fd, F_GETFL) & O_ASYNC) == 0);
  CHECK_ERRNO(lseek(fd, 0, SEEK_SET), ESPIPE);
  CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  CHECK(ep >= 0);
  struct epoll_event ev = {.events = EPOLLIN};
  CHECK_ERRNO(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), EPERM);
  close(ep);
  struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};
  CHECK(poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLOUT)) == (POLLIN | POLLOUT));

  /* The same node by other names: each open is a context of its own. */
  int dev = open("/dev", O_RDONLY | O_DIRECTORY);
  CHECK(dev >= 0);
  int rel = openat(dev, "iommu", O_RDWR);
  CHECK(rel >= 0);
  CHECK(t_ioas_alloc(rel) == 1);
  int odd = open("//dev/./../dev//iommu", O_RDWR);
  CHECK(odd >= 0);
  CHECK(t_ioas_alloc(odd) == 1);
  CHECK(t_ioas_alloc(fd) == 1);
  CHECK(t_ioas_alloc(rel) == 2);
  CHECK_OK(fstatat(dev, "iommu", &st, 0));
  CHECK(S_ISCHR(st.st_mode));
  CHECK_OK(faccessat(dev, "iommu", R_OK, 0));
  close(rel);
  close(odd);
  close(dev);
  CHECK_OK(close(fd));
  CHECK_ERRNO(close(fd), EBADF);
  CHECK_ERRNO(ioctl(fd, IOMMU_IOAS_ALLOC, NULL), EBADF);
  printf("t_file: ok\n");
  return 0;
}
