package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertFails;

import java.lang.foreign.MemorySegment;
import java.util.List;
import org.iommufd4j.FrontDoor.BothDoors;
import org.iommufd4j.uapi.Command;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The last {@code close()} of the file (main.c: iommufd_fops_release()): every object goes, the
 * context is unusable, and typed handles behave like stale file descriptors.
 */
class CloseTest extends ConformanceTest {

  @BothDoors
  void closeDestroysEveryObjectAndMapping(FrontDoor front) {
    Door door = open(front);
    for (int i = 0; i < 3; i++) {
      int ioas = door.createIoas();
      door.mapFixed(ioas, 0x10000, USER_VA, 0x4000, Protection.READ_WRITE);
      door.map(ioas, USER_VA, 0x1000, Protection.READ);
    }
    door.destroy(2);

    door.iommufd().close();

    assertThat(objectCount(door.iommufd())).isZero();
  }

  @ParameterizedTest
  @EnumSource(Command.class)
  void everyIoctlAfterCloseFailsWithEbadf(Command command) {
    Iommufd iommufd = open();
    new RawDoor(iommufd).createIoas();
    iommufd.close();

    assertErrno(struct(command).ioctl(iommufd), Errno.EBADF);
    assertErrno(iommufd.ioctl(command.request(), MemorySegment.NULL), Errno.EBADF);
    assertErrno(iommufd.ioctl(0x3b7f, MemorySegment.NULL), Errno.EBADF);
  }

  @BothDoors
  void everyCallAfterCloseFailsWithEbadf(FrontDoor front) {
    Door door = open(front);
    int ioas = door.createIoas();
    door.mapFixed(ioas, 0x10000, USER_VA, 0x1000, Protection.READ);
    door.iommufd().close();

    assertFails(Errno.EBADF, door::createIoas);
    assertFails(Errno.EBADF, () -> door.destroy(ioas));
    assertFails(Errno.EBADF, () -> door.map(ioas, USER_VA, 0x1000, Protection.READ));
    assertFails(Errno.EBADF, () -> door.mapFixed(ioas, 0x20000, USER_VA, 0x1000, Protection.READ));
    assertFails(Errno.EBADF, () -> door.copy(ioas, ioas, 0x10000, 0x1000, Protection.READ));
    assertFails(
        Errno.EBADF, () -> door.copyFixed(ioas, 0x30000, ioas, 0x10000, 0x1000, Protection.READ));
    assertFails(Errno.EBADF, () -> door.unmap(ioas, 0x10000, 0x1000));
    assertFails(Errno.EBADF, () -> door.unmapAll(ioas));
    assertFails(Errno.EBADF, () -> door.iovaRanges(ioas));
    assertFails(Errno.EBADF, () -> door.allowIovas(ioas, List.of()));
    assertFails(Errno.EBADF, () -> door.hugePages(ioas));
    assertFails(Errno.EBADF, () -> door.setHugePages(ioas, false));
    assertFails(Errno.EBADF, door::rlimitMode);
    assertFails(Errno.EBADF, () -> door.setRlimitMode(RlimitMode.USER));
  }

  @Test
  void typedHandleLookupAfterCloseFailsWithEbadf() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    iommufd.close();

    assertFails(Errno.EBADF, () -> iommufd.ioas(ioas.id()));
  }

  @Test
  void closeIsIdempotentAndClosingHandlesAfterwardsDoesNothing() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    iommufd.close();

    assertThatCode(
            () -> {
              iommufd.close();
              ioas.close();
            })
        .doesNotThrowAnyException();
    assertThat(objectCount(iommufd)).isZero();
  }

  @Test
  void closingAHandleDestroysItsIoas() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    Ioas other = iommufd.createIoas();

    ioas.close();
    ioas.close();

    assertThat(objectCount(iommufd)).isEqualTo(1);
    assertFails(Errno.ENOENT, () -> iommufd.ioas(ioas.id()));
    assertThat(other.iovaRanges().alignment()).isEqualTo(1);
  }

  @Test
  void closingAStaleHandleDoesNotDestroyTheObjectThatReusedItsId() {
    Iommufd iommufd = open();
    Ioas stale = iommufd.createIoas();
    iommufd.destroy(stale.id());
    Ioas reused = iommufd.createIoas();
    assertThat(reused.id()).isEqualTo(stale.id());

    stale.close();

    assertThat(objectCount(iommufd)).isEqualTo(1);
    assertThat(iommufd.ioas(reused.id())).isEqualTo(reused);
    assertThat(reused.iovaRanges().ranges()).hasSize(1);
  }

  @Test
  void closingOneContextLeavesAnotherAlone() {
    Iommufd first = open();
    Iommufd second = open();
    Ioas kept = second.createIoas();
    kept.mapFixed(0x10000, USER_VA, 0x1000, Protection.READ);
    first.createIoas();

    first.close();

    assertThat(kept.unmap(0x10000, 0x1000)).isEqualTo(0x1000);
  }
}
