package org.iommufd4j.bridge;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.memory.ProcessMemory;
import org.iommufd4j.memory.UserMemory;

/**
 * The address space of one client process. The server reads and writes it itself with {@code
 * process_vm_readv}/{@code writev} (the shim made the server its ptracer where Yama asks for one);
 * where the kernel refuses that (other user, Yama scope 2, a non-dumpable process, or {@code
 * IOMMUFD4J_MEMORY=shim}) the channel executing the call asks the shim, which copies with the
 * same fault-safe calls on itself. Either way a bad address is {@code false} (EFAULT), never a
 * crash.
 *
 * <p>Reads inside the bytes at the ioctl argument that the shim sent with the request (the
 * window) are served from that copy. Writes go through at once, so an EFAULT in the respond is
 * reported where the kernel reports it, except inside a window the shim vouched for (the calling
 * thread's own stack, which cannot fault): those are returned with the result and applied by the
 * shim, which saves a {@code process_vm_writev} per call.
 *
 * <p>One instance per process (pid and start time), shared by all its channels, so the engine's
 * page identity ({@code Host.physicalAddress}) is the same whichever thread maps.
 */
final class RemoteMemory implements UserMemory {
  final int pid;
  private final ProcessMemory direct;

  RemoteMemory(int pid) {
    this.pid = pid;
    this.direct = ProcessMemory.of(pid);
  }

  private Call mine() {
    Call c = Call.current();
    return c != null && c.memory == this ? c : null;
  }

  @Override
  public boolean read(long address, MemorySegment dst) {
    if (dst.isReadOnly()) {
      throw new IllegalArgumentException("dst is read-only");
    }
    Call c = mine();
    if (c == null) {
      return direct.read(address, dst);
    }
    if (c.windowCovers(address, dst.byteSize())) {
      c.readWindow(address, dst);
      return true;
    }
    boolean ok = c.channel.shimMemory() ? c.channel.memRead(address, dst)
        : direct.read(address, dst);
    if (ok) {
      c.patchFromWindow(address, dst);
    }
    return ok;
  }

  @Override
  public boolean write(long address, MemorySegment src) {
    Call c = mine();
    if (c != null && c.deferWrite(address, src)) {
      return true;
    }
    boolean ok = c != null && c.channel.shimMemory()
        ? c.channel.memWrite(address, src)
        : direct.write(address, src);
    if (c != null) {
      if (ok) {
        c.wrote(address, src);
      } else {
        c.forgetWindow();
      }
    }
    return ok;
  }

  @Override
  public boolean isPinnable(long address, long length, boolean write) {
    Call c = mine();
    if (c != null && c.channel.shimMemory()) {
      return c.channel.pinnable(address, length, write);
    }
    return direct.isPinnable(address, length, write);
  }

  @Override
  public String toString() {
    return "RemoteMemory[pid=" + pid + "]";
  }
}
