package org.iommufd4j;

import static org.assertj.core.api.Assertions.assertThat;
import static org.iommufd4j.ErrnoAssertions.assertErrno;
import static org.iommufd4j.ErrnoAssertions.assertOk;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_CLEAR;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_GET;
import static org.iommufd4j.uapi.IommuVfioIoas.IOMMU_VFIO_IOAS_SET;

import org.iommufd4j.uapi.Command;
import org.iommufd4j.uapi.IommuVfioIoas;
import org.iommufd4j.uapi.Struct;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code IOMMU_VFIO_IOAS} (vfio_compat.c: iommufd_vfio_ioas()): selecting the IOAS of the VFIO
 * compatibility commands. The typed API has no counterpart, so every scenario uses the byte ABI;
 * the IOASes involved are created and destroyed through the typed API where that is the natural
 * way.
 */
class VfioIoasTest extends ConformanceTest {
  private static final int POISON = 0x5a5a_5a5a;

  private Struct vfioIoas(int op, int ioasId) {
    return struct(Command.IOMMU_VFIO_IOAS)
        .u32(IommuVfioIoas.IOAS_ID, ioasId)
        .u16(IommuVfioIoas.OP, op);
  }

  /** GET: the compat IOAS id, or the negated errno. */
  private int get(Iommufd iommufd) {
    Struct s = vfioIoas(IOMMU_VFIO_IOAS_GET, POISON);
    int rc = s.ioctl(iommufd);
    return rc == 0 ? s.u32(IommuVfioIoas.IOAS_ID) : rc;
  }

  @Test
  void getWithoutACompatIoasFailsWithEnodevAndWritesNothing() {
    Iommufd iommufd = open();
    iommufd.createIoas();
    Struct s = vfioIoas(IOMMU_VFIO_IOAS_GET, POISON);

    assertErrno(s.ioctl(iommufd), Errno.ENODEV);
    assertThat(s.u32(IommuVfioIoas.IOAS_ID)).isEqualTo(POISON);
  }

  @Test
  void setThenGetReturnsTheIoas() {
    Iommufd iommufd = open();
    iommufd.createIoas();
    Ioas second = iommufd.createIoas();

    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, second.id()).ioctl(iommufd));

    Struct s = vfioIoas(IOMMU_VFIO_IOAS_GET, POISON);
    assertOk(s.ioctl(iommufd));
    assertThat(s.u32(IommuVfioIoas.IOAS_ID)).isEqualTo(second.id());
    assertThat(s.u16(IommuVfioIoas.OP)).isEqualTo(IOMMU_VFIO_IOAS_GET);
  }

  @Test
  void setReplacesTheEarlierChoice() {
    Iommufd iommufd = open();
    Ioas first = iommufd.createIoas();
    Ioas second = iommufd.createIoas();
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, first.id()).ioctl(iommufd));

    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, second.id()).ioctl(iommufd));

    assertThat(get(iommufd)).isEqualTo(second.id());
  }

  @Test
  void setOfAMissingIoasFailsWithEnoentAndKeepsTheOldChoice() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, ioas.id()).ioctl(iommufd));

    for (int id : new int[] {0, 99, -1}) {
      assertErrno(vfioIoas(IOMMU_VFIO_IOAS_SET, id).ioctl(iommufd), Errno.ENOENT);
    }
    assertThat(get(iommufd)).isEqualTo(ioas.id());
  }

  @Test
  void setWritesNothingBack() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    Struct s = vfioIoas(IOMMU_VFIO_IOAS_SET, ioas.id());
    byte[] before = s.bytes();

    assertOk(s.ioctl(iommufd));
    assertThat(s.bytes()).isEqualTo(before);
  }

  @Test
  void clearForgetsTheIoasWithoutDestroyingIt() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, ioas.id()).ioctl(iommufd));

    assertOk(vfioIoas(IOMMU_VFIO_IOAS_CLEAR, POISON).ioctl(iommufd));

    assertErrno(get(iommufd), Errno.ENODEV);
    assertThat(objectCount(iommufd)).isEqualTo(1);
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_CLEAR, 0).ioctl(iommufd));
  }

  @Test
  void destroyingTheCompatIoasClearsIt() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, ioas.id()).ioctl(iommufd));

    iommufd.destroy(ioas.id());

    assertErrno(get(iommufd), Errno.ENODEV);
    Ioas reused = iommufd.createIoas();
    assertThat(reused.id()).isEqualTo(ioas.id());
    assertErrno(get(iommufd), Errno.ENODEV);
  }

  @Test
  void destroyingAnotherIoasKeepsTheChoice() {
    Iommufd iommufd = open();
    Ioas compat = iommufd.createIoas();
    Ioas other = iommufd.createIoas();
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, compat.id()).ioctl(iommufd));

    other.close();

    assertThat(get(iommufd)).isEqualTo(compat.id());
  }

  @ParameterizedTest(name = "op={0}")
  @ValueSource(ints = {IOMMU_VFIO_IOAS_GET, IOMMU_VFIO_IOAS_SET, IOMMU_VFIO_IOAS_CLEAR, 3})
  void nonZeroReservedFieldFailsWithEopnotsupp(int op) {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();

    Struct s = vfioIoas(op, ioas.id()).u16(IommuVfioIoas.RESERVED, 1);
    assertErrno(s.ioctl(iommufd), Errno.EOPNOTSUPP);
    assertErrno(get(iommufd), Errno.ENODEV);
  }

  @ParameterizedTest(name = "op={0}")
  @ValueSource(ints = {3, 0xffff})
  void unknownOpFailsWithEopnotsupp(int op) {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();

    assertErrno(vfioIoas(op, ioas.id()).ioctl(iommufd), Errno.EOPNOTSUPP);
  }

  @Test
  void getRespondFaultFailsWithEfault() {
    Iommufd iommufd = open();
    Ioas ioas = iommufd.createIoas();
    assertOk(vfioIoas(IOMMU_VFIO_IOAS_SET, ioas.id()).ioctl(iommufd));
    try (NativePages pages = NativePages.map(2)) {
      long at = pages.page(1) - 8;
      Struct.over(NativePages.segment(at, 12), Command.IOMMU_VFIO_IOAS)
          .u16(IommuVfioIoas.OP, IOMMU_VFIO_IOAS_GET);
      pages.protect(1, NativePages.PROT_READ); // op and __reserved become read-only

      assertErrno(
          iommufd.ioctl(Command.IOMMU_VFIO_IOAS.request(), NativePages.segment(at, 8)),
          Errno.EFAULT);
    }
  }
}
