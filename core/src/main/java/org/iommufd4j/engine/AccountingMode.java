package org.iommufd4j.engine;

/** Who is charged for a page source's pinned pages (spec §4.9). */
enum AccountingMode {
  /** The creator held CAP_IPC_LOCK: nothing is charged. */
  NONE,
  /** The owner's user (per uid). */
  USER,
  /** The owner process (context in RLIMIT_MODE 1). */
  MM
}
