/*
 * Capabilities and RLIMIT_MEMLOCK are read when the kernel reads them (ioas.c:
 * iommufd_option_rlimit_mode(); pages.c: do_update_pinned()), for the calling thread: CAP_IPC_LOCK
 * when a MAP creates a page source, RLIMIT_MEMLOCK of the source's process each time pages are
 * newly pinned and charged, CAP_SYS_RESOURCE when RLIMIT_MODE is set. A program changes them while
 * it runs: capset() between MAPs, setrlimit() on itself, prlimit() from another process, and
 * threads with different capabilities.
 *
 * Needs CAP_IPC_LOCK in its permitted set (root) and a domain, so that MAP pins at once: the test
 * ABI's mock domain, else the first VFIO device cdev (the kernel oracle's edu device bound to
 * vfio-pci: sh vfio-bind.sh ./t_creds); skipped otherwise. Without CAP_SYS_RESOURCE permitted (as in some containers)
 * only its EPERM is checked. Builds static for the kernel oracle as well.
 */
#include "t.h" /* first: it defines _GNU_SOURCE, which prlimit() needs */

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#define CAP_IPC_LOCK 14
#define CAP_SYS_RESOURCE 24
#define IOMMU_OPTION_OP_SET 0
#define KIB 1024ULL
#define MIB (1024ULL * KIB)

struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};

/* The calling thread's capability sets (the raw system call acts on this thread only). */
static void caps_get(struct cap_header *h, struct cap_data d[2]) {
  h->version = 0x20080522; /* _LINUX_CAPABILITY_VERSION_3 */
  h->pid = 0;
  CHECK_OK(syscall(SYS_capget, h, d));
}

static int cap_permitted(int cap) {
  struct cap_header h;
  struct cap_data d[2];
  caps_get(&h, d);
  return (d[cap / 32].permitted >> cap % 32) & 1;
}

/* Raises or drops cap in this thread's effective set; it stays permitted, so it can come back. */
static void cap_effective(int cap, int on) {
  struct cap_header h;
  struct cap_data d[2];
  caps_get(&h, d);
  if (on)
    d[cap / 32].effective |= 1u << cap % 32;
  else
    d[cap / 32].effective &= ~(1u << cap % 32);
  CHECK_OK(syscall(SYS_capset, &h, d));
}

static void memlock_soft(rlim_t bytes) {
  struct rlimit r;
  CHECK_OK(getrlimit(RLIMIT_MEMLOCK, &r));
  r.rlim_cur = bytes;
  CHECK_OK(setrlimit(RLIMIT_MEMLOCK, &r));
}

/* Another process sets our soft limit with prlimit(), as libvirt does to a running QEMU. */
static void memlock_soft_from_outside(rlim_t bytes) {
  pid_t parent = getpid();
  pid_t child = fork();
  CHECK(child >= 0);
  if (child == 0) {
    struct rlimit r;
    if (prlimit(parent, RLIMIT_MEMLOCK, NULL, &r) != 0) _exit(2);
    r.rlim_cur = bytes;
    _exit(prlimit(parent, RLIMIT_MEMLOCK, &r, NULL) == 0 ? 0 : 3);
  }
  t_wait_ok(child);
}

static int fd;
static uint32_t ioas;
static int device = -1; /* the VFIO cdev bound to fd, when there is no mock domain */

/* struct vfio_device_bind_iommufd and vfio_device_attach_iommufd_pt (VFIO_BASE 100 + 18, + 19) */
#define VFIO_DEVICE_BIND_IOMMUFD _IO(';', 118)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(';', 119)
struct vfio_bind {
  uint32_t argsz, flags;
  int32_t iommufd;
  uint32_t out_devid;
};
struct vfio_attach {
  uint32_t argsz, flags, pt_id;
};

/* Gives ioas a domain: 0, or -1 with errno (ENOMEM when pinning what is mapped fails; ENOTTY or
 * ENOENT when there is neither a mock domain nor a VFIO device). */
static int attach_domain(void) {
  if (t_mock_domain(fd, ioas) != 0) return 0;
  if (errno != ENOTTY) return -1;
  if (device < 0) {
    device = open("/dev/vfio/devices/vfio0", O_RDWR | O_CLOEXEC);
    if (device < 0) return -1;
    struct vfio_bind b = {.argsz = sizeof b, .iommufd = fd};
    CHECK_OK(ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &b));
  }
  struct vfio_attach a = {.argsz = sizeof a, .pt_id = ioas};
  return ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);
}

/* The device goes first: it holds the context. */
static void close_context(void) {
  if (device >= 0) CHECK_OK(close(device));
  device = -1;
  CHECK_OK(close(fd));
}
static uint64_t next_iova = MOCK_APERTURE_START;

/* MAP length bytes of a fresh buffer at the next free IOVA: 0 or -1 with errno. */
static int map(uint64_t length) {
  void *buf = t_buffer(length);
  uint64_t iova = next_iova;
  int r = t_map(fd, ioas, buf, length, &iova, IOMMU_IOAS_MAP_FIXED_IOVA);
  int err = errno;
  if (r == 0) next_iova += length;
  if (r != 0) CHECK_OK(munmap(buf, length)); /* mapped buffers stay until the context goes */
  errno = err;
  return r;
}

static void unmap_all(void) { CHECK(t_unmap(fd, ioas, 0, UINT64_MAX) >= 0); }

static void *thread_without_ipc_lock(void *unused) {
  (void)unused;
  cap_effective(CAP_IPC_LOCK, 0);
  CHECK_ERRNO(map(1 * MIB), ENOMEM); /* this thread is charged: 256 pages > 16 */
  CHECK_OK(map(32 * KIB));
  return NULL;
}

static int option_rlimit_mode_set(int file, uint64_t value) {
  struct iommu_option o = {
      .size = sizeof o, .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_SET, .val64 = value};
  return ioctl(file, IOMMU_OPTION, &o);
}

int main(void) {
  t_name = "t_creds";
  if (!cap_permitted(CAP_IPC_LOCK)) {
    printf("t_creds: skipped, needs CAP_IPC_LOCK\n");
    return 77;
  }
  int sys_resource = cap_permitted(CAP_SYS_RESOURCE);
  struct rlimit original;
  CHECK_OK(getrlimit(RLIMIT_MEMLOCK, &original));
  if (original.rlim_max != RLIM_INFINITY && original.rlim_max < 1 * MIB) {
    printf("t_creds: skipped, hard RLIMIT_MEMLOCK below 1 MiB\n");
    return 77;
  }
  cap_effective(CAP_IPC_LOCK, 1);
  if (sys_resource) cap_effective(CAP_SYS_RESOURCE, 1);

  fd = t_open();
  ioas = t_ioas_alloc(fd);
  if (attach_domain() != 0) {
    printf("t_creds: skipped, no domain: neither the test ABI nor a VFIO device (%s)\n", strerror(errno));
    return 77;
  }
  memlock_soft(64 * KIB); /* 16 pages */

  /* CAP_IPC_LOCK dropped and raised between MAPs: read when each MAP creates its page source. */
  CHECK_OK(map(1 * MIB)); /* held: not charged */
  cap_effective(CAP_IPC_LOCK, 0);
  CHECK_ERRNO(map(1 * MIB), ENOMEM);
  CHECK_OK(map(32 * KIB)); /* 8 pages charged */
  cap_effective(CAP_IPC_LOCK, 1);
  CHECK_OK(map(1 * MIB));
  unmap_all();

  /* Its own limit lowered and raised between MAPs: read at each charge. */
  cap_effective(CAP_IPC_LOCK, 0);
  CHECK_OK(map(48 * KIB));            /* 12 of 16 */
  CHECK_ERRNO(map(32 * KIB), ENOMEM); /* 20 > 16 */
  memlock_soft(1 * MIB);
  CHECK_OK(map(32 * KIB)); /* 20 of 256 */
  memlock_soft(16 * KIB);
  CHECK_ERRNO(map(4 * KIB), ENOMEM); /* 21 > 4: what is charged stays, nothing more */
  unmap_all();                       /* uncharges all 20 */
  CHECK_OK(map(16 * KIB));           /* exactly the limit */
  CHECK_ERRNO(map(4 * KIB), ENOMEM);
  unmap_all();

  /* The limit changed by another process. */
  memlock_soft_from_outside(64 * KIB);
  CHECK_OK(map(64 * KIB));
  memlock_soft_from_outside(16 * KIB);
  CHECK_ERRNO(map(4 * KIB), ENOMEM);
  memlock_soft_from_outside(1 * MIB);
  CHECK_OK(map(4 * KIB));
  unmap_all();

  /* Capabilities are per thread: one thread drops CAP_IPC_LOCK, this one keeps it. */
  memlock_soft(64 * KIB);
  cap_effective(CAP_IPC_LOCK, 1);
  pthread_t thread;
  CHECK(pthread_create(&thread, NULL, thread_without_ipc_lock, NULL) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK_OK(map(1 * MIB));
  CHECK_OK(map(1 * MIB));
  unmap_all();
  close_context();

  /* The limit is read when pages are pinned, not when they are mapped: MAP into an IOAS without
   * a domain pins nothing; the mock domain attached afterwards pins and charges them. */
  cap_effective(CAP_IPC_LOCK, 0);
  memlock_soft(1 * MIB);
  fd = t_open();
  ioas = t_ioas_alloc(fd);
  next_iova = MOCK_APERTURE_START;
  CHECK_OK(map(64 * KIB));
  memlock_soft(16 * KIB);
  CHECK_ERRNO(attach_domain(), ENOMEM);
  memlock_soft(64 * KIB);
  CHECK_OK(attach_domain());
  close_context();

  /* RLIMIT_MODE SET checks CAP_SYS_RESOURCE at the call; MM accounting reads the limit too. */
  fd = t_open();
  if (sys_resource) cap_effective(CAP_SYS_RESOURCE, 0);
  CHECK_ERRNO(option_rlimit_mode_set(fd, 1), EPERM);
  if (sys_resource) {
    cap_effective(CAP_SYS_RESOURCE, 1);
    CHECK_OK(option_rlimit_mode_set(fd, 1));
    ioas = t_ioas_alloc(fd);
    CHECK_OK(attach_domain());
    next_iova = MOCK_APERTURE_START;
    memlock_soft(16 * KIB);
    CHECK_OK(map(16 * KIB));
    CHECK_ERRNO(map(4 * KIB), ENOMEM);
    memlock_soft_from_outside(1 * MIB);
    CHECK_OK(map(4 * KIB));
  } else {
    printf("t_creds: no CAP_SYS_RESOURCE to raise: MM accounting not checked\n");
  }
  close_context();

  cap_effective(CAP_IPC_LOCK, 1);
  CHECK_OK(setrlimit(RLIMIT_MEMLOCK, &original));
  printf("t_creds: ok\n");
  return 0;
}
