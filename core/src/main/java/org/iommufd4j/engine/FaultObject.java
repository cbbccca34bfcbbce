package org.iommufd4j.engine;

import static org.iommufd4j.uapi.IommuHwptPageResponse.IOMMUFD_PAGE_RESP_INVALID;
import static org.iommufd4j.uapi.IommuHwptPageResponse.IOMMUFD_PAGE_RESP_SUCCESS;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.iommufd4j.Errno;
import org.iommufd4j.memory.UserMemory;
import org.iommufd4j.uapi.IommuHwptPageResponse;
import org.iommufd4j.uapi.IommuHwptPgfault;

/**
 * A FAULT object (fault.c: iommufd_fault_alloc()): the queue of I/O page fault groups that HWPTs
 * created with FAULT_ID_VALID route to it, read and answered through its fault fd ({@link
 * FaultFile}).
 *
 * <p>A group is first <em>pending</em> (not yet read), then <em>awaiting</em> a response under a
 * cookie (the lowest free value from 1) until a response with that cookie is written. A group whose
 * device leaves the HWPT, or of a destroyed FAULT object, is answered INVALID and dropped; the mock
 * device ignores responses, so dropping is all that is visible. Thread safe; its monitor comes
 * after the IOAS locks and the attach lock in the lock order.
 */
final class FaultObject extends IommufdObject {
  private static final ValueLayout.OfInt U32 =
      ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
  private static final ValueLayout.OfLong U64 =
      ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

  /** One page request as the device reports it. */
  record PageFault(int flags, int pasid, int grpid, int perm, long addr) {}

  /** Page requests of one device that are answered together. */
  record Group(Device device, List<PageFault> faults) {}

  private final ArrayDeque<Group> pending = new ArrayDeque<>();
  private final Map<Integer, Group> awaiting = new HashMap<>();
  private final BitSet cookies = new BitSet();

  /** Whether its fault fd is open (the fd holds a reference, main.c: iommufd_object_remove()). */
  volatile boolean fileOpen;

  FaultObject() {
    super(ObjectType.FAULT);
  }

  /** Told of every report (the bridge makes the fault fd poll readable). */
  private Runnable reported = () -> {};

  /** Queues a group of faults (TRIGGER_IOPF, selftest.c: iommufd_test_trigger_iopf()). */
  void report(Group group) {
    Runnable listener;
    synchronized (this) {
      pending.addLast(group);
      listener = reported;
    }
    listener.run();
  }

  synchronized void onReport(Runnable listener) {
    reported = listener;
  }

  /** Groups not yet read. */
  synchronized int pendingCount() {
    return pending.size();
  }

  /** Groups read and not yet answered. */
  synchronized int awaitingCount() {
    return awaiting.size();
  }

  /**
   * {@code read(2)} on the fault fd (fault.c: iommufd_fault_fops_read()): whole groups, oldest
   * first, as 40-byte records; never blocks. ESPIPE unless {@code count} is a multiple of 40;
   * EINVAL if not even the first pending group fits; a group that cannot be copied stays queued
   * (EFAULT if nothing was delivered).
   *
   * @return bytes read, or {@code -errno}
   */
  synchronized long read(UserMemory memory, long buffer, long count) {
    if (Long.remainderUnsigned(count, IommuHwptPgfault.SIZE) != 0) {
      return -Errno.ESPIPE.number();
    }
    long done = 0;
    while (!pending.isEmpty()) {
      Group group = pending.peekFirst();
      long need = (long) group.faults().size() * IommuHwptPgfault.SIZE;
      if (Long.compareUnsigned(need, count - done) > 0) {
        if (done == 0) {
          return -Errno.EINVAL.number();
        }
        break;
      }
      int cookie = cookies.nextClearBit(1);
      MemorySegment records = encode(group, cookie);
      if (!memory.write(buffer + done, records)) {
        return done == 0 ? -Errno.EFAULT.number() : done;
      }
      pending.removeFirst();
      cookies.set(cookie);
      awaiting.put(cookie, group);
      done += need;
    }
    return done;
  }

  private static MemorySegment encode(Group group, int cookie) {
    int bytes = group.faults().size() * IommuHwptPgfault.SIZE;
    MemorySegment s = MemorySegment.ofArray(new byte[bytes]);
    long at = 0;
    for (PageFault f : group.faults()) {
      s.set(U32, at + IommuHwptPgfault.FLAGS, f.flags());
      s.set(U32, at + IommuHwptPgfault.DEV_ID, group.device().id);
      s.set(U32, at + IommuHwptPgfault.PASID, f.pasid());
      s.set(U32, at + IommuHwptPgfault.GRPID, f.grpid());
      s.set(U32, at + IommuHwptPgfault.PERM, f.perm());
      s.set(U64, at + IommuHwptPgfault.ADDR, f.addr());
      s.set(U32, at + IommuHwptPgfault.LENGTH, 0);
      s.set(U32, at + IommuHwptPgfault.COOKIE, cookie);
      at += IommuHwptPgfault.SIZE;
    }
    return s;
  }

  /**
   * {@code write(2)} on the fault fd (fault.c: iommufd_fault_fops_write()): 8-byte responses, each
   * answering the group with its cookie. ESPIPE unless {@code count} is a multiple of 8; a code
   * other than SUCCESS or INVALID, or an unknown cookie, is EINVAL; processing stops at the first
   * error.
   *
   * @return bytes consumed, or {@code -errno} if the first response failed
   */
  synchronized long write(UserMemory memory, long buffer, long count) {
    if (Long.remainderUnsigned(count, IommuHwptPageResponse.SIZE) != 0) {
      return -Errno.ESPIPE.number();
    }
    MemorySegment response = MemorySegment.ofArray(new byte[IommuHwptPageResponse.SIZE]);
    long done = 0;
    Errno error = null;
    while (Long.compareUnsigned(done, count) < 0) {
      if (!memory.read(buffer + done, response)) {
        error = Errno.EFAULT;
        break;
      }
      int cookie = response.get(U32, IommuHwptPageResponse.COOKIE);
      int code = response.get(U32, IommuHwptPageResponse.CODE);
      if (code != IOMMUFD_PAGE_RESP_SUCCESS && code != IOMMUFD_PAGE_RESP_INVALID) {
        error = Errno.EINVAL;
        break;
      }
      if (cookie <= 0 || awaiting.remove(cookie) == null) {
        error = Errno.EINVAL;
        break;
      }
      cookies.clear(cookie);
      done += IommuHwptPageResponse.SIZE;
    }
    return done == 0 && error != null ? -error.number() : done;
  }

  /**
   * {@code device} left an HWPT routing faults here (fault.c: iommufd_auto_response_faults()): its
   * pending and awaiting groups are answered INVALID and dropped.
   */
  synchronized void abandon(Device device) {
    pending.removeIf(g -> g.device() == device);
    for (Iterator<Map.Entry<Integer, Group>> it = awaiting.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<Integer, Group> e = it.next();
      if (e.getValue().device() == device) {
        cookies.clear(e.getKey());
        it.remove();
      }
    }
  }

  /** Every group is answered INVALID and dropped (main.c: iommufd_destroy()). */
  @Override
  synchronized void destroy() {
    pending.clear();
    awaiting.clear();
    cookies.clear();
  }
}
