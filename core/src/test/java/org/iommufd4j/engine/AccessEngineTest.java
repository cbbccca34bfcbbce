package org.iommufd4j.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_FIXED_IOVA;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_READABLE;
import static org.iommufd4j.uapi.IommuIoasMap.IOMMU_IOAS_MAP_WRITEABLE;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.iommufd4j.Errno;
import org.iommufd4j.memory.SimulatedMemory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The engine's access API (device.c: iommufd_access_*()) with drivers the selftest cannot play: one
 * that never lets go, one that lets go late, several at once. Memory is simulated; every test ends
 * with the context torn down and no pin or charge left.
 */
class AccessEngineTest {
  private static final long PAGE = 4096;
  private static final int RW =
      IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE;
  private static final int UID = 1000;

  private final Host host = new Host();
  private final VirtualFileTable files = new VirtualFileTable();
  private final Context ctx = new Context(host, files, true, false);
  private final SimulatedMemory memory = SimulatedMemory.create();
  private final Caller caller = new Caller(memory, 4321, UID, true, false, -1);
  private final long buffer = memory.allocate(16 * PAGE, true);
  private final List<Access> accesses = new ArrayList<>();

  @AfterEach
  void tearDownAndCheckNothingLeaked() {
    assertThat(ctx.checkInvariants()).as("engine invariants").isEmpty();
    accesses.forEach(Access::close);
    files.closeAll();
    ctx.close();
    assertThat(ctx.isTornDown()).isTrue();
    assertThat(ctx.objectCount()).isZero();
    assertThat(host.totalPins()).isZero();
    assertThat(host.lockedPagesOfUser(UID)).isZero();
  }

  private int ioas() {
    return ctx.ioas().alloc(0, id -> true);
  }

  private void map(int ioas, long iova, long va, long length) {
    ctx.ioas().map(caller, new MapRequest(RW, ioas, 0, va, length, iova));
  }

  private Access access(int ioas, boolean pin, Access.UnmapCallback callback) {
    Access a = Access.create(ctx, pin, callback);
    accesses.add(a);
    a.attach(ioas);
    return a;
  }

  private static void assertErrno(Errno errno, Runnable call) {
    assertThatThrownBy(call::run)
        .isInstanceOf(ErrnoException.class)
        .extracting(e -> ((ErrnoException) e).errno())
        .isEqualTo(errno);
  }

  private long pins(long va) {
    return host.pinCount(memory, va);
  }

  /** A driver that keeps a list of its pins and drops the intersecting ones when told to. */
  private static final class Driver implements Access.UnmapCallback {
    final List<long[]> pinned = new ArrayList<>();
    final List<long[]> notified = new ArrayList<>();

    /** Rounds of callbacks to ignore before cooperating (Integer.MAX_VALUE: never). */
    int ignoreRounds;

    void pin(Access a, long iova, long length) {
      a.pin(iova, length, false);
      pinned.add(new long[] {iova, length});
    }

    @Override
    public void unmap(Access access, long iova, long last) {
      notified.add(new long[] {iova, last});
      if (ignoreRounds > 0) {
        ignoreRounds--;
        return;
      }
      pinned.removeIf(
          p -> {
            boolean hit = Unsigned.intersects(iova, last, p[0], p[0] + p[1] - 1);
            if (hit) {
              access.unpin(p[0], p[1]);
            }
            return hit;
          });
    }
  }

  // ---- unmap notification (device.c: iommufd_access_notify_unmap()) -----------------------------

  @Test
  void unmapFailsWithEdeadlkAfter101RoundsWhenAnAccessNeverUnpins() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, 4 * PAGE);
    Driver stubborn = new Driver();
    stubborn.ignoreRounds = Integer.MAX_VALUE;
    Access a = access(ioas, true, stubborn);
    a.pin(0x101000, PAGE, false);

    assertErrno(Errno.EDEADLK, () -> ctx.ioas().unmap(ioas, 0x100000, 4 * PAGE));

    assertThat(stubborn.notified)
        .hasSize(101)
        .allSatisfy(r -> assertThat(r).containsExactly(0x100000, 0x103fff));
    assertErrno(Errno.EINVAL, () -> a.pin(0x102000, PAGE, false));
    assertErrno(
        Errno.EINVAL, () -> a.rw(0x100000, MemorySegment.ofArray(new byte[4]), false, false));
    assertThat(pins(buffer + PAGE)).isEqualTo(1);
    a.unpin(0x101000, PAGE);
    assertThat(ctx.ioas().unmap(ioas, 0x100000, 4 * PAGE)).isEqualTo(4 * PAGE);
  }

  @Test
  void anAccessThatLetsGoInRound100IsInTimeButRound101IsNot() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, PAGE);
    map(ioas, 0x200000, buffer + PAGE, PAGE);
    Driver late = new Driver();
    Access a = access(ioas, true, late);

    late.pin(a, 0x100000, PAGE);
    late.ignoreRounds = 99;
    assertThat(ctx.ioas().unmap(ioas, 0x100000, PAGE)).isEqualTo(PAGE);
    assertThat(late.notified).hasSize(100);

    late.pin(a, 0x200000, PAGE);
    late.ignoreRounds = 100;
    late.notified.clear();
    assertErrno(Errno.EDEADLK, () -> ctx.ioas().unmap(ioas, 0x200000, PAGE));
    assertThat(late.notified).hasSize(101);
    assertThat(ctx.ioas().unmap(ioas, 0x200000, PAGE)).as("the pins are gone now").isEqualTo(PAGE);
  }

  @Test
  void edeadlkKeepsTheAreasRemovedBeforeIt() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, PAGE);
    map(ioas, 0x200000, buffer + PAGE, PAGE);
    Driver stubborn = new Driver();
    stubborn.ignoreRounds = Integer.MAX_VALUE;
    Access a = access(ioas, true, stubborn);
    a.pin(0x200000, PAGE, false);

    assertErrno(Errno.EDEADLK, () -> ctx.ioas().unmap(ioas, 0, -1L));

    assertErrno(Errno.ENOENT, () -> a.pin(0x100000, PAGE, false));
    a.unpin(0x200000, PAGE);
  }

  @Test
  void everyAttachedAccessIsToldAboutThePinnedAreaWithoutTheIoasLocked() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, 2 * PAGE);
    map(ioas, 0x102000, buffer + 2 * PAGE, 2 * PAGE);
    IoasObject object = ctx.ioas().lookup(ioas);
    List<long[]> seenByPlain = new ArrayList<>();
    access(
        ioas,
        false,
        (acc, iova, last) -> {
          assertThat(object.lock.isHeldByCurrentThread()).isFalse();
          seenByPlain.add(new long[] {iova, last});
        });
    Driver driver = new Driver();
    Access pinning = access(ioas, true, driver);
    driver.pin(pinning, 0x102000, PAGE);

    assertThat(ctx.ioas().unmap(ioas, 0x100000, 4 * PAGE)).isEqualTo(4 * PAGE);

    assertThat(seenByPlain)
        .singleElement()
        .satisfies(r -> assertThat(r).containsExactly(0x102000, 0x103fff));
    assertThat(driver.notified).hasSize(1);
    assertThat(driver.pinned).isEmpty();
  }

  @Test
  void aDriverMayUnpinFromAnotherThreadDuringTheCallback() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, PAGE);
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    AtomicBoolean held = new AtomicBoolean();
    Access a =
        access(
            ioas,
            true,
            (acc, iova, last) -> {
              if (!held.getAndSet(false)) {
                return;
              }
              Thread t =
                  Thread.ofPlatform()
                      .uncaughtExceptionHandler((thread, e) -> failures.add(e))
                      .start(() -> acc.unpin(0x100000, PAGE));
              try {
                t.join();
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            });
    a.pin(0x100000, PAGE, true);
    held.set(true);

    assertThat(ctx.ioas().unmap(ioas, 0x100000, PAGE)).isEqualTo(PAGE);
    assertThat(failures).isEmpty();
  }

  // ---- attach, replace, detach (device.c: iommufd_access_change_ioas()) -------------------------

  @Test
  void anIoasTakesAt65536Accesses() {
    int ioas = ioas();
    int other = ioas();
    for (int i = 0; i < IoPagetable.MAX_ACCESSES; i++) {
      access(ioas, false, (a, iova, last) -> {});
    }
    Access extra = Access.create(ctx, false, (a, iova, last) -> {});
    accesses.add(extra);

    assertErrno(Errno.EBUSY, () -> extra.attach(ioas));

    extra.attach(other);
    assertErrno(Errno.EBUSY, () -> extra.replace(ioas));
    accesses.getFirst().close();
    extra.replace(ioas);
    assertErrno(Errno.EBUSY, () -> access(other, false, (a, iova, last) -> {}).replace(ioas));
  }

  @Test
  void attachChecksInOrderAndTheIoasCannotBeDestroyedWhileAttached() {
    int ioas = ioas();
    Access a = Access.create(ctx, true, (acc, iova, last) -> {});
    accesses.add(a);
    assertErrno(Errno.ENOENT, () -> a.attach(ioas + 1));
    assertErrno(Errno.ENOENT, () -> a.replace(ioas));
    a.attach(ioas);
    assertErrno(Errno.EINVAL, () -> a.attach(ioas));
    assertErrno(Errno.EBUSY, () -> ctx.destroy(ioas));
    assertErrno(Errno.EBUSY, () -> ctx.destroy(a.id()));

    a.detach();
    a.detach();

    ctx.destroy(ioas);
  }

  @Test
  void aPinningAccessCannotJoinWhileAnAreaIsNotPageAligned() {
    int ioas = ioas();
    map(ioas, 0x100800, buffer + 0x800, 0x800);
    Access a = Access.create(ctx, true, (acc, iova, last) -> {});
    accesses.add(a);

    assertErrno(Errno.EADDRINUSE, () -> a.attach(ioas));

    assertThat(ctx.ioas().iovaRanges(ioas, 0).alignment()).isEqualTo(1);
    access(ioas, false, (acc, iova, last) -> {});
  }

  @Test
  void replaceAsksForEverythingAndReleasesWhatAStubbornDriverKept() {
    int from = ioas();
    int to = ioas();
    map(from, 0x100000, buffer, 4 * PAGE);
    Driver stubborn = new Driver();
    stubborn.ignoreRounds = Integer.MAX_VALUE;
    Access a = access(from, true, stubborn);
    a.pin(0x100000, 4 * PAGE, true);
    a.pin(0x101000, PAGE, false);

    a.replace(to);

    assertThat(stubborn.notified)
        .singleElement()
        .satisfies(r -> assertThat(r).containsExactly(0L, -1L));
    assertThat(host.totalPins()).isZero();
    assertThat(host.lockedPagesOfUser(UID)).isZero();
    assertErrno(Errno.EINVAL, () -> a.unpin(0x100000, 4 * PAGE));
    ctx.destroy(from);
  }

  @Test
  void duringAReplaceNewPinsFailButUnpinsReachTheOldIoas() {
    int from = ioas();
    int to = ioas();
    map(from, 0x100000, buffer, PAGE);
    map(to, 0x100000, buffer, PAGE);
    List<Errno> pinDuringReplace = new ArrayList<>();
    Access[] self = new Access[1];
    self[0] =
        access(
            from,
            true,
            (acc, iova, last) -> {
              try {
                acc.pin(0x100000, PAGE, false);
              } catch (ErrnoException e) {
                pinDuringReplace.add(e.errno());
              }
              acc.unpin(0x100000, PAGE);
            });
    self[0].pin(0x100000, PAGE, false);

    self[0].replace(to);

    assertThat(pinDuringReplace).containsExactly(Errno.ENOENT);
    assertThat(host.totalPins()).isZero();
    self[0].pin(0x100000, PAGE, false);
    assertThat(pins(buffer)).isEqualTo(1);
  }

  // ---- pin and unpin (device.c: iommufd_access_pin_pages(), iommufd_access_unpin_pages()) -------

  @Test
  void pinReturnsTheOwnersPageFramesInOrder() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer + 3 * PAGE, 2 * PAGE);
    map(ioas, 0x102000, buffer, PAGE);
    Access a = access(ioas, true, new Driver());

    long[] frames = a.pin(0x100000, 3 * PAGE - 1, false);

    assertThat(frames)
        .containsExactly(
            host.physicalAddress(memory, buffer + 3 * PAGE),
            host.physicalAddress(memory, buffer + 4 * PAGE),
            host.physicalAddress(memory, buffer));
    a.unpin(0x100000, 3 * PAGE - 1);
  }

  @Test
  void pinChecksComeInSpecOrder() {
    int ioas = ioas();
    Access plain = access(ioas, false, (acc, iova, last) -> {});
    Access detached = Access.create(ctx, true, (acc, iova, last) -> {});
    accesses.add(detached);

    assertErrno(Errno.EINVAL, () -> plain.pin(0, 0, false));
    assertErrno(Errno.EINVAL, () -> detached.pin(0, 0, false));
    assertErrno(Errno.EOVERFLOW, () -> detached.pin(-PAGE, PAGE + 1, false));
    assertErrno(Errno.ENOENT, () -> detached.pin(0, PAGE, false));
    assertErrno(
        Errno.ENOENT, () -> detached.rw(0, MemorySegment.ofArray(new byte[1]), false, false));
  }

  @Test
  void unpinMustRepeatAnEarlierPinExactly() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, 4 * PAGE);
    Access a = access(ioas, true, new Driver());
    a.pin(0x100000, 2 * PAGE, false);

    assertErrno(Errno.EINVAL, () -> a.unpin(0x100000, PAGE));
    assertErrno(Errno.EINVAL, () -> a.unpin(0x101000, PAGE));
    assertThat(pins(buffer)).isEqualTo(1);
    a.unpin(0x100000, 2 * PAGE);
    assertErrno(Errno.EINVAL, () -> a.unpin(0x100000, 2 * PAGE));
    assertThat(pins(buffer)).isZero();
  }

  @Test
  void overlappingPinsOfOneSourcePinEachPageOnceAndChargeItOnce() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, 8 * PAGE);
    int copy = ioas();
    ctx.ioas().copy(caller, new CopyRequest(RW, copy, ioas, 8 * PAGE, 0x500000, 0x100000));
    Access a = access(ioas, true, new Driver());
    Access b = access(ioas, true, new Driver());
    Access c = access(copy, true, new Driver());

    a.pin(0x100000, 3 * PAGE, false);
    a.pin(0x101000, 3 * PAGE, true);
    b.pin(0x100000, 3 * PAGE, false);
    c.pin(0x502000, 4 * PAGE, false);

    for (int p = 0; p < 8; p++) {
      assertThat(pins(buffer + p * PAGE)).as("page %d", p).isEqualTo(p < 6 ? 1 : 0);
    }
    assertThat(host.lockedPagesOfUser(UID)).isEqualTo(6);
    a.unpin(0x100000, 3 * PAGE);
    b.unpin(0x100000, 3 * PAGE);
    assertThat(pins(buffer)).isZero();
    assertThat(pins(buffer + PAGE)).isEqualTo(1);
    c.unpin(0x502000, 4 * PAGE);
    a.unpin(0x101000, 3 * PAGE);
    assertThat(host.lockedPagesOfUser(UID)).isZero();
  }

  @Test
  void aFailedPinReleasesThePortionsItAlreadyPinned() {
    int ioas = ioas();
    long holey = memory.allocate(4 * PAGE, true);
    map(ioas, 0x100000, holey, 2 * PAGE);
    map(ioas, 0x102000, holey + 2 * PAGE, 2 * PAGE);
    memory.unmap(holey + 3 * PAGE, PAGE);
    Access a = access(ioas, true, new Driver());

    assertErrno(Errno.EFAULT, () -> a.pin(0x100000, 4 * PAGE, false));

    assertThat(host.totalPins()).isZero();
    assertThat(ctx.checkInvariants()).isEmpty();
    a.pin(0x100000, 3 * PAGE, false);
    assertThat(host.totalPins()).isEqualTo(3);
    a.unpin(0x100000, 3 * PAGE);
  }

  @Test
  void aPinBeyondTheLockLimitFailsWithEnomemAndReleasesEverything() {
    Caller limited = new Caller(memory, 4321, UID, true, false, 3 * PAGE);
    int ioas = ioas();
    ctx.ioas().map(limited, new MapRequest(RW, ioas, 0, buffer, 2 * PAGE, 0x100000));
    ctx.ioas().map(limited, new MapRequest(RW, ioas, 0, buffer + 2 * PAGE, 2 * PAGE, 0x102000));
    Access a = access(ioas, true, new Driver());

    assertErrno(Errno.ENOMEM, () -> a.pin(0x100000, 4 * PAGE, false));

    assertThat(host.totalPins()).isZero();
    assertThat(host.lockedPagesOfUser(UID)).isZero();
    a.pin(0x101000, 2 * PAGE, false);
    assertThat(host.lockedPagesOfUser(UID)).isEqualTo(2);
    a.unpin(0x101000, 2 * PAGE);
  }

  @Test
  void pagesPinnedOnlyByAnAccessReadOneInCheckRefs() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, 4 * PAGE);
    Access a = access(ioas, true, new Driver());
    a.pin(0x101000, 2 * PAGE, true);

    ctx.selftest().checkRefs(caller, 2 * PAGE, buffer + PAGE, 1);
    ctx.selftest().checkRefs(caller, PAGE, buffer, 0);
    ctx.selftest().checkRefs(caller, PAGE, buffer + 3 * PAGE, 0);
    a.unpin(0x101000, 2 * PAGE);
    ctx.selftest().checkRefs(caller, 4 * PAGE, buffer, 0);
  }

  // ---- rw (device.c: iommufd_access_rw()) -------------------------------------------------------

  @Test
  void bothPathsReadAndWriteTheSameBytes() {
    int ioas = ioas();
    byte[] content = new byte[3 * (int) PAGE];
    for (int i = 0; i < content.length; i++) {
      content[i] = (byte) (i * 31 + 5);
    }
    memory.putBytes(buffer, content);
    map(ioas, 0x100000, buffer + 100, 2 * PAGE);
    map(ioas, 0x102000, buffer + 100 + 2 * PAGE, 100);
    Access a = access(ioas, false, (acc, iova, last) -> {});
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment fast = arena.allocate(2 * PAGE + 50);
      MemorySegment slow = arena.allocate(2 * PAGE + 50);
      a.rw(0x100030, fast, false, false);
      a.rw(0x100030, slow, false, true);
      assertThat(fast.mismatch(slow)).isEqualTo(-1);
      assertThat(fast.toArray(ValueLayout.JAVA_BYTE))
          .isEqualTo(Arrays.copyOfRange(content, 100 + 0x30, 100 + 0x30 + 2 * 4096 + 50));

      fast.fill((byte) 0x5a);
      a.rw(0x101ff0, fast.asSlice(0, 40), true, true);
      assertThat(memory.getBytes(buffer + 100 + 0x1ff0, 40)).containsOnly(0x5a);
    }
    assertThat(host.totalPins()).isZero();
  }

  @Test
  void rwOfMemoryThatIsGoneFailsWithEfault() {
    int ioas = ioas();
    long gone = memory.allocate(2 * PAGE, true);
    map(ioas, 0x100000, gone, 2 * PAGE);
    memory.unmap(gone + PAGE, PAGE);
    Access a = access(ioas, false, (acc, iova, last) -> {});
    MemorySegment data = MemorySegment.ofArray(new byte[16]);

    assertErrno(Errno.EFAULT, () -> a.rw(0x100ff8, data, false, false));
    assertErrno(Errno.EFAULT, () -> a.rw(0x100ff8, data, true, true));
    a.rw(0x100000, data, true, false);
  }

  // ---- lifetime (main.c: iommufd_object_remove(), iommufd_fops_release()) -----------------------

  @Test
  void theContextOutlivesItsCloseWhileAnAccessExists() {
    int ioas = ioas();
    map(ioas, 0x100000, buffer, PAGE);
    Access a = access(ioas, true, new Driver());
    a.pin(0x100000, PAGE, false);

    ctx.close();

    assertThat(ctx.isTornDown()).isFalse();
    assertThat(pins(buffer)).isEqualTo(1);
    int id = a.id();
    a.close();
    a.close();
    assertThat(ctx.isTornDown()).isTrue();
    assertThat(host.totalPins()).isZero();
    assertErrno(Errno.EBADF, () -> Access.create(ctx, false, (acc, iova, last) -> {}));
    assertThat(id).isEqualTo(2);
  }

  @Test
  void closingAnAccessFreesItsIdAndItCannotAttachAgain() {
    int ioas = ioas();
    Access a = access(ioas, false, (acc, iova, last) -> {});
    a.close();

    assertErrno(Errno.ENOENT, () -> ctx.destroy(a.id()));
    assertErrno(Errno.ENOENT, () -> a.attach(ioas));
    assertThat(ioas()).isEqualTo(a.id());
    ctx.destroy(ioas);
  }
}
