package org.iommufd4j.engine;

/** Who is charged for a page source's pinned pages (pages.c: do_update_pinned()). */
enum AccountingMode {
  /** The creator held CAP_IPC_LOCK: nothing is charged. */
  NONE,
  /** The owner's user (per uid). */
  USER,
  /** The owner process (context in RLIMIT_MODE 1). */
  MM
}
