package org.iommufd4j.kernel;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.iommufd4j.Errno;
import org.junit.jupiter.api.Test;

class LibCTest {
  private static final int EBADF = Errno.EBADF.number();
  private static final int ENOENT = Errno.ENOENT.number();
  private static final int EINVAL = Errno.EINVAL.number();

  @Test
  void getpidIsThisProcess() {
    assertThat((long) LibC.getpid()).isEqualTo(ProcessHandle.current().pid());
  }

  @Test
  void pageSizeIsAPowerOfTwoOfAtLeast4KiB() {
    assertThat(LibC.PAGE_SIZE).isGreaterThanOrEqualTo(4096);
    assertThat(Long.bitCount(LibC.PAGE_SIZE)).isEqualTo(1);
  }

  @Test
  void failedCallsReturnMinusErrno() {
    assertThat(LibC.close(-1)).isEqualTo(-EBADF);
    assertThat(LibC.open("/nonexistent/iommufd4j", LibC.O_RDONLY, 0)).isEqualTo(-ENOENT);
    assertThat(LibC.madvise(1, 4096, LibC.MADV_POPULATE_READ)).isEqualTo(-EINVAL);
    assertThat(LibC.mmap(0, 0, LibC.PROT_READ, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS, -1, 0))
        .isEqualTo(-EINVAL);
  }

  @Test
  void openIoctlCloseRoundTrip() {
    int fd = LibC.open("/dev/null", LibC.O_RDONLY | LibC.O_CLOEXEC, 0);
    assertThat(fd).isGreaterThanOrEqualTo(0);
    try (Arena arena = Arena.ofConfined()) {
      // IOMMU_IOAS_ALLOC on /dev/null: ENOTTY proves the call reached a driver.
      assertThat(LibC.ioctl(fd, 0x3b81, arena.allocate(16))).isEqualTo(-Errno.ENOTTY.number());
    }
    assertThat(LibC.close(fd)).isZero();
    assertThat(LibC.close(fd)).isEqualTo(-EBADF);
  }

  @Test
  void errnoIsCapturedPerThread() throws Exception {
    // Each thread expects its own errno; a shared capture segment would let them see each other's.
    List<Callable<Integer>> tasks = new ArrayList<>();
    tasks.add(() -> repeat(() -> LibC.close(-1), -EBADF));
    tasks.add(() -> repeat(() -> LibC.open("/nonexistent/iommufd4j", 0, 0), -ENOENT));
    tasks.add(() -> repeat(() -> LibC.madvise(1, 1, LibC.MADV_POPULATE_READ), -EINVAL));
    try (ExecutorService pool = Executors.newFixedThreadPool(tasks.size())) {
      for (Future<Integer> f : pool.invokeAll(tasks)) {
        assertThat(f.get()).as("mismatches").isZero();
      }
    }
  }

  private static int repeat(Callable<Integer> call, int expected) throws Exception {
    int mismatches = 0;
    for (int i = 0; i < 20_000; i++) {
      if (call.call() != expected) {
        mismatches++;
      }
    }
    return mismatches;
  }

  @Test
  void mmapMprotectMunmapRoundTrip() {
    long a = LibC.mmap(0, 4096, LibC.PROT_READ | LibC.PROT_WRITE, anonymous(), -1, 0);
    assertThat(a).isPositive();
    assertThat(a % 4096).isZero();
    assertThat(LibC.mprotect(a, 4096, LibC.PROT_READ)).isZero();
    assertThat(LibC.madvise(a, 4096, LibC.MADV_POPULATE_WRITE)).isNegative();
    assertThat(LibC.madvise(a, 4096, LibC.MADV_POPULATE_READ)).isZero();
    assertThat(LibC.munmap(a, 4096)).isZero();
    assertThat(LibC.madvise(a, 4096, LibC.MADV_POPULATE_READ)).isEqualTo(-Errno.ENOMEM.number());
  }

  @Test
  void processVmReadvCopiesFromThisProcess() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment src = arena.allocate(16);
      src.set(JAVA_LONG, 8, 0x1122_3344_5566_7788L);
      MemorySegment dst = arena.allocate(32);
      assertThat(LibC.processVmReadv(LibC.getpid(), dst, 16, 16, src.address())).isEqualTo(16);
      assertThat(dst.get(JAVA_LONG, 24)).isEqualTo(0x1122_3344_5566_7788L);
      assertThat(LibC.processVmWritev(LibC.getpid(), dst, 0, 8, src.address())).isEqualTo(8);
      assertThat(src.get(JAVA_LONG, 0)).isZero();
    }
  }

  @Test
  void processVmReadvReportsFaultsAndMissingProcesses() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment dst = arena.allocate(8);
      assertThat(LibC.processVmReadv(LibC.getpid(), dst, 0, 8, 0))
          .isEqualTo(-Errno.EFAULT.number());
      assertThat(LibC.processVmReadv(Integer.MAX_VALUE, dst, 0, 8, dst.address()))
          .isEqualTo(-Errno.ESRCH.number());
    }
  }

  @Test
  void processVmReadvRejectsSegmentsItCannotSafelyFill() {
    int pid = LibC.getpid();
    MemorySegment heap = MemorySegment.ofArray(new byte[8]);
    assertThatThrownBy(() -> LibC.processVmReadv(pid, heap, 0, 8, 0))
        .isInstanceOf(IllegalArgumentException.class);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment s = arena.allocate(8);
      assertThatThrownBy(() -> LibC.processVmReadv(pid, s.asReadOnly(), 0, 8, s.address()))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> LibC.processVmReadv(pid, s, 4, 8, s.address()))
          .isInstanceOf(IndexOutOfBoundsException.class);
    }
  }

  @Test
  void processVmReadvChecksTheLocalSegmentIsAliveAndOurs() throws Exception {
    int pid = LibC.getpid();
    Arena closed = Arena.ofConfined();
    MemorySegment dead = closed.allocate(8);
    closed.close();
    assertThatThrownBy(() -> LibC.processVmReadv(pid, dead, 0, 8, 0))
        .isInstanceOf(IllegalStateException.class);
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment confined = arena.allocate(8);
      Throwable[] thrown = new Throwable[1];
      Thread other =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try {
                      LibC.processVmReadv(pid, confined, 0, 8, confined.address());
                    } catch (Throwable t) {
                      thrown[0] = t;
                    }
                  });
      other.join();
      assertThat(thrown[0]).isInstanceOf(WrongThreadException.class);
    }
  }

  @Test
  void copyFromUserAndToUserCopyWithinThisProcess() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment user = arena.allocate(16);
      user.set(JAVA_LONG, 8, 0x1122_3344_5566_7788L);
      MemorySegment kernel = arena.allocate(32);
      assertThat(LibC.copyFromUser(kernel, 16, user, 8, 8)).isEqualTo(8);
      assertThat(kernel.get(JAVA_LONG, 16)).isEqualTo(0x1122_3344_5566_7788L);
      kernel.set(JAVA_LONG, 0, 42);
      assertThat(LibC.copyToUser(user, 0, kernel, 0, 8)).isEqualTo(8);
      assertThat(user.get(JAVA_LONG, 0)).isEqualTo(42);
    }
  }

  @Test
  void copyFromUserAndToUserStopAtTheFirstByteTheyCannotReach() {
    long pages =
        LibC.mmap(0, 2 * LibC.PAGE_SIZE, LibC.PROT_READ | LibC.PROT_WRITE, anonymous(), -1, 0);
    assertThat(pages).isPositive();
    try (Arena arena = Arena.ofConfined()) {
      // 16 bytes: 8 at the end of a read-write page, 8 at the start of the page after it
      MemorySegment user = MemorySegment.ofAddress(pages + LibC.PAGE_SIZE - 8).reinterpret(16);
      MemorySegment kernel = arena.allocate(16);
      assertThat(LibC.mprotect(pages + LibC.PAGE_SIZE, LibC.PAGE_SIZE, LibC.PROT_READ)).isZero();
      assertThat(LibC.copyFromUser(kernel, 0, user, 0, 16)).isEqualTo(16);
      assertThat(LibC.copyToUser(user, 0, kernel, 0, 16)).isEqualTo(8);
      assertThat(LibC.copyToUser(user, 8, kernel, 0, 8)).isEqualTo(-Errno.EFAULT.number());
      assertThat(LibC.mprotect(pages + LibC.PAGE_SIZE, LibC.PAGE_SIZE, LibC.PROT_NONE)).isZero();
      assertThat(LibC.copyFromUser(kernel, 0, user, 0, 16)).isEqualTo(8);
      assertThat(LibC.munmap(pages + LibC.PAGE_SIZE, LibC.PAGE_SIZE)).isZero();
      assertThat(LibC.copyFromUser(kernel, 0, user, 8, 8)).isEqualTo(-Errno.EFAULT.number());
      assertThat(LibC.copyToUser(user, 8, kernel, 0, 8)).isEqualTo(-Errno.EFAULT.number());
    } finally {
      LibC.munmap(pages, LibC.PAGE_SIZE);
    }
  }

  @Test
  void copyFromUserAndToUserCheckBothSegmentsAreAliveAndOurs() throws Exception {
    Arena closed = Arena.ofConfined();
    MemorySegment dead = closed.allocate(8);
    closed.close();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment live = arena.allocate(8);
      assertThatThrownBy(() -> LibC.copyFromUser(live, 0, dead, 0, 8))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> LibC.copyToUser(dead, 0, live, 0, 8))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> LibC.copyToUser(live, 0, dead, 0, 8))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> LibC.copyToUser(live.asReadOnly(), 0, live, 0, 8))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> LibC.copyFromUser(MemorySegment.ofArray(new byte[8]), 0, live, 0, 8))
          .isInstanceOf(IllegalArgumentException.class);
      Throwable[] thrown = new Throwable[1];
      Thread other =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try (Arena mine = Arena.ofConfined()) {
                      LibC.copyFromUser(mine.allocate(8), 0, live, 0, 8);
                    } catch (Throwable t) {
                      thrown[0] = t;
                    }
                  });
      other.join();
      assertThat(thrown[0]).isInstanceOf(WrongThreadException.class);
    }
  }

  private static int anonymous() {
    return LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS;
  }
}
