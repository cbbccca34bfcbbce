package org.iommufd4j.bridge;

import org.iommufd4j.engine.EmulatedFile;
import org.iommufd4j.engine.FileTable;
import org.iommufd4j.trace.MemoryLog;

/**
 * Descriptors in the calling process for the files the engine creates (access fds, fault fds): each
 * is the client end of a new socketpair, installed in the caller by a CB_NEW_FD callback at its
 * lowest free number, as the kernel's get_unused_fd would. A descriptor number given to the engine
 * (an access fd in a test op) is resolved by asking the caller for that very descriptor (CB_GET_FD)
 * and recognising its socket, so dup'd and passed descriptors work.
 */
final class BridgeFileTable implements FileTable {
  private static final long IOMMU_FAULT_QUEUE_ALLOC = 0x3b8e;

  private final BridgeServer server;

  BridgeFileTable(BridgeServer server) {
    this.server = server;
  }

  private static Call call() {
    Call c = Call.current();
    if (c == null) {
      throw new IllegalStateException("descriptor operation outside a client call");
    }
    return c;
  }

  @Override
  public int reserve() {
    Call c = call();
    // Both are close-on-exec (selftest.c: iommufd_test_create_access(); fault.c:
    // iommufd_fault_alloc()); only FAULT_QUEUE_ALLOC makes a fault file.
    int kind =
        (c.request & 0xffff_ffffL) == IOMMU_FAULT_QUEUE_ALLOC ? Wire.KIND_FAULT : Wire.KIND_ACCESS;
    ServerFile f = server.newFile(kind, null);
    int fd = c.channel.installFd(f, Wire.FD_CLOEXEC);
    if (fd < 0) {
      server.discard(f);
      throw new IllegalStateException("the client could not take a descriptor: errno " + -fd);
    }
    c.reserved.put(fd, f);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.fd(fd, f.number);
    }
    return fd;
  }

  @Override
  public void unreserve(int fd) {
    Call c = call();
    ServerFile f = c.reserved.remove(fd);
    if (f != null) {
      c.channel.closeClientFd(fd);
    }
  }

  @Override
  public void install(int fd, EmulatedFile file) {
    Call c = call();
    ServerFile f = c.reserved.remove(fd);
    if (f == null) {
      throw new IllegalStateException("install of fd " + fd + " that was not reserved");
    }
    f.install(file);
    if (f.kind == Wire.KIND_FAULT) {
      file.onReadable(f::signal); // poll on the fault fd: readable when a group is pending
    }
  }

  @Override
  public EmulatedFile get(int fd) {
    Call c = Call.current();
    if (c == null) {
      return null;
    }
    ServerFile pending = c.reserved.get(fd);
    if (pending != null) {
      return null;
    }
    ServerFile f = c.channel.fileBehind(fd);
    MemoryLog log = MemoryLog.current();
    if (log != null) {
      log.getFd(fd, f == null ? 0 : f.number);
    }
    return f == null ? null : f.file();
  }
}
