package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.uapi.IommuTestCmd.MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;

import java.lang.foreign.MemorySegment;
import org.iommufd4j.engine.Context;
import org.iommufd4j.engine.Host;
import org.iommufd4j.uapi.IommuTestCmd;
import org.junit.jupiter.api.Test;

/**
 * An access holds the context's file (main.c: iommufd_fops_release()): {@code close()} of the
 * iommufd with an access fd still open tears nothing down until that fd is closed too; then every
 * object, pin and charge is gone.
 */
class AccessCloseTest extends ConformanceTest {
  private static final long BASE = IommuTestCmd.MOCK_APERTURE_START;
  private static final int PIN = MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES;

  private final Iommufd iommufd = open(Configuration.builder().privateHost(true).build());
  private final SelftestCalls t = new SelftestCalls(iommufd, arena);
  private final Context context = ((EmulatedIommufd) iommufd).context();
  private final Host host = context.host();
  private final int uid = ((EmulatedIommufd) iommufd).caller().uid();
  private final MemorySegment buffer = arena.allocate(8 * PAGE, PAGE);

  @Test
  void closingTheIommufdWithAnAccessFdOpenKeepsEverythingUntilTheFdIsClosed() {
    int ioas = t.ioasAlloc();
    int fd = t.createAccessOk(ioas, PIN);
    assertOk(t.map(ioas, 0x100000, buffer.address(), 8 * PAGE, SelftestCalls.RW));
    t.accessPagesOk(fd, 0, 0x100000, 8 * PAGE, buffer.address());

    iommufd.close();

    assertErrno(t.destroy(ioas), Errno.EBADF);
    assertThat(context.isTornDown()).isFalse();
    assertThat(objectCount(iommufd)).as("the IOAS and the access").isEqualTo(2);
    assertThat(host.totalPins()).isEqualTo(8);
    assertThat(host.lockedPagesOfUser(uid)).isEqualTo(8);

    assertThat(iommufd.closeFd(fd)).isZero();

    assertThat(context.isTornDown()).isTrue();
    assertThat(objectCount(iommufd)).isZero();
    assertThat(host.totalPins()).isZero();
    assertThat(host.lockedPagesOfUser(uid)).isZero();
  }

  @Test
  void theContextGoesWithTheLastOfSeveralAccessFdsInAnyOrder() {
    int ioas = t.ioasAlloc();
    int first = t.createAccessOk(ioas, PIN);
    int second = t.createAccessOk(ioas, 0);
    iommufd.close();

    assertThat(iommufd.closeFd(first)).isZero();
    assertThat(context.isTornDown()).isFalse();
    assertThat(objectCount(iommufd)).isEqualTo(2);
    assertThat(iommufd.closeFd(second)).isZero();

    assertThat(context.isTornDown()).isTrue();
    assertThat(objectCount(iommufd)).isZero();
  }

  @Test
  void accessFdsClosedFirstLeaveTheIommufdCloseToTearDown() {
    int ioas = t.ioasAlloc();
    int fd = t.createAccessOk(ioas, PIN);
    assertThat(iommufd.closeFd(fd)).isZero();
    assertThat(context.isTornDown()).isFalse();

    iommufd.close();

    assertThat(context.isTornDown()).isTrue();
  }

  @Test
  void mockDevicesDoNotKeepTheContextAliveButAnAccessDoes() {
    int ioas = t.ioasAlloc();
    t.mockDomainOk(ioas);
    assertOk(t.map(ioas, BASE, buffer.address(), 8 * PAGE, SelftestCalls.RW));
    int fd = t.createAccessOk(ioas, PIN);
    t.accessPagesOk(fd, 0, BASE, 2 * PAGE, buffer.address());
    assertThat(host.totalPins()).isEqualTo(8);

    iommufd.close();
    assertThat(objectCount(iommufd)).as("IOAS, stdev, idev, hwpt, access").isEqualTo(5);
    assertThat(host.totalPins()).isEqualTo(8);
    iommufd.closeFd(fd);

    assertThat(objectCount(iommufd)).isZero();
    assertThat(host.totalPins()).isZero();
    assertThat(host.lockedPagesOfUser(uid)).isZero();
  }

  @Test
  void accessFdOfAClosedContextCannotBeUsedButCanStillBeClosed() {
    int ioas = t.ioasAlloc();
    int fd = t.createAccessOk(ioas, 0);
    iommufd.close();

    assertErrno(t.accessRw(fd, 0, 1, buffer.address(), 0), Errno.EBADF);
    assertThat(iommufd.closeFd(fd)).isZero();
    assertThat(iommufd.closeFd(fd)).isEqualTo(-Errno.EBADF.number());
  }
}
