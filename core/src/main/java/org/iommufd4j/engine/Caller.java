package org.iommufd4j.engine;

import java.util.Objects;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import org.iommufd4j.memory.UserMemory;

/**
 * The process issuing an ioctl, as the kernel knows it: its address space, identity and the
 * privileges and limits that change results (CAP_SYS_RESOURCE for RLIMIT_MODE SET, CAP_IPC_LOCK and
 * RLIMIT_MEMLOCK for accounting, ioas.c: iommufd_option_rlimit_mode(); pages.c:
 * do_update_pinned()). The bridge builds one per client thread from kernel-verified credentials; an
 * embedded context has one for its whole life.
 *
 * <p>The privileges are asked for at the moment the kernel would read them, not when the caller is
 * built: CAP_IPC_LOCK when a MAP creates a page source, CAP_SYS_RESOURCE when RLIMIT_MODE is set,
 * RLIMIT_MEMLOCK each time newly pinned pages are charged (then of the process that made the page
 * source). A program may change them between calls.
 */
public record Caller(UserMemory memory, int pid, int uid, Privileges privileges) {
  public Caller {
    Objects.requireNonNull(memory, "memory");
    Objects.requireNonNull(privileges, "privileges");
  }

  /** A caller whose privileges never change. */
  public Caller(
      UserMemory memory,
      int pid,
      int uid,
      boolean capSysResource,
      boolean capIpcLock,
      long memlockLimit) {
    this(memory, pid, uid, Privileges.fixed(capSysResource, capIpcLock, memlockLimit));
  }

  public boolean capSysResource() {
    return privileges.capSysResource();
  }

  public boolean capIpcLock() {
    return privileges.capIpcLock();
  }

  /** RLIMIT_MEMLOCK in bytes, or -1 for unlimited. */
  public long memlockLimit() {
    return privileges.memlockLimit();
  }

  /** Where a caller's privileges come from; each method is asked at the moment it matters. */
  public interface Privileges {
    boolean capSysResource();

    boolean capIpcLock();

    /** RLIMIT_MEMLOCK in bytes, or -1 for unlimited. */
    long memlockLimit();

    static Privileges fixed(boolean capSysResource, boolean capIpcLock, long memlockLimit) {
      return new Fixed(capSysResource, capIpcLock, memlockLimit);
    }

    /** Each privilege from its own source, e.g. some pinned and some read from a thread. */
    static Privileges of(
        BooleanSupplier capSysResource, BooleanSupplier capIpcLock, LongSupplier memlockLimit) {
      return new Composed(capSysResource, capIpcLock, memlockLimit);
    }

    /**
     * The current values of thread {@code tid} of process {@code pid}: its effective capabilities
     * (capabilities are per thread) and its process's soft RLIMIT_MEMLOCK (limits are per process),
     * one system call each time one is asked. {@code tid} 0 is whichever thread asks, {@code pid} 0
     * its process.
     */
    static Privileges ofThread(int pid, int tid) {
      return new ThreadPrivileges(pid, tid);
    }
  }

  private record Fixed(boolean capSysResource, boolean capIpcLock, long memlockLimit)
      implements Privileges {}

  private record Composed(
      BooleanSupplier sysResource, BooleanSupplier ipcLock, LongSupplier memlock)
      implements Privileges {
    @Override
    public boolean capSysResource() {
      return sysResource.getAsBoolean();
    }

    @Override
    public boolean capIpcLock() {
      return ipcLock.getAsBoolean();
    }

    @Override
    public long memlockLimit() {
      return memlock.getAsLong();
    }
  }
}
