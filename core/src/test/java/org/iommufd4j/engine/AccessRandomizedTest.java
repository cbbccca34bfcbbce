package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.uapi.IommuHwptAlloc.IOMMU_HWPT_DATA_NONE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_ACCESS_RW_SLOW_PATH;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_ACCESS_RW_WRITE;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_WRITE;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.iommufd4j.Errno;
import org.iommufd4j.memory.SimulatedMemory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Seeded random sequences of MAP, UNMAP, COPY, access pins and unpins, access reads and writes, and
 * a mock domain coming and going, each checked against a deliberately simple model (io_pagetable.c;
 * pages.c: iopt_area_fill_domains(); device.c: iommufd_access_*(); selftest.c:
 * iommufd_test_create_access(), iommufd_test_access_item_destroy(), iommufd_test_access_pages(),
 * iommufd_test_access_rw()). After every step: the predicted errno, the engine invariants, and the
 * pin count of every page of the memory: the number of page sources (MAPs) that need it, where a
 * page is needed when an area stored in a domain or an access pin covers it. Memory-lock charges
 * must equal the pinned pages. The seed is {@code -Dseed} (default 1234) and appears in every
 * failure message.
 */
class AccessRandomizedTest {
  private static final long SEED = Long.getLong("seed", 1234L);
  private static final int SEQUENCES = 24;
  private static final int STEPS = 300;
  private static final long PAGE = 4096;
  private static final int BUFFERS = 4;
  private static final int BUFFER_PAGES = 16;
  private static final int SLOTS = 48;
  private static final int UID = 1000;
  private static final int A = 1;
  private static final int B = 2;
  private static final long[] WINDOW = {0, 0x100_0000L, 0x10_0000L}; // by IOAS id

  static IntStream sequences() {
    return IntStream.range(0, SEQUENCES);
  }

  @ParameterizedTest(name = "sequence {0}")
  @MethodSource("sequences")
  void randomSequenceKeepsPinsExact(int sequence) {
    new Run(SEED + sequence).run();
  }

  /** One map of one buffer: a page source ({@code serial} tells two MAPs of one range apart). */
  private record Source(
      int serial, int buffer, long va, long pages, boolean writable, boolean pinnable) {}

  private record ModelArea(long iova, long length, Source source, long offset, int prot) {
    long last() {
      return iova + length - 1;
    }
  }

  private record Portion(Source source, long first, long last) {}

  private record Item(long iova, long length, List<Portion> portions) {}

  /** The part of one area a walk covers. */
  private record Step(ModelArea area, long from, long to) {}

  private static final class Run {
    final long seed;
    final SplittableRandom random;
    final Host host = new Host();
    final VirtualFileTable files = new VirtualFileTable();
    final Context ctx = new Context(host, files, true, false);
    final SimulatedMemory memory = SimulatedMemory.create();
    final Caller caller = new Caller(memory, 77, UID, true, false, -1);
    final AccessTestCommands ops = ctx.selftest().accesses();
    final long[] buffers = new long[BUFFERS];
    final long scratch;
    final Map<Integer, TreeMap<Long, ModelArea>> areas = new HashMap<>();

    /** access fd -> its IOAS; items by fd, in id order; next item id by fd. */
    final Map<Integer, Integer> accessIoas = new LinkedHashMap<>();

    final Map<Integer, Map<Integer, Item>> items = new HashMap<>();
    final Map<Integer, Integer> nextItem = new HashMap<>();
    final Map<Integer, Boolean> pinning = new HashMap<>();
    Integer stdev;

    /** The mock device's DEVICE id while {@link #stdev} lives, for a second, explicit domain. */
    int idev;

    /** An explicit paging HWPT on IOAS A: the second domain. */
    Integer hwpt2;

    String op = "setup";
    int step;

    Run(long seed) {
      this.seed = seed;
      this.random = new SplittableRandom(seed);
      for (int b = 0; b < BUFFERS; b++) {
        buffers[b] = memory.allocate(BUFFER_PAGES * PAGE, b != BUFFERS - 1); // last: read-only
        byte[] content = new byte[(int) (BUFFER_PAGES * PAGE)];
        random.nextBytes(content);
        memory.putBytes(buffers[b], content);
      }
      scratch = memory.allocate(8 * PAGE, true);
    }

    String where() {
      return "seed=" + seed + " (-Dseed=" + SEED + ") step=" + step + " op=" + op;
    }

    void run() {
      assertThat(ctx.ioas().alloc(0, id -> true)).isEqualTo(A);
      assertThat(ctx.ioas().alloc(0, id -> true)).isEqualTo(B);
      areas.put(A, new TreeMap<>());
      areas.put(B, new TreeMap<>());
      createAccess(A, true);
      createAccess(A, false);
      createAccess(B, true);
      for (step = 0; step < STEPS; step++) {
        int dice = random.nextInt(100);
        if (dice < 22) {
          map();
        } else if (dice < 34) {
          unmap();
        } else if (dice < 44) {
          copy();
        } else if (dice < 66) {
          pin();
        } else if (dice < 78) {
          unpin();
        } else if (dice < 95) {
          rw();
        } else if (random.nextBoolean()) {
          toggleDomain();
        } else {
          toggleSecondDomain();
        }
        check();
      }
      op = "close";
      for (int fd : accessIoas.keySet()) {
        assertThat(files.close(fd)).as(where()).isTrue();
      }
      ctx.close();
      assertThat(ctx.isTornDown()).as(where()).isTrue();
      assertThat(host.totalPins()).as(where()).isZero();
      assertThat(host.lockedPagesOfUser(UID)).as(where()).isZero();
    }

    void createAccess(int ioas, boolean pin) {
      int fd = ops.createAccess(ioas, pin ? 1 : 0, f -> true);
      accessIoas.put(fd, ioas);
      items.put(fd, new LinkedHashMap<>());
      nextItem.put(fd, 0);
      pinning.put(fd, pin);
    }

    /** Runs {@code call}; fails unless it ends with {@code expected} (null = success). */
    void expect(Errno expected, Runnable call) {
      Errno got = null;
      try {
        call.run();
      } catch (ErrnoException e) {
        got = e.errno();
      }
      assertThat(got).as(where()).isEqualTo(expected);
    }

    int anyIoas() {
      return random.nextBoolean() ? A : B;
    }

    long slotIova(int ioas, int slot) {
      return WINDOW[ioas] + slot * PAGE;
    }

    boolean overlaps(int ioas, long iova, long last) {
      Map.Entry<Long, ModelArea> below = areas.get(ioas).floorEntry(last);
      return below != null && below.getValue().last() >= iova;
    }

    // ---- operations -------------------------------------------------------------------------

    void map() {
      int ioas = anyIoas();
      int b = random.nextInt(BUFFERS);
      int firstPage = random.nextInt(BUFFER_PAGES);
      int pages = 1 + random.nextInt(Math.min(4, BUFFER_PAGES - firstPage));
      long iova = slotIova(ioas, random.nextInt(SLOTS - pages + 1));
      boolean write = random.nextInt(4) != 0;
      int prot =
          write
              ? Area.PROT_READ | Area.PROT_WRITE
              : (random.nextInt(5) == 0 ? Area.PROT_WRITE : Area.PROT_READ);
      int flags =
          IOMMU_IOAS_MAP_FIXED_IOVA
              | ((prot & Area.PROT_READ) != 0 ? IOMMU_IOAS_MAP_READABLE : 0)
              | ((prot & Area.PROT_WRITE) != 0 ? IOMMU_IOAS_MAP_WRITEABLE : 0);
      long va = buffers[b] + firstPage * PAGE;
      long length = pages * PAGE;
      boolean writable = (prot & Area.PROT_WRITE) != 0;
      Source source = new Source(step, b, va, pages, writable, !(writable && b == BUFFERS - 1));
      op =
          "map ioas="
              + ioas
              + " iova=0x"
              + Long.toHexString(iova)
              + " buffer="
              + b
              + " page="
              + firstPage
              + " pages="
              + pages
              + " prot="
              + prot;
      Errno expected = null;
      if (overlaps(ioas, iova, iova + length - 1)) {
        expected = Errno.EEXIST;
      } else if (ioas == A && hasDomain() && !source.pinnable()) {
        expected = Errno.EFAULT;
      }
      expect(
          expected, () -> ctx.ioas().map(caller, new MapRequest(flags, ioas, 0, va, length, iova)));
      if (expected == null) {
        areas.get(ioas).put(iova, new ModelArea(iova, length, source, 0, prot));
      }
    }

    void unmap() {
      int ioas = anyIoas();
      TreeMap<Long, ModelArea> m = areas.get(ioas);
      long iova;
      long length;
      List<ModelArea> list = new ArrayList<>(m.values());
      if (!list.isEmpty() && random.nextInt(4) != 0) {
        ModelArea first = list.get(random.nextInt(list.size()));
        ModelArea last =
            random.nextBoolean()
                ? first
                : list.get(Math.min(list.size() - 1, list.indexOf(first) + random.nextInt(3)));
        iova = first.iova();
        length = last.last() - iova + 1;
      } else {
        int slot = random.nextInt(SLOTS);
        iova = slotIova(ioas, slot);
        length = (1 + random.nextInt(SLOTS - slot)) * PAGE;
      }
      long lastByte = iova + length - 1;
      op =
          "unmap ioas="
              + ioas
              + " iova=0x"
              + Long.toHexString(iova)
              + " length=0x"
              + Long.toHexString(length);
      Errno expected = null;
      long removed = 0;
      Map.Entry<Long, ModelArea> straddle = m.lowerEntry(iova);
      if (straddle != null && straddle.getValue().last() >= iova) {
        expected = Errno.ENOENT; // the first area found begins before iova
      } else {
        for (ModelArea a : new ArrayList<>(m.subMap(iova, true, lastByte, true).values())) {
          if (a.last() > lastByte) {
            expected = Errno.ENOENT;
            break;
          }
          dropItemsIntersecting(ioas, a.iova(), a.last());
          m.remove(a.iova());
          removed += a.length();
        }
      }
      if (removed == 0) {
        expected = Errno.ENOENT;
      }
      long[] got = {-1};
      expect(expected, () -> got[0] = ctx.ioas().unmap(ioas, iova, length));
      if (expected == null) {
        assertThat(got[0]).as(where()).isEqualTo(removed);
      }
    }

    void dropItemsIntersecting(int ioas, long iova, long last) {
      for (Map.Entry<Integer, Integer> e : accessIoas.entrySet()) {
        if (e.getValue() == ioas) {
          items
              .get(e.getKey())
              .values()
              .removeIf(it -> it.iova() <= last && it.iova() + it.length() - 1 >= iova);
        }
      }
    }

    /**
     * The contiguous walk (io_pagetable.h: iopt_for_each_contig_area()): the portions, or null when
     * it ends early.
     */
    List<Step> walk(int ioas, long iova, long last) {
      TreeMap<Long, ModelArea> m = areas.get(ioas);
      Map.Entry<Long, ModelArea> e = m.floorEntry(iova);
      if (e == null || e.getValue().last() < iova) {
        return null;
      }
      List<Step> out = new ArrayList<>();
      ModelArea a = e.getValue();
      long pos = iova;
      while (true) {
        out.add(new Step(a, pos, Math.min(a.last(), last)));
        if (a.last() >= last) {
          return out;
        }
        pos = a.last() + 1;
        a = m.get(pos);
        if (a == null) {
          return null;
        }
      }
    }

    void copy() {
      int src = anyIoas();
      int dst = anyIoas();
      List<ModelArea> list = new ArrayList<>(areas.get(src).values());
      long srcIova =
          list.isEmpty() || random.nextInt(5) == 0
              ? slotIova(src, random.nextInt(SLOTS))
              : list.get(random.nextInt(list.size())).iova() + random.nextInt(2) * PAGE;
      int pages = 1 + random.nextInt(4);
      long length = pages * PAGE;
      long dstIova = slotIova(dst, random.nextInt(SLOTS - pages + 1));
      boolean write = random.nextBoolean();
      int flags =
          IOMMU_IOAS_MAP_FIXED_IOVA
              | IOMMU_IOAS_MAP_READABLE
              | (write ? IOMMU_IOAS_MAP_WRITEABLE : 0);
      op =
          "copy "
              + src
              + ":0x"
              + Long.toHexString(srcIova)
              + " -> "
              + dst
              + ":0x"
              + Long.toHexString(dstIova)
              + " pages="
              + pages
              + " write="
              + write;
      List<Step> steps = walk(src, srcIova, srcIova + length - 1);
      Errno expected = null;
      if (steps == null) {
        expected = Errno.ENOENT;
      } else if (overlaps(dst, dstIova, dstIova + length - 1)) {
        expected = Errno.EEXIST;
      } else if (write && steps.stream().anyMatch(s -> !s.area().source().writable())) {
        expected = Errno.EPERM;
      } else if (dst == A
          && hasDomain()
          && steps.stream().anyMatch(s -> !s.area().source().pinnable())) {
        expected = Errno.EFAULT;
      }
      expect(
          expected,
          () ->
              ctx.ioas().copy(caller, new CopyRequest(flags, dst, src, length, dstIova, srcIova)));
      if (expected == null) {
        long at = dstIova;
        int prot = Area.PROT_READ | (write ? Area.PROT_WRITE : 0);
        for (Step s : steps) {
          long bytes = s.to() - s.from() + 1;
          ModelArea a = s.area();
          areas
              .get(dst)
              .put(
                  at,
                  new ModelArea(at, bytes, a.source(), a.offset() + (s.from() - a.iova()), prot));
          at += bytes;
        }
      }
    }

    int anyAccess(boolean pinningOnly) {
      List<Integer> fds =
          accessIoas.keySet().stream().filter(fd -> !pinningOnly || pinning.get(fd)).toList();
      return fds.get(random.nextInt(fds.size()));
    }

    /** A start IOVA: mostly inside an area of {@code ioas}, sometimes anywhere in the window. */
    long someIova(int ioas, boolean pageAligned) {
      List<ModelArea> list = new ArrayList<>(areas.get(ioas).values());
      if (list.isEmpty() || random.nextInt(6) == 0) {
        return slotIova(ioas, random.nextInt(SLOTS));
      }
      ModelArea a = list.get(random.nextInt(list.size()));
      long off = random.nextLong(a.length());
      return a.iova() + (pageAligned ? off & -PAGE : off);
    }

    void pin() {
      int fd = anyAccess(true);
      int ioas = accessIoas.get(fd);
      long iova = someIova(ioas, random.nextInt(8) != 0);
      long length =
          (1 + random.nextInt(4)) * PAGE - (random.nextBoolean() ? random.nextInt(4000) : 0);
      boolean write = random.nextBoolean();
      op =
          "pin fd="
              + fd
              + " iova=0x"
              + Long.toHexString(iova)
              + " length=0x"
              + Long.toHexString(length)
              + " write="
              + write;
      List<Step> steps = walkForAccess(ioas, iova, iova + length - 1);
      Errno expected = null;
      List<Portion> portions = new ArrayList<>();
      for (Step s : steps) {
        ModelArea a = s.area();
        long startByte = a.offset() + (s.from() - a.iova());
        if (startByte % PAGE != 0) {
          expected = Errno.EINVAL;
        } else if ((a.prot() & (write ? Area.PROT_WRITE : Area.PROT_READ)) == 0
            || (write && !a.source().writable())) {
          expected = Errno.EPERM;
        } else if (!a.source().pinnable()) {
          expected = Errno.EFAULT;
        }
        if (expected != null) {
          break;
        }
        portions.add(
            new Portion(a.source(), startByte / PAGE, (a.offset() + (s.to() - a.iova())) / PAGE));
      }
      if (expected == null && !reaches(steps, iova + length - 1)) {
        expected = Errno.ENOENT;
      }
      long uptr = 0;
      if (expected == null && random.nextBoolean()) {
        Step first = steps.getFirst();
        uptr =
            first.area().source().va()
                + first.area().offset()
                + (first.from() - first.area().iova());
        expected = checkPages(uptr, portions);
      }
      long u = uptr;
      int[] id = {-1};
      int flags = write ? MOCK_FLAGS_ACCESS_WRITE : 0;
      expect(
          expected,
          () ->
              ops.accessPages(
                  caller,
                  fd,
                  flags,
                  iova,
                  length,
                  u,
                  i -> {
                    id[0] = i;
                    return true;
                  }));
      if (expected == null) {
        int want = nextItem.merge(fd, 1, Integer::sum) - 1;
        assertThat(id[0]).as(where()).isEqualTo(want);
        items.get(fd).put(want, new Item(iova, length, portions));
      }
    }

    /**
     * Page k of the pin must be the caller's page at {@code uptr + k * 4096}; EFAULT where that
     * address is not mapped, EBADE where it is another page (selftest.c:
     * iommufd_test_access_pages()).
     */
    Errno checkPages(long uptr, List<Portion> portions) {
      long k = 0;
      for (Portion p : portions) {
        for (long i = p.first(); i <= p.last(); i++, k++) {
          long va = (uptr + k * PAGE) & -PAGE;
          if (!isMapped(va)) {
            return Errno.EFAULT;
          }
          if (va != p.source().va() + i * PAGE) {
            return Errno.EBADE;
          }
        }
      }
      return null;
    }

    boolean isMapped(long va) {
      for (long b : buffers) {
        if (va >= b && va < b + BUFFER_PAGES * PAGE) {
          return true;
        }
      }
      return va >= scratch && va < scratch + 8 * PAGE;
    }

    /** The walk's portions as far as it goes (possibly none). */
    List<Step> walkForAccess(int ioas, long iova, long last) {
      TreeMap<Long, ModelArea> m = areas.get(ioas);
      List<Step> out = new ArrayList<>();
      Map.Entry<Long, ModelArea> e = m.floorEntry(iova);
      if (e == null || e.getValue().last() < iova) {
        return out;
      }
      ModelArea a = e.getValue();
      long pos = iova;
      while (a != null) {
        out.add(new Step(a, pos, Math.min(a.last(), last)));
        if (a.last() >= last) {
          break;
        }
        pos = a.last() + 1;
        a = m.get(pos);
      }
      return out;
    }

    static boolean reaches(List<Step> steps, long last) {
      return !steps.isEmpty() && steps.getLast().area().last() >= last;
    }

    void unpin() {
      int fd = anyAccess(true);
      Map<Integer, Item> its = items.get(fd);
      int id;
      if (its.isEmpty() || random.nextInt(6) == 0) {
        id = random.nextInt(nextItem.get(fd) + 2);
      } else {
        List<Integer> ids = new ArrayList<>(its.keySet());
        id = ids.get(random.nextInt(ids.size()));
      }
      op = "unpin fd=" + fd + " item=" + id;
      Errno expected = its.containsKey(id) ? null : Errno.ENOENT;
      expect(expected, () -> ops.destroyAccessPages(fd, id));
      its.remove(id);
    }

    void rw() {
      int fd = anyAccess(false);
      int ioas = accessIoas.get(fd);
      long iova = someIova(ioas, false);
      long length = 1 + random.nextInt(3 * (int) PAGE);
      boolean write = random.nextBoolean();
      boolean slow = random.nextBoolean();
      op =
          "rw fd="
              + fd
              + " iova=0x"
              + Long.toHexString(iova)
              + " length=0x"
              + Long.toHexString(length)
              + " write="
              + write
              + " slow="
              + slow;
      List<Step> steps = walkForAccess(ioas, iova, iova + length - 1);
      Errno expected = null;
      for (Step s : steps) {
        ModelArea a = s.area();
        if ((a.prot() & (write ? Area.PROT_WRITE : Area.PROT_READ)) == 0
            || (write && !a.source().writable())) {
          expected = Errno.EPERM;
        } else if (write && a.source().buffer() == BUFFERS - 1) {
          expected = Errno.EFAULT;
        }
        if (expected != null) {
          break;
        }
      }
      if (expected == null && !reaches(steps, iova + length - 1)) {
        expected = Errno.ENOENT;
      }
      byte[] data = new byte[(int) length];
      random.nextBytes(data);
      if (write) {
        memory.putBytes(scratch, data);
      }
      int flags = (write ? MOCK_ACCESS_RW_WRITE : 0) | (slow ? MOCK_ACCESS_RW_SLOW_PATH : 0);
      expect(expected, () -> ops.accessRw(caller, fd, iova, length, scratch, flags));
      if (expected != null) {
        return;
      }
      byte[] mapped = new byte[(int) length];
      int at = 0;
      for (Step s : steps) {
        ModelArea a = s.area();
        int n = (int) (s.to() - s.from() + 1);
        long va = a.source().va() + a.offset() + (s.from() - a.iova());
        System.arraycopy(memory.getBytes(va, n), 0, mapped, at, n);
        at += n;
      }
      byte[] expectedBytes = write ? data : mapped;
      assertThat(memory.getBytes(scratch, (int) length)).as(where()).isEqualTo(expectedBytes);
      assertThat(mapped).as(where()).isEqualTo(expectedBytes);
    }

    void toggleDomain() {
      if (stdev != null) {
        op = "destroy mock device " + stdev;
        ctx.destroy(stdev);
        stdev = null;
        return;
      }
      op = "add mock domain";
      boolean fails =
          !hasDomain() && areas.get(A).values().stream().anyMatch(a -> !a.source().pinnable());
      Selftest.MockDomainIds[] ids = {null};
      expect(
          fails ? Errno.EFAULT : null, () -> ids[0] = ctx.selftest().mockDomain(A, 0, r -> true));
      if (!fails) {
        stdev = ids[0].stdevId();
        idev = ids[0].idevId();
      }
    }

    /** A second domain (explicit HWPT_ALLOC on A): it copies the frames, never pins anew. */
    void toggleSecondDomain() {
      if (hwpt2 != null) {
        op = "destroy explicit hwpt " + hwpt2;
        ctx.destroy(hwpt2);
        hwpt2 = null;
        return;
      }
      if (stdev == null) {
        return; // no device to allocate it for
      }
      op = "alloc explicit hwpt on A for device " + idev;
      int[] id = {0};
      expect(
          null,
          () ->
              id[0] =
                  ctx.hwpt()
                      .alloc(
                          new HwptAllocRequest(0, idev, A, 0, IOMMU_HWPT_DATA_NONE, 0, 0),
                          () -> 0,
                          r -> true));
      hwpt2 = id[0];
    }

    boolean hasDomain() {
      return stdev != null || hwpt2 != null;
    }

    // ---- the check ----------------------------------------------------------------------------

    void check() {
      assertThat(ctx.checkInvariants()).as(where()).isEmpty();
      Map<Source, BitSet> needed = new HashMap<>();
      if (hasDomain()) {
        for (ModelArea a : areas.get(A).values()) {
          needed
              .computeIfAbsent(a.source(), k -> new BitSet())
              .set((int) (a.offset() / PAGE), (int) ((a.offset() + a.length() - 1) / PAGE) + 1);
        }
      }
      for (Map<Integer, Item> its : items.values()) {
        for (Item it : its.values()) {
          for (Portion p : it.portions()) {
            needed
                .computeIfAbsent(p.source(), k -> new BitSet())
                .set((int) p.first(), (int) p.last() + 1);
          }
        }
      }
      long charged = 0;
      Map<Long, Integer> expected = new HashMap<>();
      for (Map.Entry<Source, BitSet> e : needed.entrySet()) {
        charged += e.getValue().cardinality();
        e.getValue().stream()
            .forEach(i -> expected.merge(e.getKey().va() + i * PAGE, 1, Integer::sum));
      }
      for (long b : buffers) {
        for (int p = 0; p < BUFFER_PAGES; p++) {
          long va = b + p * PAGE;
          assertThat(host.pinCount(memory, va))
              .as("pins of page 0x%s; %s", Long.toHexString(va), where())
              .isEqualTo((long) expected.getOrDefault(va, 0));
        }
      }
      assertThat(host.lockedPagesOfUser(UID)).as("charged pages; " + where()).isEqualTo(charged);
    }
  }
}
