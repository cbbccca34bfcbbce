/* The shim's configuration (IOMMUFD4J_* environment variables) and its log. */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

const char *i4j_socket_path;
int i4j_debug;
int i4j_shim_memory;
int i4j_vfio;
long i4j_connect_wait_ms;
int i4j_mailbox;
long i4j_spin_us;
const char *i4j_debugfs;
int i4j_kernel;
int i4j_share_pins;

static int env_flag(const char *name, const char *value) {
  const char *v = getenv(name);
  return v && strcmp(v, value) == 0;
}

void i4j_config_load(void) {
  const char *socket = getenv("IOMMUFD4J_SOCKET");
  i4j_socket_path = socket && *socket ? strdup(socket) : NULL;
  const char *debug = getenv("IOMMUFD4J_DEBUG");
  i4j_debug = debug && *debug && strcmp(debug, "0") != 0;
  i4j_shim_memory = env_flag("IOMMUFD4J_MEMORY", "shim");
  i4j_vfio = env_flag("IOMMUFD4J_VFIO", "1");
  const char *wait = getenv("IOMMUFD4J_CONNECT_WAIT_MS");
  i4j_connect_wait_ms = wait ? strtol(wait, NULL, 10) : 0;
  i4j_mailbox = !env_flag("IOMMUFD4J_MAILBOX", "0");
  const char *debugfs = getenv("IOMMUFD4J_DEBUGFS");
  i4j_debugfs = debugfs && *debugfs ? strdup(debugfs) : NULL;
  i4j_kernel = env_flag("IOMMUFD4J_KERNEL", "1");
  i4j_share_pins = !env_flag("IOMMUFD4J_SHARE", "0");
  /* Spinning for the reply pays only when the server runs on another CPU at the same time. */
  cpu_set_t cpus;
  int ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
  const char *spin = getenv("IOMMUFD4J_SPIN_US");
  i4j_spin_us = spin ? strtol(spin, NULL, 10) : (ncpu > 1 ? 50 : 0);
}

void i4j_log(const char *fmt, ...) {
  char buf[512];
  int saved = errno;
  int n = snprintf(buf, sizeof buf, "iommufd4j[%ld]: ", (long)syscall(SYS_getpid));
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  va_end(ap);
  n += m < 0 ? 0 : (m > (int)(sizeof buf - (size_t)n - 2) ? (int)(sizeof buf - (size_t)n - 2) : m);
  buf[n++] = '\n';
  syscall(SYS_write, 2, buf, (size_t)n);
  errno = saved;
}
