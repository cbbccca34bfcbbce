package org.iommufd4j.engine;

import static org.iommufd4j.Errno.EBUSY;
import static org.iommufd4j.Errno.EFAULT;
import static org.iommufd4j.Errno.EINVAL;
import static org.iommufd4j.Errno.ENOENT;
import static org.iommufd4j.Errno.ENOMEM;
import static org.iommufd4j.Errno.EOVERFLOW;
import static org.iommufd4j.Errno.EPERM;
import static org.iommufd4j.engine.Unsigned.U64_MAX;
import static org.iommufd4j.engine.Unsigned.ge;
import static org.iommufd4j.engine.Unsigned.hex;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import org.iommufd4j.memory.UserMemory;

/**
 * An in-kernel user of an IOAS (device.c: iommufd_access_*()): a driver that pins, reads and writes
 * IOAS memory without a hardware domain, such as the selftest access of CREATE_ACCESS (selftest.c:
 * iommufd_test_create_access()). It is an ACCESS object whose id user space never sees. Its driver
 * holds a reference until {@link #close()} (so user DESTROY of it is EBUSY), it holds one on its
 * IOAS while attached (the IOAS's DESTROY is EBUSY) and one on the context's file (closing the
 * iommufd tears nothing down while an access lives; main.c: iommufd_fops_release()).
 *
 * <p>Pins: every successful {@link #pin} is recorded by its exact {@code (iova, length)} with a use
 * count, and {@link #unpin} must repeat such a pair. Before the access leaves an IOAS (replace,
 * detach, close) its {@link UnmapCallback} is asked to drop everything; pins still held after that
 * are released anyway and logged, as a driver bug.
 *
 * <p>Lock order: the driver's own locks, this access's lock, the IOAS lock, page sources, the host.
 * Callbacks run with neither this access's lock nor any IOAS lock held.
 */
public final class Access extends IommufdObject {
  private static final System.Logger LOG = System.getLogger("org.iommufd4j.access");
  private static final long PAGE_SIZE = PageSource.PAGE_SIZE;

  /**
   * What the driver does when user space unmaps memory the access may use (device.c:
   * iommufd_access_notify_unmap()).
   */
  @FunctionalInterface
  public interface UnmapCallback {
    /**
     * User space removes {@code [iova, last]} (inclusive; {@code [0, 2^64 - 1]} when the access
     * leaves its IOAS). Before returning, the driver must {@link Access#unpin} every range it
     * pinned that intersects it. Meanwhile new pins and reads in that area fail with EINVAL. An
     * unmap is retried while pins remain, and fails with EDEADLK after 100 rounds.
     */
    void unmap(Access access, long iova, long last);
  }

  /** One exact pinned range, as the driver passed it. */
  record PinRange(long iova, long length) {
    @Override
    public String toString() {
      return "[" + hex(iova) + " length " + hex(length) + "]";
    }
  }

  /** The part of one area that a pin or read covers. */
  private record Portion(Area area, long firstIndex, long lastIndex) {}

  private final Context ctx;
  private final boolean needsPinPages;
  private final UnmapCallback callback;
  private final ReentrantLock lock = new ReentrantLock();

  /**
   * The IOAS that pins and reads use; null while detached or moving (device.c:
   * iommufd_access_change_ioas()). Guarded by lock.
   */
  private IoasObject ioas;

  /** The IOAS that unpins use; it still names the old IOAS while a replace waits for the driver. */
  private IoasObject ioasUnpin;

  /** Pins held in {@link #ioasUnpin}; changed with this lock and that IOAS's lock both held. */
  private final Map<PinRange, long[]> pins = new HashMap<>();

  private boolean closed;

  private Access(Context ctx, boolean needsPinPages, UnmapCallback callback) {
    super(ObjectType.ACCESS);
    this.ctx = ctx;
    this.needsPinPages = needsPinPages;
    this.callback = callback;
    this.users = 2; // the table's and the driver's
  }

  /**
   * Creates an access (device.c: iommufd_access_create()) and publishes its ACCESS object at once
   * (main.c: _iommufd_object_alloc(), iommufd_object_finalize()). It takes a reference to the
   * context's file until {@link #close()}.
   *
   * @param needsPinPages whether the driver will {@link #pin}: raises the IOAS alignment to 4096
   */
  public static Access create(Context ctx, boolean needsPinPages, UnmapCallback callback) {
    Objects.requireNonNull(callback, "callback");
    Access access = new Access(ctx, needsPinPages, callback);
    ctx.table.reserve(access);
    try {
      ctx.getFile();
    } catch (RuntimeException e) {
      ctx.table.abort(access);
      throw e;
    }
    ctx.table.publish(access);
    return access;
  }

  public boolean needsPinPages() {
    return needsPinPages;
  }

  // ---- attach, replace, detach (device.c: iommufd_access_change_ioas()) -------------------------

  /**
   * Attaches the access to IOAS {@code ioasId}: ENOENT if there is none, EBUSY when the IOAS has
   * 65536 accesses, EADDRINUSE when a pinning access would raise the alignment above an area's
   * (io_pagetable.c: iopt_calculate_iova_alignment()). EINVAL if already attached.
   */
  public void attach(int ioasId) {
    lock.lock();
    try {
      if (ioas != null) {
        throw ErrnoException.of(EINVAL, "access is already attached to ioas " + ioas.id);
      }
      checkOpen();
      changeIoas(ctx.ioas(ioasId));
    } finally {
      lock.unlock();
    }
  }

  /**
   * Moves the access to IOAS {@code ioasId}: ENOENT if not attached or no such IOAS; the same IOAS
   * changes nothing; otherwise it joins the new IOAS (EBUSY, EADDRINUSE, nothing changed on
   * failure), then the driver is told to drop every pin, then it leaves the old IOAS.
   */
  public void replace(int ioasId) {
    lock.lock();
    try {
      if (ioas == null) {
        throw ErrnoException.of(ENOENT, "access is not attached");
      }
      changeIoas(ctx.ioas(ioasId));
    } finally {
      lock.unlock();
    }
  }

  /** Leaves the IOAS after the driver dropped every pin; nothing happens if not attached. */
  public void detach() {
    lock.lock();
    try {
      if (ioas != null) {
        changeIoas(null);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The driver destroys the access: it is detached (the callback runs for everything), its ACCESS
   * object goes and its reference to the context's file is dropped, which tears the context down if
   * the iommufd itself was already closed (main.c: iommufd_fops_release()). Idempotent; never
   * fails.
   */
  public void close() {
    if (ctx.table.removeOwned(this)) {
      destroy();
    }
  }

  @Override
  void destroy() {
    lock.lock();
    try {
      closed = true;
    } finally {
      lock.unlock();
    }
    detach();
    ctx.putFile();
  }

  private void checkOpen() {
    if (closed) {
      throw ErrnoException.of(ENOENT, "access " + id + " was destroyed");
    }
  }

  /**
   * The kernel's change of IOAS (device.c: iommufd_access_change_ioas()); called with {@link #lock}
   * held once.
   */
  private void changeIoas(IoasObject target) {
    IoasObject current = ioas;
    if (current != ioasUnpin) {
      throw ErrnoException.of(EBUSY, "access is moving between IOASes");
    }
    if (current == target) {
      return;
    }
    ioas = null; // new pins fail while moving; unpins still reach the old IOAS
    if (target != null) {
      try {
        join(target);
      } catch (RuntimeException e) {
        ioas = current;
        throw e;
      }
    }
    if (current != null) {
      lock.unlock();
      try {
        callback.unmap(this, 0, U64_MAX);
      } catch (RuntimeException e) {
        LOG.log(System.Logger.Level.ERROR, "unmap callback of access " + id + " failed", e);
      } finally {
        lock.lock();
      }
      releaseLeftoverPins(current);
      leave(current);
    }
    ioas = target;
    ioasUnpin = target;
  }

  private void join(IoasObject target) {
    target.lockLive();
    try {
      target.iopt.addAccess(this);
    } finally {
      target.lock.unlock();
    }
    ctx.table.addUser(target);
  }

  private void leave(IoasObject from) {
    from.lock.lock();
    try {
      from.iopt.removeAccess(this);
    } finally {
      from.lock.unlock();
    }
    ctx.table.removeUser(from);
  }

  /** A driver that ignored the callback: release what it still holds, so nothing leaks. */
  private void releaseLeftoverPins(IoasObject from) {
    if (pins.isEmpty()) {
      return;
    }
    LOG.log(
        System.Logger.Level.WARNING,
        () ->
            "access "
                + id
                + " still held "
                + pins.keySet()
                + " after its unmap callback; released");
    from.lock.lock();
    try {
      for (Map.Entry<PinRange, long[]> e : pins.entrySet()) {
        PinRange r = e.getKey();
        for (long i = 0; i < e.getValue()[0]; i++) {
          release(from.iopt, r.iova(), r.iova() + r.length() - 1);
        }
      }
      pins.clear();
    } finally {
      from.lock.unlock();
    }
  }

  /**
   * Called by an IOAS that is removing {@code [iova, last]}, with no IOAS lock held (device.c:
   * iommufd_access_notify_unmap()).
   */
  void notifyUnmap(long iova, long last) {
    callback.unmap(this, iova, last);
  }

  /** This access's pins in {@code iopt} (for invariant checks under that IOAS's lock). */
  Map<PinRange, Long> pinsIn(IoPagetable iopt) {
    IoasObject where = ioasUnpin;
    Map<PinRange, Long> out = new HashMap<>();
    if (where != null && where.iopt == iopt) {
      pins.forEach((r, uses) -> out.put(r, uses[0]));
    }
    return out;
  }

  // ---- pin and unpin (device.c: iommufd_access_pin_pages(), iommufd_access_unpin_pages()) -------

  /**
   * Pins {@code [iova, iova + length - 1]} (device.c: iommufd_access_pin_pages()) and returns the
   * emulated physical address of each 4 KiB page, in order. Errors, in order: EINVAL (access
   * created without page pinning; {@code length} 0), EOVERFLOW, ENOENT (not attached), then per
   * area: EINVAL (an unmap is waiting for accesses, or a portion does not start on a page boundary
   * of its memory or, when another area follows, end on one), EPERM (area protection, or write to
   * memory mapped read-only), EFAULT / ENOMEM (pinning and charging); ENOENT if the range is not
   * mapped contiguously. A failed pin changes nothing.
   */
  public long[] pin(long iova, long length, boolean write) {
    if (!needsPinPages) {
      throw ErrnoException.of(EINVAL, "access " + id + " was created without page pinning");
    }
    long last = checkRange(iova, length);
    lock.lock();
    try {
      IoasObject target = attachedIoas();
      target.lock.lock();
      try {
        long[] frames = pinLocked(target.iopt, iova, last, write);
        pins.computeIfAbsent(new PinRange(iova, length), k -> new long[1])[0]++;
        return frames;
      } finally {
        target.lock.unlock();
      }
    } finally {
      lock.unlock();
    }
  }

  private long[] pinLocked(IoPagetable iopt, long iova, long last, boolean write) {
    long pageCount = (last >>> PageSource.PAGE_SHIFT) - (iova >>> PageSource.PAGE_SHIFT) + 1;
    if (pageCount > Integer.MAX_VALUE - 16) {
      throw ErrnoException.of(ENOMEM, "cannot return " + pageCount + " pages");
    }
    long[] frames = new long[(int) Math.min(pageCount, 1024)];
    int n = 0;
    List<Portion> done = new ArrayList<>(1);
    try {
      long pos = iova;
      for (Area a : iopt.areas.contiguous(iova, last)) {
        boolean lastPortion = ge(a.last, last);
        long startByte = a.pagesOffset() + (pos - a.iova);
        if (a.isPreventAccess()) {
          throw ErrnoException.of(EINVAL, a + " is being unmapped");
        }
        if ((startByte & (PAGE_SIZE - 1)) != 0
            || (!lastPortion && ((a.pagesOffset() + a.length()) & (PAGE_SIZE - 1)) != 0)) {
          throw ErrnoException.of(
              EINVAL, "iova=" + hex(pos) + " of " + a + " is not page aligned in its memory");
        }
        checkPermission(a, write);
        Portion p = portion(a, pos, Unsigned.min(a.last, last));
        a.pages().addAccess(ctx.host, p.firstIndex(), p.lastIndex());
        a.accessCount++;
        done.add(p);
        FaultInjection.check(FaultInjection.Site.ACCESS_STORE); // after pinning, before storing
        UserMemory memory = a.owner().memory();
        for (long i = p.firstIndex(); i <= p.lastIndex(); i++) {
          if (n == frames.length) {
            frames = Arrays.copyOf(frames, (int) Math.min(pageCount, 2L * n));
          }
          long va = a.pages().address(i << PageSource.PAGE_SHIFT);
          frames[n++] = ctx.host.physicalAddress(memory, va);
        }
        if (lastPortion) {
          return n == frames.length ? frames : Arrays.copyOf(frames, n);
        }
        pos = a.last + 1;
      }
      throw ErrnoException.of(ENOENT, "[" + hex(iova) + ", " + hex(last) + "] is not mapped");
    } catch (RuntimeException e) {
      for (int i = done.size() - 1; i >= 0; i--) {
        Portion p = done.get(i);
        p.area().accessCount--;
        p.area().pages().removeAccess(ctx.host, p.firstIndex(), p.lastIndex());
      }
      throw e;
    }
  }

  /**
   * Releases a range pinned by {@link #pin} with exactly these arguments (device.c:
   * iommufd_access_unpin_pages()); pages nobody else needs are unpinned. EINVAL, with nothing
   * changed, if this access holds no such pin. Works while an unmap waits for it, and during a
   * replace (on the IOAS being left).
   */
  public void unpin(long iova, long length) {
    lock.lock();
    try {
      PinRange key = new PinRange(iova, length);
      long[] uses = pins.get(key);
      IoasObject target = ioasUnpin;
      if (uses == null || target == null) {
        throw ErrnoException.of(EINVAL, "access " + id + " holds no pin " + key);
      }
      target.lock.lock();
      try {
        release(target.iopt, iova, iova + length - 1);
        if (--uses[0] == 0) {
          pins.remove(key);
        }
      } finally {
        target.lock.unlock();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Undoes one pin of {@code [iova, last]}; the areas are those the pin saw (they cannot go). */
  private void release(IoPagetable iopt, long iova, long last) {
    long pos = iova;
    for (Area a : iopt.areas.contiguous(iova, last)) {
      Portion p = portion(a, pos, Unsigned.min(a.last, last));
      a.accessCount--;
      a.pages().removeAccess(ctx.host, p.firstIndex(), p.lastIndex());
      if (ge(a.last, last)) {
        return;
      }
      pos = a.last + 1;
    }
    throw new IllegalStateException(
        "pinned range [" + hex(iova) + ", " + hex(last) + "] is no longer mapped contiguously");
  }

  // ---- read and write (device.c: iommufd_access_rw()) -------------------------------------------

  /**
   * Copies {@code data.byteSize()} bytes between {@code data} and the memory mapped at {@code iova}
   * (into the mapped memory when {@code write}). Errors, in order: EINVAL (length 0), EOVERFLOW,
   * ENOENT (not attached), then per area: EINVAL (an unmap is waiting), EPERM (area protection, or
   * write to memory mapped read-only), EFAULT (the owner's memory is inaccessible); ENOENT if the
   * range is not mapped contiguously. Portions copied before an error stay copied. No pin is taken.
   * {@code slowPath} copies page by page through the page frames instead of through the owner's
   * address space; the bytes are the same.
   */
  public void rw(long iova, MemorySegment data, boolean write, boolean slowPath) {
    long length = data.byteSize();
    long last = checkRange(iova, length);
    lock.lock();
    try {
      IoasObject target = attachedIoas();
      target.lock.lock();
      try {
        rwLocked(target.iopt, iova, last, data, write, slowPath);
      } finally {
        target.lock.unlock();
      }
    } finally {
      lock.unlock();
    }
  }

  private void rwLocked(
      IoPagetable iopt, long iova, long last, MemorySegment data, boolean write, boolean slowPath) {
    long pos = iova;
    long done = 0;
    for (Area a : iopt.areas.contiguous(iova, last)) {
      long portionLast = Unsigned.min(a.last, last);
      if (a.isPreventAccess()) {
        throw ErrnoException.of(EINVAL, a + " is being unmapped");
      }
      checkPermission(a, write);
      long bytes = portionLast - pos + 1;
      long va = a.userAddress() + (pos - a.iova);
      MemorySegment chunk = data.asSlice(done, bytes);
      boolean ok =
          slowPath
              ? copyThroughFrames(a.owner().memory(), va, chunk, write)
              : copy(a.owner().memory(), va, chunk, write);
      if (!ok) {
        throw ErrnoException.of(EFAULT, "memory behind iova=" + hex(pos) + " is inaccessible");
      }
      done += bytes;
      if (ge(a.last, last)) {
        return;
      }
      pos = a.last + 1;
    }
    throw ErrnoException.of(ENOENT, "[" + hex(iova) + ", " + hex(last) + "] is not mapped");
  }

  private static boolean copy(UserMemory memory, long va, MemorySegment chunk, boolean write) {
    return write ? memory.write(va, chunk) : memory.read(va, chunk);
  }

  /** The slow path: one page frame at a time, resolved through the host's frame numbering. */
  private boolean copyThroughFrames(
      UserMemory memory, long va, MemorySegment chunk, boolean write) {
    long off = 0;
    while (off < chunk.byteSize()) {
      long at = va + off;
      long n = Math.min(PAGE_SIZE - (at & (PAGE_SIZE - 1)), chunk.byteSize() - off);
      FaultInjection.check(FaultInjection.Site.ACCESS_RW);
      if (!Host.isUserAddress(at)) {
        return false; // no page frame holds it: the kernel's pin of it faults
      }
      long pa = ctx.host.physicalAddress(memory, at);
      UserMemory frameMemory = ctx.host.memoryOf(pa);
      if (frameMemory == null
          || !copy(frameMemory, Host.virtualAddress(pa), chunk.asSlice(off, n), write)) {
        return false;
      }
      off += n;
    }
    return true;
  }

  // ---- shared -----------------------------------------------------------------------------------

  /**
   * The fuzzer shorthand of ACCESS_PAGES / ACCESS_RW (selftest.c: iommufd_test_syz_conv_iova()):
   * area n + offset of the attached IOAS, or 0 when unattached or there are fewer areas.
   */
  long syzIova(long shorthand) {
    lock.lock();
    try {
      IoasObject target = ioas;
      if (target == null) {
        return 0;
      }
      target.lock.lock();
      try {
        return target.iopt.syzIova(shorthand);
      } finally {
        target.lock.unlock();
      }
    } finally {
      lock.unlock();
    }
  }

  private static long checkRange(long iova, long length) {
    if (length == 0) {
      throw ErrnoException.of(EINVAL, "length=0");
    }
    if (Unsigned.lastOverflows(iova, length)) {
      throw ErrnoException.of(EOVERFLOW, "iova=" + hex(iova) + " length=" + hex(length));
    }
    return iova + length - 1;
  }

  private IoasObject attachedIoas() {
    IoasObject target = ioas;
    if (target == null) {
      throw ErrnoException.of(ENOENT, "access " + id + " is not attached");
    }
    return target;
  }

  /** The area's protection, then the memory's writability (device.c: check_area_prot()). */
  private static void checkPermission(Area a, boolean write) {
    int needed = write ? Area.PROT_WRITE : Area.PROT_READ;
    if ((a.prot() & needed) == 0) {
      throw ErrnoException.of(EPERM, a + " does not allow " + (write ? "writes" : "reads"));
    }
    if (write && !a.writableMemory()) {
      throw ErrnoException.of(EPERM, "memory behind " + a + " was mapped read-only");
    }
  }

  private static Portion portion(Area a, long pos, long portionLast) {
    return new Portion(
        a,
        (a.pagesOffset() + (pos - a.iova)) >>> PageSource.PAGE_SHIFT,
        (a.pagesOffset() + (portionLast - a.iova)) >>> PageSource.PAGE_SHIFT);
  }
}
