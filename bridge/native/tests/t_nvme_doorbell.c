/*
 * An emulated NVMe controller's doorbells in shared memory, under `exec --device nvme`: BAR0 is
 * mmap'ed, its register page trapped and its doorbell page (0x1000) mapped from the server's memfd,
 * so the admin queue runs on plain stores to the doorbells while CC, CSTS, AQA... still reach the
 * model through the trap. Checked: the mappings /proc/self/maps shows, Identify through a doorbell
 * store, one storage for the mapping and pread, an invalid doorbell value reported by an
 * asynchronous event, a burst of commands, and a mapping of the doorbell page alone.
 */
#include "nvme_mini.h"

/* The line of /proc/self/maps whose range starts at addr (empty if none). */
static void maps_line(const volatile void *addr, char *line, size_t size) {
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  line[0] = 0;
  char buf[512];
  while (fgets(buf, sizeof buf, f))
    if (strtoull(buf, NULL, 16) == (uintptr_t)addr) {
      snprintf(line, size, "%s", buf);
      break;
    }
  fclose(f);
}

int main(void) {
  t_name = "t_nvme_doorbell";
  char cdev[600];
  if (nvme_find(cdev, sizeof cdev) != 0) FAIL("no NVMe controller in sysfs: run under exec --device nvme");
  struct nvme n;
  nvme_open(&n, cdev);

  char line[512];
  maps_line(n.bar + NVME_DOORBELLS / 4, line, sizeof line);
  if (!strstr(line, "memfd:iommufd4j-bar0")) FAIL("the doorbell page is not the server's memory: %s", line);
  maps_line(n.bar, line, sizeof line);
  if (strstr(line, "memfd")) FAIL("the register page is not trapped: %s", line);
  CHECK(n.bar[NVME_VS / 4] == 0x10400); /* a trapped load */

  nvme_enable(&n);
  uint8_t *data = n.mem + NVME_DATA_AT;
  nvme_admin_submit(&n, 0x06, 0, NVME_IOVA + NVME_DATA_AT, 1); /* Identify controller */
  uint32_t status = nvme_admin_reap(&n);
  if (status != 0) FAIL("Identify status 0x%x", status);
  if (memcmp(data + 24, "QEMU NVMe Ctrl", 14) != 0) FAIL("model number %.14s", data + 24);

  uint32_t tail;
  CHECK(pread(n.fd, &tail, 4, (off_t)n.bar0 + NVME_DOORBELLS) == 4);
  if (tail != n.sq_tail) FAIL("pread of the SQ 0 tail doorbell: %u, stored %u", tail, n.sq_tail);

  /* an invalid value (the admin SQ has 16 entries) answers the held asynchronous event request */
  nvme_admin_submit(&n, 0x0c, 0, 0, 0);
  nvme_admin_submit(&n, 0x0a, 0, 0, 0x07); /* once this completes, the request is held */
  CHECK(nvme_admin_reap(&n) == 0);
  n.bar[NVME_DOORBELLS / 4] = NVME_ADMIN_ENTRIES; /* (stores in a row coalesce: one at a time) */
  status = nvme_admin_reap(&n);
  if (status != 0 || n.dw0 != 0x010100)
    FAIL("event: status 0x%x dw0 0x%x, want an invalid doorbell value", status, n.dw0);
  n.bar[NVME_DOORBELLS / 4] = n.sq_tail; /* back to the real tail */

  for (int i = 0; i < 200; i++) { /* Get Features, Number of Queues */
    nvme_admin_submit(&n, 0x0a, 0, 0, 0x07);
    status = nvme_admin_reap(&n);
    if (status != 0 || n.dw0 != (63u << 16 | 63u)) FAIL("Get Features %d: status 0x%x dw0 0x%x", i, status, n.dw0);
  }

  /* the doorbell page mapped alone: all of it shared, nothing trapped */
  volatile uint32_t *bells = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, n.fd, (off_t)n.bar0 + NVME_DOORBELLS);
  CHECK(bells != MAP_FAILED);
  CHECK(bells[0] == n.sq_tail);
  nvme_admin_submit(&n, 0x0a, 0, 0, 0x07);
  CHECK(bells[0] == n.sq_tail);
  CHECK(nvme_admin_reap(&n) == 0);
  CHECK_OK(munmap((void *)bells, 4096));

  n.bar[NVME_CC / 4] = 0;
  nvme_wait_csts(&n, 1, 0);
  CHECK_OK(munmap((void *)n.bar, NVME_BAR0_SIZE));
  CHECK_OK(close(n.fd));
  printf("t_nvme_doorbell: ok\n");
  return 0;
}
