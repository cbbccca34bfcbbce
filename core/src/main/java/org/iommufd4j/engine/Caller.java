package org.iommufd4j.engine;

import java.util.Objects;
import org.iommufd4j.memory.UserMemory;

/**
 * The process issuing an ioctl, as the kernel knows it: its address space, identity and the
 * privileges and limits that change results (CAP_SYS_RESOURCE for RLIMIT_MODE SET, CAP_IPC_LOCK
 * and RLIMIT_MEMLOCK for accounting, spec §3.9, §4.9). The bridge builds one per client process
 * from kernel-verified credentials; an embedded context has one for its whole life.
 *
 * @param memlockLimit RLIMIT_MEMLOCK in bytes, or -1 for unlimited
 */
public record Caller(
    UserMemory memory, int pid, int uid, boolean capSysResource, boolean capIpcLock,
    long memlockLimit) {
  public Caller {
    Objects.requireNonNull(memory, "memory");
  }
}
