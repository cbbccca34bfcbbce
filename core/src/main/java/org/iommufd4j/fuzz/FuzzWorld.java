package org.iommufd4j.fuzz;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.engine.Caller;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.Host;
import org.iommufd4j.engine.VirtualFileTable;
import org.iommufd4j.memory.SimulatedMemory;
import org.iommufd4j.uapi.Dispatcher;

/**
 * A fresh emulated machine for a fuzz case: one context on a private host, whose caller's address
 * space is simulated with a fixed layout, so that a case replays identically anywhere.
 *
 * <pre>
 *   ARGS     0x10000 .. +4 pages  RW   structs; the page after it is unmapped (partly mapped args)
 *   ARRAYS   0x20000 .. +4 pages  RW   allowed_iovas / iova_ranges arrays, bitmaps
 *   BUFFER   0x200000 .. +2 MiB   RW   user memory to map (2 MiB aligned)
 *   READONLY 0x400000 .. +8 pages RO
 *   HOLE     0x500000 ..          unmapped
 * </pre>
 */
final class FuzzWorld implements AutoCloseable {
  static final long ARGS = 0x10000;
  static final long ARGS_SIZE = 4 * 4096;
  static final long ARRAYS = 0x20000;
  static final long ARRAYS_SIZE = 4 * 4096;
  static final long BUFFER = 0x200000;
  static final long BUFFER_SIZE = 2 << 20;
  static final long READONLY = 0x400000;
  static final long READONLY_SIZE = 8 * 4096;
  static final long HOLE = 0x500000;

  final SimulatedMemory memory = SimulatedMemory.create();
  final Host host = new Host();
  final VirtualFileTable files = new VirtualFileTable();
  final Context context;
  final Caller caller;

  FuzzWorld(boolean testAbi) {
    memory.map(ARGS, ARGS_SIZE, true);
    memory.map(ARRAYS, ARRAYS_SIZE, true);
    memory.map(BUFFER, BUFFER_SIZE, true);
    memory.map(READONLY, READONLY_SIZE, false);
    context = new Context(host, files, testAbi, false);
    caller = new Caller(memory, 4242, 4242, true, false, 1L << 20);
  }

  /** Runs one call; returns the ioctl result (or close's: 0 / -EBADF). */
  long execute(FuzzCall call) {
    for (FuzzCall.Write w : call.writes()) {
      memory.write(w.address(), MemorySegment.ofArray(w.bytes()));
    }
    if (call.request() == FuzzCall.CLOSE_FD) {
      return files.close((int) call.arg()) ? 0 : -9;
    }
    return Dispatcher.ioctl(context, caller, call.request(), call.arg(), null);
  }

  /** Reads back what the call left at {@code address}, or null if unreadable. */
  byte[] read(long address, int length) {
    byte[] b = new byte[length];
    return memory.read(address, MemorySegment.ofArray(b)) ? b : null;
  }

  List<String> invariantViolations() {
    return context.checkInvariants();
  }

  /**
   * Closes everything the case left open and reports what survived: objects, pins, charges. Returns
   * null when nothing leaked.
   */
  String closeAndCheckLeaks() {
    files.closeAll();
    context.close();
    if (host.totalPins() != 0) {
      return "pins survived the close: " + host.totalPins();
    }
    if (host.lockedPagesOfUser(caller.uid()) != 0 || host.lockedPagesOfProcess(caller.pid()) != 0) {
      return "memlock charges survived the close";
    }
    if (context.objectCount() != 0) {
      return context.objectCount() + " objects survived the close";
    }
    return null;
  }

  @Override
  public void close() {
    files.closeAll();
    context.close();
  }
}
