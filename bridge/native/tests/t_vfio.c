/*
 * The VFIO transport: a device cdev and a group of the testbed opened through their /dev paths
 * and served by the server's VFIO layer, here the test double of VfioBridgeIT (FakeVfioNodes: group
 * 7, cdev vfio3, a device is a page of registers: id at 0x00, scratch 0x08-0x17, a doorbell at
 * 0x20 that signals the device's eventfd, a read counter at 0x28). fstat and /proc/self/fd/N,
 * ioctls with caller memory and descriptors (an iommufd, an eventfd, a new device fd), read, write,
 * pread, pwrite, and loads and stores of every width through an mmap, from threads and a child
 * that never called the server before, and from one killed in the middle of them.
 */
#include "t.h"

#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>

#define GROUP_PATH "/dev/vfio/7"
#define CDEV_PATH "/dev/vfio/devices/vfio3"
#define VFIO_GROUP_MAJOR 241
#define VFIO_DEVICE_MAJOR 240
#define ID 0x010000edu
#define PAGE 4096

#define VFIO_GROUP_SET_CONTAINER _IO(';', 100 + 4)
#define VFIO_GROUP_GET_DEVICE_FD _IO(';', 100 + 6)
#define VFIO_DEVICE_GET_INFO _IO(';', 100 + 7)
#define VFIO_DEVICE_SET_IRQS _IO(';', 100 + 10)

/* An address nothing is mapped at, hidden from the compiler's bounds checks. */
static void *volatile unmapped = (void *)8;

struct info {
  uint32_t argsz, flags, num_regions, num_irqs;
};
struct irq_set {
  uint32_t argsz, flags, index, start, count;
  int32_t fd;
};

/* Index 0: the device's interrupt; index 1: a trigger the device answers with an interrupt. */
static int set_irq_index(int dev, uint32_t index, int fd) {
  struct irq_set s = {.argsz = sizeof s, .index = index, .count = 1, .fd = fd};
  return ioctl(dev, VFIO_DEVICE_SET_IRQS, &s);
}

static int set_irq(int dev, int fd) { return set_irq_index(dev, 0, fd); }

/* Waits up to `millis` for efd to become readable: 1, or 0. */
static int wait_readable(int efd, int millis) {
  struct pollfd p = {.fd = efd, .events = POLLIN};
  return poll(&p, 1, millis) == 1;
}

/* The eventfd's count, 0 when nothing was signalled. */
static uint64_t drain(int efd) {
  uint64_t n = 0;
  if (read(efd, &n, sizeof n) != (ssize_t)sizeof n) CHECK(errno == EAGAIN);
  return n;
}

static void check_link(int fd, const char *expected) {
  char link[64], got[256];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, got, sizeof got - 1);
  CHECK(n > 0);
  got[n] = 0;
  if (strcmp(got, expected) != 0) FAIL("%s -> %s, expected %s", link, got, expected);
  /* a short buffer gets the start, unterminated, as readlink(2) does */
  char two[2];
  CHECK(readlink(link, two, sizeof two) == 2 && memcmp(two, expected, 2) == 0);
}

/* fstat of a descriptor opened at `path` shows that node, a character device of `major`. */
static void check_node(int fd, const char *path, unsigned major_number) {
  struct stat by_fd, by_path;
  CHECK_OK(fstat(fd, &by_fd));
  CHECK_OK(stat(path, &by_path));
  CHECK(S_ISCHR(by_fd.st_mode) && by_fd.st_rdev == by_path.st_rdev);
  CHECK(major(by_fd.st_rdev) == major_number);
  CHECK(by_fd.st_ino == by_path.st_ino);
  struct stat at;
  CHECK_OK(fstatat(fd, "", &at, AT_EMPTY_PATH));
  CHECK(at.st_rdev == by_path.st_rdev);
  check_link(fd, path);
}

static void registers_by_pread(int dev) {
  uint32_t id = 0;
  CHECK(pread(dev, &id, 4, 0) == 4 && id == ID);
  uint64_t v = 0x0123456789abcdefULL, back = 0;
  CHECK(pwrite(dev, &v, 8, 0x08) == 8);
  CHECK(pread64(dev, &back, 8, 0x08) == 8 && back == v);
  CHECK(pwrite64(dev, &v, 8, 0x10) == 8);
  uint16_t half = 0;
  CHECK(pread(dev, &half, 2, 0x08) == 2 && half == 0xcdef);
  CHECK_ERRNO(pread(dev, &id, 4, PAGE), EINVAL);
  CHECK_ERRNO(pread(dev, &id, 4, -4), EINVAL);
  CHECK(pread(dev, &v, 8, PAGE - 4) == 4); /* straddling the end: short */
  CHECK_ERRNO(pread(dev, unmapped, 4, 0), EFAULT);
  /* vectors: one access per buffer, in order */
  uint32_t lo = 0;
  uint16_t mid = 0;
  uint8_t hi = 0;
  struct iovec parts[] = {{&lo, 4}, {NULL, 0}, {&mid, 2}, {&hi, 1}};
  CHECK(preadv(dev, parts, 4, 0x08) == 7);
  CHECK(lo == 0x89abcdef && mid == 0x4567 && hi == 0x23);
  uint64_t ones = ~0ULL;
  struct iovec whole = {&ones, 8};
  CHECK(pwritev(dev, &whole, 1, 0x10) == 8);
  CHECK(pread(dev, &back, 8, 0x10) == 8 && back == ~0ULL);
  CHECK(preadv(dev, parts, 4, PAGE - 2) == 2); /* short: stops at the end */
  CHECK_ERRNO(pwrite(dev, unmapped, 4, 0x08), EFAULT);
}

/* read and write go on from the file position (vfio_pci_rdwr.c), which pread does not move */
static void registers_by_read(int dev) {
  uint32_t word = 0;
  CHECK(read(dev, &word, 4) == 4 && word == ID);
  CHECK(pread(dev, &word, 4, 0x08) == 4);
  CHECK(read(dev, &word, 4) == 4 && word == 0); /* 0x04 */
  uint64_t v = 0x1122334455667788ULL, back = 0;
  CHECK(write(dev, &v, 8) == 8); /* 0x08 */
  CHECK(pread(dev, &back, 8, 0x08) == 8 && back == v);
}

static void interrupts(int dev) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK(efd >= 0);
  CHECK_OK(set_irq(dev, efd));
  uint32_t ring = 1;
  CHECK(drain(efd) == 0);
  CHECK(pwrite(dev, &ring, 4, 0x20) == 4);
  CHECK(drain(efd) == 1);
  CHECK(pwrite(dev, &ring, 4, 0x20) == 4 && pwrite(dev, &ring, 4, 0x20) == 4);
  CHECK(drain(efd) == 2);
  CHECK_ERRNO(set_irq(dev, 999), EBADF);
  CHECK_ERRNO(set_irq(dev, dev), EINVAL); /* a descriptor, not an eventfd */
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK_ERRNO(set_irq(dev, null), EINVAL);
  close(null);
  /* the server holds its own reference: closing ours changes nothing */
  int kept = eventfd(0, EFD_NONBLOCK);
  CHECK_OK(set_irq(dev, kept));
  int again = dup(kept);
  close(kept);
  CHECK(pwrite(dev, &ring, 4, 0x20) == 4);
  CHECK(drain(again) == 1);
  CHECK_OK(set_irq(dev, -1));
  CHECK(pwrite(dev, &ring, 4, 0x20) == 4);
  CHECK(drain(again) == 0);
  close(again);

  /* the server watches a trigger eventfd, taking each signal (virqfd) */
  int trigger = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK_OK(set_irq(dev, efd));
  CHECK_OK(set_irq_index(dev, 1, trigger));
  uint64_t one = 1;
  for (int round = 0; round < 3; round++) {
    CHECK(write(trigger, &one, sizeof one) == sizeof one);
    CHECK(wait_readable(efd, 5000));
    CHECK(drain(efd) == 1);
  }
  CHECK(drain(trigger) == 0); /* taken by the server */
  CHECK_OK(set_irq_index(dev, 1, -1));
  CHECK(write(trigger, &one, sizeof one) == sizeof one);
  CHECK(!wait_readable(efd, 200));
  CHECK(drain(trigger) == 1); /* nobody watches it now */
  CHECK_OK(set_irq(dev, -1));
  close(trigger);
  close(efd);
}

/* Loads and stores of each width through a mapping of the register page at bar. */
static void registers_by_mmap(volatile unsigned char *bar, int dev) {
  CHECK(*(volatile uint32_t *)bar == ID);
  CHECK(*(volatile uint8_t *)bar == (ID & 0xff));
  *(volatile uint8_t *)(bar + 0x08) = 0x5a;
  *(volatile uint16_t *)(bar + 0x0a) = 0x1234;
  *(volatile uint32_t *)(bar + 0x0c) = 0xdeadbeef;
  *(volatile uint64_t *)(bar + 0x10) = 0xfedcba9876543210ULL;
  CHECK(*(volatile uint8_t *)(bar + 0x08) == 0x5a);
  CHECK(*(volatile uint16_t *)(bar + 0x0a) == 0x1234);
  CHECK(*(volatile uint32_t *)(bar + 0x0c) == 0xdeadbeef);
  CHECK(*(volatile uint64_t *)(bar + 0x10) == 0xfedcba9876543210ULL);
  uint64_t by_pread = 0;
  CHECK(pread(dev, &by_pread, 8, 0x10) == 8 && by_pread == 0xfedcba9876543210ULL);
  /* a register with a side effect on read is read once per load */
  uint64_t first = *(volatile uint64_t *)(bar + 0x28);
  uint64_t second = *(volatile uint64_t *)(bar + 0x28);
  CHECK(second == first + 1);
  /* sign- and zero-extending loads */
  *(volatile uint8_t *)(bar + 0x08) = 0x80;
  int8_t s8 = *(volatile int8_t *)(bar + 0x08);
  int32_t widened = s8;
  CHECK(widened == -128);
}

static void *thread_loads(void *bar) {
  for (int i = 0; i < 200; i++)
    if (*(volatile uint32_t *)bar != ID) return (void *)1;
  return NULL;
}

static sigjmp_buf segv_jump;
static void on_segv(int sig) {
  (void)sig;
  siglongjmp(segv_jump, 1);
}

static void mappings(int dev) {
  CHECK(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, dev, 0) == MAP_FAILED && errno == EINVAL);
  CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dev, PAGE) == MAP_FAILED && errno == EINVAL);
  CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, dev, 12) == MAP_FAILED && errno == EINVAL);
  CHECK(mmap(NULL, 0, PROT_READ, MAP_SHARED, dev, 0) == MAP_FAILED && errno == EINVAL);

  unsigned char *bar = mmap(NULL, 100, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
  CHECK(bar != MAP_FAILED);
  registers_by_mmap(bar, dev);

  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK_OK(set_irq(dev, efd));
  *(volatile uint32_t *)(bar + 0x20) = 1;
  CHECK(drain(efd) == 1);
  CHECK_OK(set_irq(dev, -1));
  close(efd);

  /* other threads and a child fault before they ever called the server */
  pthread_t threads[3];
  for (int i = 0; i < 3; i++) CHECK(pthread_create(&threads[i], NULL, thread_loads, bar) == 0);
  for (int i = 0; i < 3; i++) {
    void *r;
    CHECK(pthread_join(threads[i], &r) == 0 && r == NULL);
  }
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) _exit(*(volatile uint32_t *)bar == ID && *(volatile uint64_t *)(bar + 0x10) != 0 ? 0 : 1);
  t_wait_ok(child);

  /* a child killed in the middle of trapped loads harms nobody */
  child = fork();
  CHECK(child >= 0);
  if (child == 0)
    for (;;) (void)*(volatile uint32_t *)bar;
  usleep(50000);
  CHECK_OK(kill(child, SIGKILL));
  int status;
  CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  CHECK(*(volatile uint32_t *)bar == ID);

  /* the program's own SIGSEGV handler still gets faults outside the mapping */
  struct sigaction sa = {.sa_handler = on_segv}, old;
  CHECK_OK(sigaction(SIGSEGV, &sa, &old));
  volatile int caught = 0;
  if (sigsetjmp(segv_jump, 1) == 0)
    *(volatile int *)unmapped = 1;
  else
    caught = 1;
  CHECK(caught);
  CHECK_OK(sigaction(SIGSEGV, &old, NULL));

  /* mprotect and mremap leave a trapped mapping as it is */
  CHECK_OK(mprotect(bar, PAGE, PROT_READ));
  CHECK(*(volatile uint32_t *)bar == ID);
  CHECK(mremap(bar, PAGE, 2 * PAGE, MREMAP_MAYMOVE) == MAP_FAILED && errno == EFAULT);
  CHECK_OK(munmap(bar, PAGE));

  /* MAP_FIXED over a reservation; the mapping outlives the descriptor */
  unsigned char *area = mmap(NULL, 3 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(area != MAP_FAILED);
  int dup_dev = dup(dev);
  unsigned char *fixed = mmap(area + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, dup_dev, 0);
  CHECK(fixed == area + PAGE);
  close(dup_dev);
  CHECK(*(volatile uint32_t *)fixed == ID);
  /* unmapping the whole area takes the trap with it; a new anonymous mapping there is memory */
  CHECK_OK(munmap(area, 3 * PAGE));
  unsigned char *plain = mmap(area, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(plain != MAP_FAILED);
  CHECK(munmap(plain, 3 * PAGE) == 0);
}

static void cdev(int iommufd) {
  CHECK_ERRNO(open("/dev/vfio/devices/vfio9", O_RDWR), ENOENT);
  CHECK_ERRNO(open(CDEV_PATH, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
  int dev = open(CDEV_PATH, O_RDWR | O_CLOEXEC);
  CHECK(dev >= 0);
  CHECK((fcntl(dev, F_GETFD) & FD_CLOEXEC) != 0);
  check_node(dev, CDEV_PATH, VFIO_DEVICE_MAJOR);
  struct info info = {.argsz = sizeof info};
  CHECK_OK(ioctl(dev, VFIO_DEVICE_GET_INFO, &info));
  CHECK(info.flags == 2 && info.num_regions == 1 && info.num_irqs == 1);
  CHECK_ERRNO(ioctl(dev, VFIO_DEVICE_GET_INFO, unmapped), EFAULT);
  CHECK_ERRNO(ioctl(dev, _IO(';', 100 + 40)), ENOTTY);
  registers_by_pread(dev);
  registers_by_read(dev);
  interrupts(dev);
  mappings(dev);
  /* a second open of the cdev is a file of its own */
  int second = open(CDEV_PATH, O_RDONLY);
  CHECK(second >= 0 && second != dev);
  uint32_t id = 0;
  CHECK(read(second, &id, 4) == 4 && id == ID);
  close(second);
  CHECK_OK(close(dev));
  CHECK_ERRNO(pread(dev, &id, 4, 0), EBADF);
  (void)iommufd;
}

static void group(int iommufd) {
  int g = open(GROUP_PATH, O_RDWR);
  CHECK(g >= 0);
  CHECK((fcntl(g, F_GETFD) & FD_CLOEXEC) == 0);
  check_node(g, GROUP_PATH, VFIO_GROUP_MAJOR);
  CHECK_ERRNO(open(GROUP_PATH, O_RDWR), EBUSY);
  char byte;
  CHECK_ERRNO(read(g, &byte, 1), EINVAL);
  CHECK_ERRNO(pread(g, &byte, 1, 0), EINVAL);
  CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, g, 0) == MAP_FAILED && errno == ENODEV);

  int container = iommufd;
  CHECK_OK(ioctl(g, VFIO_GROUP_SET_CONTAINER, &container));
  int null = open("/dev/null", O_RDONLY);
  CHECK_ERRNO(ioctl(g, VFIO_GROUP_SET_CONTAINER, &null), EBADFD);
  close(null);
  int missing = 999;
  CHECK_ERRNO(ioctl(g, VFIO_GROUP_SET_CONTAINER, &missing), EBADF);

  int dev = ioctl(g, VFIO_GROUP_GET_DEVICE_FD, "0000:00:04.0");
  CHECK(dev >= 0);
  CHECK((fcntl(dev, F_GETFD) & FD_CLOEXEC) != 0);
  struct stat st;
  CHECK_OK(fstat(dev, &st));
  CHECK((st.st_mode & S_IFMT) == 0 && (st.st_mode & 0777) == 0600);
  check_link(dev, "anon_inode:[vfio-device]");
  uint32_t id = 0;
  CHECK(pread(dev, &id, 4, 0) == 4 && id == ID);
  unsigned char *bar = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, dev, 0);
  CHECK(bar != MAP_FAILED);
  registers_by_mmap(bar, dev);
  CHECK_OK(munmap(bar, PAGE));
  CHECK_OK(close(dev));

  /* closing the group releases it: it opens again */
  CHECK_OK(close(g));
  g = open(GROUP_PATH, O_RDONLY | O_CLOEXEC);
  CHECK(g >= 0);
  CHECK_OK(close(g));
}

int main(int argc, char **argv) {
  t_name = "t_vfio";
  if (access(CDEV_PATH, F_OK) != 0) {
    printf("t_vfio: skipped (no testbed with %s)\n", CDEV_PATH);
    return 77;
  }
  if (argc > 1 && strcmp(argv[1], "--expect-enoent") == 0) {
    /* a server without VFIO devices: the nodes are listed, but nothing opens them */
    CHECK_ERRNO(open(CDEV_PATH, O_RDWR), ENOENT);
    CHECK_ERRNO(open(GROUP_PATH, O_RDWR), ENOENT);
    printf("t_vfio: ok (ENOENT)\n");
    return 0;
  }
  int iommufd = t_open();
  check_link(iommufd, "/dev/iommu");
  cdev(iommufd);
  group(iommufd);
  CHECK_OK(close(iommufd));
  printf("t_vfio: ok\n");
  return 0;
}
