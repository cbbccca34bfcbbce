package org.iommufd4j.engine;

import static org.iommufd4j.Errno.ENOMEM;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.iommufd4j.inspect.Snapshot;
import org.iommufd4j.memory.UserMemory;

/**
 * What the emulated kernel shares between all its contexts: the pin count of every page frame
 * (selftest.c: iommufd_test_md_check_refs(), what MD_CHECK_REFS reads), the memory-lock accounts of
 * users and processes (pages.c: do_update_pinned()) and module-wide test settings. One host stands
 * for one machine: the embedded emulator uses {@link #global()}, a bridge server one of its own.
 * Thread safe; its lock is the last in the lock order.
 *
 * <p>Emulated "physical" addresses name a page of some address space: {@code frame = slot << 44 |
 * va >>> 12}, where every {@link UserMemory} gets a slot. So memory mapped twice at different
 * addresses counts as different frames, as it would for private memory. There are 255 slots; when
 * all are taken (a long-running server has seen that many processes), the slots of address spaces
 * with no pinned page are given back, since no domain, access or pin count names their frames.
 */
public final class Host {
  private static final Host GLOBAL = new Host();
  private static final int FRAME_SLOT_SHIFT = 44;

  /** Slots fit the top 8 bits of a physical address; 0 is never used. */
  private static final int MAX_SLOT = (1 << (64 - FRAME_SLOT_SHIFT - PageSource.PAGE_SHIFT)) - 1;

  private final Map<UserMemory, Integer> slots = new IdentityHashMap<>();
  private final Map<Integer, UserMemory> bySlot = new HashMap<>();
  private final RangeCounter framePins = new RangeCounter();
  private final Map<Integer, long[]> userLocked = new HashMap<>();
  private final Map<Integer, long[]> processLocked = new HashMap<>();
  private int tempMemoryLimit = 65536;

  /** The host of the embedded emulator: every context of this JVM shares it. */
  public static Host global() {
    return GLOBAL;
  }

  public Host() {}

  private synchronized int slot(UserMemory memory) {
    Integer s = slots.get(memory);
    if (s == null) {
      s = freeSlot();
      slots.put(memory, s);
      bySlot.put(s, memory);
    }
    return s;
  }

  /**
   * The lowest slot no address space holds. When none is left, the address spaces without a pinned
   * page give theirs back first.
   *
   * @throws ErrnoException ENOMEM if all 255 address spaces have pinned pages
   */
  private int freeSlot() {
    if (bySlot.size() >= MAX_SLOT) {
      bySlot
          .entrySet()
          .removeIf(
              e -> {
                long first = (long) e.getKey() << FRAME_SLOT_SHIFT;
                boolean idle = framePins.allEqual(first, first + (1L << FRAME_SLOT_SHIFT) - 1, 0);
                if (idle) {
                  slots.remove(e.getValue());
                }
                return idle;
              });
    }
    for (int s = 1; s <= MAX_SLOT; s++) {
      if (!bySlot.containsKey(s)) {
        return s;
      }
    }
    throw ErrnoException.of(
        ENOMEM, "all " + MAX_SLOT + " emulated address spaces have pinned " + "pages");
  }

  /** Address spaces holding a slot (a test's view of the bound above). */
  synchronized int addressSpaces() {
    return bySlot.size();
  }

  /**
   * Whether {@code va} can be a user address (below 2^56, the top of the largest x86-64 user
   * address space): only those have page frames, and physical addresses keep just those bits.
   */
  public static boolean isUserAddress(long va) {
    return va >>> (FRAME_SLOT_SHIFT + PageSource.PAGE_SHIFT) == 0;
  }

  /** The emulated physical address of byte {@code va} of {@code memory}. */
  public long physicalAddress(UserMemory memory, long va) {
    return ((long) slot(memory) << (FRAME_SLOT_SHIFT + PageSource.PAGE_SHIFT))
        | (va & ((1L << (FRAME_SLOT_SHIFT + PageSource.PAGE_SHIFT)) - 1));
  }

  /** The address space a physical address belongs to, or null. */
  public synchronized UserMemory memoryOf(long pa) {
    return bySlot.get((int) (pa >>> (FRAME_SLOT_SHIFT + PageSource.PAGE_SHIFT)));
  }

  /** The user address a physical address stands for. */
  public static long virtualAddress(long pa) {
    return pa & ((1L << (FRAME_SLOT_SHIFT + PageSource.PAGE_SHIFT)) - 1);
  }

  private long frame(UserMemory memory, long va) {
    return physicalAddress(memory, va) >>> PageSource.PAGE_SHIFT;
  }

  /** Adds {@code delta} pins to the frames of {@code pages} pages from {@code va}. */
  synchronized void pinFrames(UserMemory memory, long va, long pages, int delta) {
    long first = frame(memory, va);
    framePins.add(first, first + pages - 1, delta, (a, b) -> {});
  }

  /** The pin count of the frame holding {@code va} (MD_CHECK_REFS). */
  public synchronized long pinCount(UserMemory memory, long va) {
    return framePins.get(frame(memory, va));
  }

  /** How many of the {@code pages} pages from {@code va} of {@code memory} are pinned. */
  public synchronized long pinnedPages(UserMemory memory, long va, long pages) {
    long first = frame(memory, va);
    return pages <= 0 ? 0 : framePins.countNonZero(first, first + pages - 1);
  }

  /** Sum of every frame's pin count: 0 when nothing is pinned anywhere. */
  public synchronized long totalPins() {
    return framePins.total();
  }

  /**
   * Charges {@code pages} newly pinned pages to the source's account (pages.c: do_update_pinned()):
   * ENOMEM, with nothing charged, if that would exceed the owner's RLIMIT_MEMLOCK.
   */
  synchronized void charge(PageSource source, long pages) {
    long[] account = account(source);
    if (account == null) {
      return;
    }
    long limit = source.owner.memlockLimit();
    if (limit >= 0 && account[0] + pages > limit >>> PageSource.PAGE_SHIFT) {
      throw ErrnoException.of(
          ENOMEM,
          "RLIMIT_MEMLOCK "
              + limit
              + " exceeded: "
              + account[0]
              + " pages locked, "
              + pages
              + " more needed");
    }
    account[0] += pages;
  }

  synchronized void uncharge(PageSource source, long pages) {
    long[] account = account(source);
    if (account != null) {
      account[0] -= pages;
    }
  }

  private long[] account(PageSource source) {
    return switch (source.accounting) {
      case NONE -> null;
      case USER -> userLocked.computeIfAbsent(source.owner.uid(), k -> new long[1]);
      case MM -> processLocked.computeIfAbsent(source.owner.pid(), k -> new long[1]);
    };
  }

  /** Pages charged to user {@code uid} (USER accounting). */
  public synchronized long lockedPagesOfUser(int uid) {
    long[] a = userLocked.get(uid);
    return a == null ? 0 : a[0];
  }

  /** Pages charged to process {@code pid} (MM accounting). */
  public synchronized long lockedPagesOfProcess(int pid) {
    long[] a = processLocked.get(pid);
    return a == null ? 0 : a[0];
  }

  /** Pages charged to every account together: 0 when nothing is pinned anywhere. */
  public synchronized long totalCharged() {
    long sum = 0;
    for (long[] a : userLocked.values()) {
      sum += a[0];
    }
    for (long[] a : processLocked.values()) {
      sum += a[0];
    }
    return sum;
  }

  /** Every account with pages charged: users, then processes, each ascending by id. */
  public synchronized List<Snapshot.Account> accounts() {
    List<Snapshot.Account> out = new ArrayList<>();
    new TreeMap<>(userLocked)
        .forEach(
            (uid, a) -> {
              if (a[0] != 0) {
                out.add(new Snapshot.Account(Snapshot.AccountKind.USER, uid, a[0]));
              }
            });
    new TreeMap<>(processLocked)
        .forEach(
            (pid, a) -> {
              if (a[0] != 0) {
                out.add(new Snapshot.Account(Snapshot.AccountKind.PROCESS, pid, a[0]));
              }
            });
    return out;
  }

  synchronized int tempMemoryLimit() {
    return tempMemoryLimit;
  }

  synchronized void setTempMemoryLimit(int limit) {
    tempMemoryLimit = limit;
  }
}
