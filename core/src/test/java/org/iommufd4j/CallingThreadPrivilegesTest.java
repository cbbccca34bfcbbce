package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ThreadCredentials.CAP_IPC_LOCK;
import static org.iommufd4j.ThreadCredentials.CAP_SYS_RESOURCE;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicReference;
import org.iommufd4j.FrontDoor.BothDoors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;

/**
 * {@link Configuration#privilegesOfCallingThread()}: capabilities and RLIMIT_MEMLOCK are read when
 * the kernel reads them, for the thread that calls (ioas.c: iommufd_option_rlimit_mode(); pages.c:
 * do_update_pinned()), so a program that changes them between calls sees the kernel's results.
 * Pinned values ignore the process. The tests change this thread's capabilities and this process's
 * soft limit, and put them back.
 */
class CallingThreadPrivilegesTest extends MockDeviceFixture {
  private static final long KIB = 1024;

  private long savedSoftLimit;
  private boolean savedIpcLock;
  private boolean savedSysResource;

  @BeforeEach
  void save() {
    savedSoftLimit = ThreadCredentials.memlockSoft();
    savedIpcLock = ThreadCredentials.effective(CAP_IPC_LOCK);
    savedSysResource = ThreadCredentials.effective(CAP_SYS_RESOURCE);
  }

  @AfterEach
  void restore() {
    ThreadCredentials.setMemlockSoft(savedSoftLimit);
    if (ThreadCredentials.permitted(CAP_IPC_LOCK)) {
      ThreadCredentials.setEffective(CAP_IPC_LOCK, savedIpcLock);
    }
    if (ThreadCredentials.permitted(CAP_SYS_RESOURCE)) {
      ThreadCredentials.setEffective(CAP_SYS_RESOURCE, savedSysResource);
    }
  }

  private Door openLive(FrontDoor front) {
    return front.open(openPrivate(Configuration.builder().privilegesOfCallingThread(true)));
  }

  private int ioasWithMockDomain(Door door) {
    int ioas = door.createIoas();
    mockDomain(ioas);
    return ioas;
  }

  private MemorySegment buffer(long bytes) {
    return arena.allocate(bytes, 4096);
  }

  private long chargedPages() {
    return host().lockedPagesOfUser(emulated().caller().uid());
  }

  private static Errno errnoOf(Runnable call) {
    try {
      call.run();
      return null;
    } catch (IommufdException e) {
      return e.errno();
    }
  }

  @BothDoors
  void aLimitLoweredAndRaisedBetweenMapsCountsFromTheNextCharge(FrontDoor front) {
    if (ThreadCredentials.permitted(CAP_IPC_LOCK)) {
      ThreadCredentials.setEffective(CAP_IPC_LOCK, false); // else nothing is charged
    }
    Door door = openLive(front);
    int ioas = ioasWithMockDomain(door);
    long iova = BASE;
    ThreadCredentials.setMemlockSoft(64 * KIB); // 16 pages

    door.mapFixed(ioas, iova, buffer(48 * KIB).address(), 48 * KIB, Protection.READ_WRITE);
    iova += 1 << 20;
    long next = iova;
    assertThat(
            errnoOf(
                () ->
                    door.mapFixed(
                        ioas, next, buffer(32 * KIB).address(), 32 * KIB, Protection.READ_WRITE)))
        .isEqualTo(Errno.ENOMEM);
    ThreadCredentials.setMemlockSoft(1 << 20);
    door.mapFixed(ioas, iova, buffer(32 * KIB).address(), 32 * KIB, Protection.READ_WRITE);
    assertThat(chargedPages()).isEqualTo(20);

    ThreadCredentials.setMemlockSoft(16 * KIB); // below what is charged: only new pins fail
    assertThat(
            errnoOf(
                () ->
                    door.mapFixed(
                        ioas,
                        BASE + (4 << 20),
                        buffer(4 * KIB).address(),
                        4 * KIB,
                        Protection.READ)))
        .isEqualTo(Errno.ENOMEM);
    door.unmapAll(ioas);
    assertThat(chargedPages()).isZero();
    door.mapFixed(ioas, BASE, buffer(16 * KIB).address(), 16 * KIB, Protection.READ);
  }

  @BothDoors
  void capIpcLockIsReadWhenEachMapCreatesItsPages(FrontDoor front) {
    Assumptions.assumeTrue(ThreadCredentials.permitted(CAP_IPC_LOCK), "needs CAP_IPC_LOCK");
    Door door = openLive(front);
    int ioas = ioasWithMockDomain(door);
    ThreadCredentials.setMemlockSoft(64 * KIB);

    ThreadCredentials.setEffective(CAP_IPC_LOCK, true);
    door.mapFixed(ioas, BASE, buffer(1 << 20).address(), 1 << 20, Protection.READ);
    ThreadCredentials.setEffective(CAP_IPC_LOCK, false);
    assertThat(
            errnoOf(
                () ->
                    door.mapFixed(
                        ioas,
                        BASE + (1 << 20),
                        buffer(1 << 20).address(),
                        1 << 20,
                        Protection.READ)))
        .isEqualTo(Errno.ENOMEM);
    ThreadCredentials.setEffective(CAP_IPC_LOCK, true);
    door.mapFixed(ioas, BASE + (2 << 20), buffer(1 << 20).address(), 1 << 20, Protection.READ);
    assertThat(chargedPages()).isZero();
  }

  @BothDoors
  void capabilitiesArePerThread(FrontDoor front) throws InterruptedException {
    Assumptions.assumeTrue(ThreadCredentials.permitted(CAP_IPC_LOCK), "needs CAP_IPC_LOCK");
    Door door = openLive(front);
    int ioas = ioasWithMockDomain(door);
    ThreadCredentials.setMemlockSoft(64 * KIB);
    ThreadCredentials.setEffective(CAP_IPC_LOCK, true);
    long big = buffer(1 << 20).address();
    long small = buffer(32 * KIB).address();

    AtomicReference<Errno> other = new AtomicReference<>();
    // a platform thread: capabilities belong to the OS thread
    Thread t =
        Thread.ofPlatform()
            .start(
                () -> {
                  ThreadCredentials.setEffective(CAP_IPC_LOCK, false);
                  other.set(
                      errnoOf(() -> door.mapFixed(ioas, BASE, big, 1 << 20, Protection.READ)));
                  door.mapFixed(ioas, BASE + (1 << 20), small, 32 * KIB, Protection.READ);
                });
    t.join();
    assertThat(other.get()).as("the thread without CAP_IPC_LOCK").isEqualTo(Errno.ENOMEM);
    assertThat(chargedPages()).isEqualTo(8);
    door.mapFixed(ioas, BASE + (2 << 20), big, 1 << 20, Protection.READ);
    assertThat(chargedPages()).as("this thread still holds it").isEqualTo(8);
  }

  @BothDoors
  void rlimitModeSetReadsCapSysResourceAtTheCall(FrontDoor front) {
    Door door = openLive(front);
    boolean canRaise = ThreadCredentials.permitted(CAP_SYS_RESOURCE);
    if (canRaise) {
      ThreadCredentials.setEffective(CAP_SYS_RESOURCE, false);
    }
    assertThat(errnoOf(() -> door.setRlimitMode(RlimitMode.PROCESS))).isEqualTo(Errno.EPERM);
    if (canRaise) {
      ThreadCredentials.setEffective(CAP_SYS_RESOURCE, true);
      door.setRlimitMode(RlimitMode.PROCESS);
      assertThat(door.rlimitMode()).isEqualTo(RlimitMode.PROCESS);
    }
  }

  @BothDoors
  void pinnedValuesIgnoreTheThreadAndTheProcess(FrontDoor front) {
    ThreadCredentials.setMemlockSoft(4 * KIB);
    if (ThreadCredentials.permitted(CAP_IPC_LOCK)) {
      ThreadCredentials.setEffective(CAP_IPC_LOCK, false);
    }
    Door door =
        front.open(
            openPrivate(
                Configuration.builder()
                    .capIpcLock(true)
                    .capSysResource(true)
                    .memlockLimit(4 * KIB)));
    int ioas = ioasWithMockDomain(door);
    door.mapFixed(ioas, BASE, buffer(1 << 20).address(), 1 << 20, Protection.READ);
    assertThat(chargedPages()).isZero();
  }
}
