package org.iommufd4j.engine;

import org.iommufd4j.kernel.LibC;

/**
 * A live thread's privileges, read from the kernel each time one is asked: CAP_IPC_LOCK and
 * CAP_SYS_RESOURCE from the thread's effective set ({@code capget}), RLIMIT_MEMLOCK from its
 * process ({@code prlimit}), as {@code capable()} and {@code task_rlimit()} read them.
 */
final class ThreadPrivileges implements Caller.Privileges {
  private static final int CAP_IPC_LOCK = 14;
  private static final int CAP_SYS_RESOURCE = 24;

  private final int pid;
  private final int tid;

  /**
   * The last limit read: the kernel keeps charging a page source to its process's limit after that
   * process exited (it holds the task), which prlimit can no longer read.
   */
  private volatile long lastMemlockLimit = org.iommufd4j.Configuration.DEFAULT_MEMLOCK_LIMIT;

  ThreadPrivileges(int pid, int tid) {
    this.pid = pid;
    this.tid = tid;
  }

  @Override
  public boolean capSysResource() {
    return holds(CAP_SYS_RESOURCE);
  }

  @Override
  public boolean capIpcLock() {
    return holds(CAP_IPC_LOCK);
  }

  /** A thread that is gone holds nothing (it makes no more calls anyway). */
  private boolean holds(int capability) {
    long set = LibC.effectiveCapabilities(tid);
    return set > 0 && (set >>> capability & 1) != 0;
  }

  @Override
  public long memlockLimit() {
    long limit = LibC.memlockLimit(pid);
    if (limit >= 0) {
      lastMemlockLimit = limit == Long.MAX_VALUE ? -1 : limit;
    }
    return lastMemlockLimit;
  }

  @Override
  public String toString() {
    return "thread " + tid + " of process " + pid;
  }
}
