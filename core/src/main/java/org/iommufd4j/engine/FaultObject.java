package org.iommufd4j.engine;

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

/**
 * A FAULT object (spec §7.6): the queue of I/O page fault groups that HWPTs created with
 * FAULT_ID_VALID route to it, read and answered through its fault fd ({@link FaultFile}).
 *
 * <p>A group is first <em>pending</em> (not yet read), then <em>awaiting</em> a response under a
 * cookie (the lowest free value from 1) until a response with that cookie is written. A group
 * whose device leaves the HWPT, or of a destroyed FAULT object, is answered INVALID and dropped;
 * the mock device ignores responses, so dropping is all that is visible. Thread safe; its monitor
 * comes after the IOAS locks and the attach lock in the lock order.
 */
final class FaultObject extends IommufdObject {
  /** {@code sizeof(struct iommu_hwpt_pgfault)} and {@code struct iommu_hwpt_page_response}. */
  static final int RECORD_SIZE = 40;
  static final int RESPONSE_SIZE = 8;
  static final int FLAG_PASID_VALID = 1;
  static final int FLAG_LAST_PAGE = 1 << 1;
  static final int CODE_SUCCESS = 0;
  static final int CODE_INVALID = 1;

  // struct iommu_hwpt_pgfault (the uapi layout class IommuHwptPgfault; the engine does not see
  // uapi, so the offsets are repeated here and a test pins them equal).
  private static final long FLAGS = 0;
  private static final long DEV_ID = 4;
  private static final long PASID = 8;
  private static final long GRPID = 12;
  private static final long PERM = 16;
  private static final long ADDR = 24;
  private static final long LENGTH = 32;
  private static final long COOKIE = 36;
  // struct iommu_hwpt_page_response
  private static final long RESPONSE_COOKIE = 0;
  private static final long RESPONSE_CODE = 4;

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
  /** Whether its fault fd is open (the fd holds a reference, §2.6). */
  volatile boolean fileOpen;

  FaultObject() {
    super(ObjectType.FAULT);
  }

  /** Told of every report (the bridge makes the fault fd poll readable). */
  private Runnable reported = () -> {};

  /** Queues a group of faults (TRIGGER_IOPF, §6.4.14). */
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
   * {@code read(2)} on the fault fd (§7.6): whole groups, oldest first, as 40-byte records; never
   * blocks. ESPIPE unless {@code count} is a multiple of 40; EINVAL if not even the first pending
   * group fits; a group that cannot be copied stays queued (EFAULT if nothing was delivered).
   *
   * @return bytes read, or {@code -errno}
   */
  synchronized long read(UserMemory memory, long buffer, long count) {
    if (Long.remainderUnsigned(count, RECORD_SIZE) != 0) {
      return -Errno.ESPIPE.number();
    }
    long done = 0;
    while (!pending.isEmpty()) {
      Group group = pending.peekFirst();
      long need = (long) group.faults().size() * RECORD_SIZE;
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
    MemorySegment s = MemorySegment.ofArray(new byte[group.faults().size() * RECORD_SIZE]);
    long at = 0;
    for (PageFault f : group.faults()) {
      s.set(U32, at + FLAGS, f.flags());
      s.set(U32, at + DEV_ID, group.device().id);
      s.set(U32, at + PASID, f.pasid());
      s.set(U32, at + GRPID, f.grpid());
      s.set(U32, at + PERM, f.perm());
      s.set(U64, at + ADDR, f.addr());
      s.set(U32, at + LENGTH, 0);
      s.set(U32, at + COOKIE, cookie);
      at += RECORD_SIZE;
    }
    return s;
  }

  /**
   * {@code write(2)} on the fault fd (§7.6): 8-byte responses, each answering the group with its
   * cookie. ESPIPE unless {@code count} is a multiple of 8; a code other than SUCCESS or INVALID,
   * or an unknown cookie, is EINVAL; processing stops at the first error.
   *
   * @return bytes consumed, or {@code -errno} if the first response failed
   */
  synchronized long write(UserMemory memory, long buffer, long count) {
    if (Long.remainderUnsigned(count, RESPONSE_SIZE) != 0) {
      return -Errno.ESPIPE.number();
    }
    MemorySegment response = MemorySegment.ofArray(new byte[RESPONSE_SIZE]);
    long done = 0;
    Errno error = null;
    while (Long.compareUnsigned(done, count) < 0) {
      if (!memory.read(buffer + done, response)) {
        error = Errno.EFAULT;
        break;
      }
      int cookie = response.get(U32, RESPONSE_COOKIE);
      int code = response.get(U32, RESPONSE_CODE);
      if (code != CODE_SUCCESS && code != CODE_INVALID) {
        error = Errno.EINVAL;
        break;
      }
      if (cookie <= 0 || awaiting.remove(cookie) == null) {
        error = Errno.EINVAL;
        break;
      }
      cookies.clear(cookie);
      done += RESPONSE_SIZE;
    }
    return done == 0 && error != null ? -error.number() : done;
  }

  /**
   * {@code device} left an HWPT routing faults here (§7.6): its pending and awaiting groups are
   * answered INVALID and dropped.
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

  /** Every group is answered INVALID and dropped (§2.5). */
  @Override
  synchronized void destroy() {
    pending.clear();
    awaiting.clear();
    cookies.clear();
  }
}
