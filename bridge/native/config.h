/* The shim's configuration, read once from the environment, and its log. Depends on nothing. */
#ifndef IOMMUFD4J_CONFIG_H
#define IOMMUFD4J_CONFIG_H

#define HIDDEN __attribute__((visibility("hidden")))

HIDDEN extern const char *i4j_socket_path; /* IOMMUFD4J_SOCKET, NULL when unset */
HIDDEN extern int i4j_debug;               /* IOMMUFD4J_DEBUG */
HIDDEN extern int i4j_shim_memory;         /* IOMMUFD4J_MEMORY=shim */
HIDDEN extern int i4j_vfio;                /* IOMMUFD4J_VFIO=1 */
HIDDEN extern long i4j_connect_wait_ms;    /* IOMMUFD4J_CONNECT_WAIT_MS: server still starting */
HIDDEN extern int i4j_mailbox;             /* IOMMUFD4J_MAILBOX (default 1): the fast channel */
HIDDEN extern long i4j_spin_us;            /* IOMMUFD4J_SPIN_US: the longest to spin for a reply */
HIDDEN extern const char *i4j_debugfs;     /* IOMMUFD4J_DEBUGFS: fault injection is emulated */
HIDDEN extern int i4j_kernel;              /* IOMMUFD4J_KERNEL=1: the kernel's calls, recorded */
HIDDEN extern int i4j_share_pins;          /* IOMMUFD4J_SHARE (default 1): pinned pages as memfds */

/* Reads the environment into the variables above. */
HIDDEN void i4j_config_load(void);

/* One line on stderr, prefixed with the pid; keeps errno. */
HIDDEN void i4j_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define DBG(...) \
  do { \
    if (i4j_debug) i4j_log(__VA_ARGS__); \
  } while (0)

#endif
